"""The ledger as a pandas DataFrame: one row per job, newest first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..models import Job, JobStatus

JOB_COLUMNS = [
    "provider", "id", "kind", "status", "progress", "prompt", "created_at", "updated_at",
    "completed_at", "elapsed_s", "output_path", "output_url", "cost", "error_code", "error_message",
]  # fmt: skip


def jobs_frame(jobs: Iterable[Job]) -> pd.DataFrame:
    """Typed columns: datetimes in UTC, status as a category, numbers as numbers."""
    records = [_record(job) for job in jobs]
    df = pd.DataFrame.from_records(records, columns=JOB_COLUMNS)
    for col in ("created_at", "updated_at", "completed_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    df["status"] = pd.Categorical(df["status"], categories=[s.value for s in JobStatus])
    for col in ("progress", "elapsed_s", "cost"):
        df[col] = pd.to_numeric(df[col])
    return df


def _record(job: Job) -> dict[str, Any]:
    main = job.output()
    err = job.error or {}
    return {
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
        "error_code": err.get("code"),
        "error_message": err.get("message"),
    }
