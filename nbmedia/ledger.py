"""The job ledger: one SQLite file beside the notebooks, written before every submit.

A kernel restart, a crash or a second kernel on the same folder loses nothing: every job the
user paid for is here with its request, its provider id, its outputs and its last known state.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from .models import Job, JobStatus, Output

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    local_id     TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    id           TEXT,
    status       TEXT NOT NULL,
    submitted    INTEGER NOT NULL DEFAULT 0,
    progress     REAL,
    prompt       TEXT,
    request      TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    completed_at TEXT,
    outputs      TEXT NOT NULL DEFAULT '[]',
    error_code   TEXT,
    error_message TEXT,
    cost         REAL,
    raw          TEXT,
    extra        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_remote ON jobs (provider, id);
"""


def _ts(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat() if value else None


def _parse_ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


class Ledger:
    """Every job, by local id; safe to open from several kernels at once (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self._db.row_factory = sqlite3.Row
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)

    def __repr__(self) -> str:
        return f"<Ledger {self.path}>"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @staticmethod
    def new_local_id() -> str:
        return "nbm_" + uuid.uuid4().hex[:16]

    def record(self, job: Job, *, submitted: bool | None = None) -> None:
        """Inserts or updates the job's row (the request never holds a key)."""
        if not job.local_id:
            job.local_id = self.new_local_id()
        err = job.error or {}
        row = {
            "local_id": job.local_id,
            "provider": job.provider,
            "kind": job.kind,
            "id": job.id,
            "status": job.status.value,
            "progress": job.progress,
            "prompt": job.prompt,
            "request": json.dumps(job.request, default=str),
            "created_at": _ts(job.created_at),
            "updated_at": _ts(job.updated_at),
            "completed_at": _ts(job.completed_at),
            "outputs": json.dumps([o.to_dict() for o in job.outputs]),
            "error_code": err.get("code"),
            "error_message": err.get("message"),
            "cost": job.cost,
            "raw": json.dumps(job.raw, default=str) if job.raw is not None else None,
        }
        cols = ", ".join(row)
        marks = ", ".join(f":{c}" for c in row)
        updates = ", ".join(f"{c}=excluded.{c}" for c in row if c != "local_id")
        if submitted is not None:
            row["submitted"] = int(submitted)
            cols += ", submitted"
            marks += ", :submitted"
            updates += ", submitted=excluded.submitted"
        with self._lock, self._db:
            self._db.execute(
                f"INSERT INTO jobs ({cols}) VALUES ({marks}) "
                f"ON CONFLICT(local_id) DO UPDATE SET {updates}",
                row,
            )

    def set_extra(self, local_id: str, **values: Any) -> None:
        """Stores small per-job facts that are not part of the Job (ratings, links)."""
        with self._lock, self._db:
            cur = self._db.execute("SELECT extra FROM jobs WHERE local_id=?", (local_id,))
            found = cur.fetchone()
            if found is None:
                raise KeyError(local_id)
            extra = json.loads(found["extra"])
            extra.update(values)
            self._db.execute(
                "UPDATE jobs SET extra=? WHERE local_id=?", (json.dumps(extra), local_id)
            )

    def extra(self, local_id: str) -> dict[str, Any]:
        with self._lock:
            found = self._db.execute(
                "SELECT extra FROM jobs WHERE local_id=?", (local_id,)
            ).fetchone()
        return json.loads(found["extra"]) if found else {}

    def rows(self) -> list[sqlite3.Row]:
        """All rows, newest first."""
        with self._lock:
            return list(self._db.execute("SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC"))

    def get(self, local_id: str) -> Job | None:
        with self._lock:
            found = self._db.execute("SELECT * FROM jobs WHERE local_id=?", (local_id,)).fetchone()
        return self.to_job(found) if found else None

    def unfinished(self) -> list[tuple[Job, bool]]:
        """Jobs not yet in a terminal state, with whether their create was confirmed."""
        terminal = tuple(s.value for s in JobStatus if s.terminal)
        marks = ",".join("?" * len(terminal))
        with self._lock:
            found = list(
                self._db.execute(f"SELECT * FROM jobs WHERE status NOT IN ({marks})", terminal)
            )
        return [(self.to_job(r), bool(r["submitted"])) for r in found]

    @staticmethod
    def to_job(row: sqlite3.Row) -> Job:
        err = None
        if row["error_code"] or row["error_message"]:
            err = {"code": row["error_code"], "message": row["error_message"]}
        return Job(
            provider=row["provider"],
            kind=row["kind"],
            id=row["id"],
            status=JobStatus(row["status"]),
            progress=row["progress"],
            prompt=row["prompt"],
            created_at=_parse_ts(row["created_at"]) or dt.datetime.now(dt.timezone.utc),
            updated_at=_parse_ts(row["updated_at"]) or dt.datetime.now(dt.timezone.utc),
            completed_at=_parse_ts(row["completed_at"]),
            outputs=[Output.from_dict(d) for d in json.loads(row["outputs"])],
            error=err,
            cost=row["cost"],
            raw=json.loads(row["raw"]) if row["raw"] else None,
            request=json.loads(row["request"]),
            local_id=row["local_id"],
        )
