"""The ledger as a pandas DataFrame: one row per job, newest first.

A big ledger is read as one query of plain columns (the main output's path and link have
columns of their own), never parsing a job's request, outputs or payload: a 100k-job table
costs about what `pandas.read_sql` of those columns costs. Jobs in hand (`jobs_frame`, a live
job's `job_record`) give the same columns with the same types.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..engine.ledger import NOTEBOOK, TABLE_COLUMNS, Ledger
from ..models import Job, JobStatus

JOB_COLUMNS = [
    "provider", "id", "kind", "status", "progress", "prompt", "created_at", "updated_at",
    "completed_at", "elapsed_s", "output_path", "output_url", "cost", "cost_unit", "error_code",
    "error_message",
]  # fmt: skip
TERMINAL = [s.value for s in JobStatus if s.terminal]
TIMES = ("created_at", "updated_at", "completed_at")
MICROSECONDS = "datetime64[us, UTC]"


def ledger_frame(
    ledger: Ledger, filters: dict[str, str] | None = None, offset: int = 0, limit: int | None = None
) -> pd.DataFrame:
    """Ledger rows matching `filters`, newest first, with `local_id` first (the key a page of
    the job table follows its rows by)."""
    rows = ledger.table(filters, offset, limit)
    return _typed(pd.DataFrame.from_records(rows, columns=list(TABLE_COLUMNS)), parsed=False)


def jobs_table(ledger: Ledger, notebook: str | None = None) -> pd.DataFrame:
    """Every job in the ledger in JOB_COLUMNS and the notebook that made it, newest first
    (what `studio.jobs()` shows); only notebook `notebook`'s jobs if given."""
    columns = (*TABLE_COLUMNS[1:], NOTEBOOK)  # not local_id
    rows = ledger.table(None if notebook is None else {NOTEBOOK: notebook}, columns=columns)
    return _typed(pd.DataFrame.from_records(rows, columns=list(columns)), parsed=False)


def jobs_frame(jobs: Iterable[Job]) -> pd.DataFrame:
    """These jobs in JOB_COLUMNS, in the order given."""
    records = [job_record(job) for job in jobs]
    df = pd.DataFrame.from_records(records, columns=[c for c in JOB_COLUMNS if c != "elapsed_s"])
    return _typed(df, parsed=True)


def job_record(job: Job) -> dict[str, Any]:
    """One job's row of the table (with its local id), from the job itself: how a live job's
    row is redrawn without reading the ledger."""
    main = job.output()
    err = job.error or {}
    return {
        "local_id": job.local_id,
        "provider": job.provider,
        "id": job.id,
        "kind": job.kind,
        "status": job.status.value,
        "progress": job.progress,
        "prompt": job.prompt,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "completed_at": job.completed_at,
        "elapsed_s": job.elapsed_s,
        "output_path": str(main.path) if main and main.path else None,
        "output_url": main.url if main else None,
        "cost": job.cost,
        "cost_unit": job.cost_unit,
        "error_code": err.get("code"),
        "error_message": err.get("message"),
    }


def _typed(df: pd.DataFrame, *, parsed: bool) -> pd.DataFrame:
    """Datetimes in UTC, status as a category, numbers as numbers, and `elapsed_s` (as
    `Job.elapsed_s` counts it) after `completed_at`. `parsed`: the times are datetimes already
    (else the ledger's ISO strings)."""
    for col in TIMES:
        df[col] = pd.to_datetime(df[col], utc=True, format=None if parsed else "ISO8601")
    df["status"] = pd.Categorical(df["status"], categories=[s.value for s in JobStatus])
    for col in ("progress", "cost"):
        df[col] = pd.to_numeric(df[col])
    created, updated, completed = (df[c].astype(MICROSECONDS) for c in TIMES)  # one unit
    ended = updated.where(df["status"].isin(TERMINAL))
    end = completed.fillna(ended).fillna(pd.Timestamp.now(tz="UTC").as_unit("us"))
    elapsed = (end - created).dt.total_seconds().clip(lower=0.0)
    df.insert(df.columns.get_loc("completed_at") + 1, "elapsed_s", elapsed.astype(float))
    return df


class LedgerPages:
    """The job table widget's rows read from the ledger a page at a time (by index), and a
    live job's row made from the job."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def page(self, filters: dict[str, str], offset: int, limit: int) -> pd.DataFrame:
        return ledger_frame(self.ledger, filters, offset, limit)

    def count(self, filters: dict[str, str]) -> int:
        return self.ledger.count(filters)

    def values(self, column: str) -> list[str]:
        return self.ledger.values(column)

    def row(self, job: Job) -> dict[str, Any]:
        return job_record(job)
