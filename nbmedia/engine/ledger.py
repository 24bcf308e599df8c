"""The job ledger: one SQLite file beside the notebooks, written before every submit.

A kernel restart, a crash or a second kernel on the same folder loses nothing: every job the
user paid for is here with its request, its provider id, its outputs, its last known state and
its lifecycle phase (so a new Studio knows what is left to do). A lease (owner, heartbeat) makes
one process at a time the follower of a job. Only the engine writes here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import constants as C
from ..models import Job, JobStatus, Output
from .checkpointer import WAL_LIMIT, Checkpointer

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
CREATE TABLE IF NOT EXISTS requests (
    local_id       TEXT PRIMARY KEY,
    request        TEXT NOT NULL,
    request_fields TEXT
);
"""
REQUESTS = ("request", "request_fields")
"""Kept in a table of their own since the tracking build, written once a job: a job's row is
rewritten whole on each status change, and a long text in it (a request with its fields is
twice the prompt) made each rewrite, and each checkpoint, three times dearer. Rows written
before keep them in `jobs`; `job_rows` reads either."""
ROWS = "job_rows"
"""The view every reader of whole rows uses: `jobs` with its request from `requests`, and
`row_order` (the rowid) for a stable order."""
ADDED_COLUMNS = {
    "phase": "TEXT",
    "owner": "TEXT",
    "heartbeat": "REAL",
    "request_fields": "TEXT",
    "output_path": "TEXT",
    "output_url": "TEXT",
    "notebook": "TEXT",
    "cost_unit": "TEXT",
}
"""Columns added after the first build; an older ledger gains them when opened."""
PHASE_INDEX = "CREATE INDEX IF NOT EXISTS jobs_phase ON jobs (phase)"
OWNERS = "CREATE TABLE IF NOT EXISTS owners (owner TEXT PRIMARY KEY, heartbeat REAL NOT NULL)"
"""One heartbeat per Studio: renewing a thousand leases writes one row, not a thousand."""
LIVE = (
    "(jobs.heartbeat >= :since OR EXISTS "
    "(SELECT 1 FROM owners o WHERE o.owner = jobs.owner AND o.heartbeat >= :since))"
)
"""A row's lease is live: taken within the TTL (`jobs.heartbeat` is when it was taken), or its
owner's heartbeat is."""
ID_INDEX = "CREATE INDEX IF NOT EXISTS jobs_id ON jobs (id)"
"""A provider id alone (jobs_remote leads with the provider): `find` without a scan."""
TABLE_COLUMNS = (
    "local_id", "provider", "id", "kind", "status", "progress", "prompt", "created_at",
    "updated_at", "completed_at", "output_path", "output_url", "cost", "cost_unit",
    "error_code", "error_message",
)  # fmt: skip
"""What a job table shows of a row: no request, outputs list or payload to parse."""
END_COLUMNS = (
    "status", "progress", "updated_at", "completed_at", "outputs", "error_code",
    "error_message", "cost", "cost_unit", "raw", "output_path", "output_url", "phase",
    "submitted", "owner",
)  # fmt: skip
"""What a followed job's end may change of its row; its local id, provider, kind, id,
creation time, prompt and notebook stay."""
END_UPDATE = (
    f"UPDATE jobs SET {', '.join(f'{c}=:{c}' for c in END_COLUMNS)} "
    "WHERE local_id=:local_id AND id IS :id AND created_at IS :created_at"
)
NOTEBOOK = "notebook"
"""The column naming the notebook whose Studio made the job (`jobs()` shows it; the job
table's pages do not read it)."""
TABLE_FILTERS = ("provider", "kind", "status")


class Phase:
    """Where a job is in its lifecycle (what is left to do after a restart)."""

    PLANNED = "planned"
    """A batch row written before the batch starts; nothing sent yet."""
    SENDING = "sending"
    """The create is on its way: it may or may not have reached the provider."""
    SEARCHING = "searching"
    """The create's answer was lost; the provider's list is being searched for it."""
    FOLLOWING = "following"
    """The provider has it; its status is followed."""
    DOWNLOADING = "downloading"
    """The provider finished it; its files are being fetched and verified."""
    DONE = "done"
    """Terminal: nothing left to do."""

    OPEN = (PLANNED, SENDING, SEARCHING, FOLLOWING, DOWNLOADING)


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
        self._batching = False
        self._pending = False
        """`soon` wrote and its commit is still to come."""
        self._defer: Callable[[Callable[[], None]], None] | None = None
        self._written: dict[str, dict[str, Any]] = {}
        """local id → the request its `requests` row holds (committed or pending): a status
        write does not write it again."""
        with self._writing():
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL: a commit survives a killed kernel (only an OS crash could lose
            # the last ones) and costs no fsync, so following a thousand jobs stays cheap
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's thread does it
            self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            self._db.executescript(SCHEMA)
            have = {r["name"] for r in self._db.execute("PRAGMA table_info(jobs)")}
            for name, kind in ADDED_COLUMNS.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
            if "phase" not in have:  # a first-build ledger: derive each row's phase
                terminal = ",".join(f"'{s.value}'" for s in JobStatus if s.terminal)
                self._db.execute(
                    f"UPDATE jobs SET phase = CASE WHEN status IN ({terminal}) THEN 'done' "
                    "WHEN submitted = 1 AND id IS NOT NULL THEN 'following' ELSE 'sending' END"
                )
            self._db.execute(OWNERS)
            self._db.execute(PHASE_INDEX)
            self._db.execute(ID_INDEX)
            if NOTEBOOK not in have:  # kept in `extra` by the build before the column
                self._db.execute(
                    "UPDATE jobs SET notebook = json_extract(extra, '$.notebook') "
                    "WHERE json_valid(extra)"
                )
            if "output_path" not in have:  # a ledger from before the output columns
                self._fill_output_columns()
            self._make_rows_view()
        self._checkpointer = Checkpointer(self.path)
        self._checkpointer.start()

    def __repr__(self) -> str:
        return f"<Ledger {self.path}>"

    def _make_rows_view(self) -> None:
        """(Re)makes `job_rows` when its columns are not those of `jobs` now (a ledger
        opened by an older build, or one that gained columns)."""
        names = [r["name"] for r in self._db.execute("PRAGMA table_info(jobs)")]
        columns = [
            f"COALESCE(r.{c}, j.{c}) AS {c}" if c in REQUESTS else f"j.{c} AS {c}" for c in names
        ]
        sql = (
            f"CREATE VIEW {ROWS} AS SELECT {', '.join(columns)}, j.rowid AS row_order "
            "FROM jobs j LEFT JOIN requests r ON r.local_id = j.local_id"
        )
        found = self._db.execute(
            "SELECT sql FROM sqlite_master WHERE type='view' AND name=?", (ROWS,)
        ).fetchone()
        if found is None or found["sql"] != sql:
            self._db.execute(f"DROP VIEW IF EXISTS {ROWS}")
            self._db.execute(sql)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many writes, one transaction (a sweep's answers): one commit instead of hundreds."""
        with self._lock:
            if self._batching:
                yield
                return
            self._commit_pending()  # a rollback of this batch must not take earlier writes
            self._batching = True
            try:
                with self._transaction():
                    yield
            finally:
                self._batching = False

    @contextlib.contextmanager
    def soon(self) -> Iterator[None]:
        """Writes that a kill may lose without losing anything paid for, because a restart
        learns the same again from the provider and the disk (a job seen finished, its files
        verified, its end): committed together with the others of the next few milliseconds
        (`defer_commits`), not one commit each. Elsewhere, or without `defer_commits`, `batch`."""
        with self._lock:
            if self._batching or self._defer is None:
                with self.batch():
                    yield
                return
            self._batching = True
            try:
                yield
            except BaseException:
                self._db.rollback()  # only writes of this kind were pending: safe to lose
                self._pending = False
                self._written.clear()
                raise
            finally:
                self._batching = False
            if not self._pending:
                self._pending = True
                try:
                    self._defer(self.flush)
                except RuntimeError:  # the loop is closing: now, then
                    self._commit_pending()

    def defer_commits(self, schedule: Callable[[Callable[[], None]], None] | None) -> None:
        """How `soon` gets its commit made a moment later (the Studio's loop, e.g.
        `lambda f: loop.call_later(COMMIT_DELAY, f)`); None: every write commits at once."""
        with self._lock:
            self._commit_pending()
            self._defer = schedule

    def flush(self) -> None:
        """Commits the writes `soon` left pending."""
        with self._lock:
            self._commit_pending()

    def _commit_pending(self) -> None:
        if self._pending:
            self._pending = False
            self._db.commit()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """The lock, and a transaction of its own unless inside `batch` (of this thread: the
        lock is held for the whole batch)."""
        with self._lock:
            if self._batching:
                yield
            else:
                self._commit_pending()
                with self._transaction():
                    yield

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """`with self._db`, forgetting which requests are written should it roll back."""
        try:
            with self._db:
                yield
        except BaseException:
            self._written.clear()
            raise

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._commit_pending()
            self._db.close()
        self._checkpointer.stop()

    @staticmethod
    def new_local_id() -> str:
        return "nbm_" + uuid.uuid4().hex[:16]

    def record(
        self,
        job: Job,
        phase: str,
        *,
        fields: dict[str, Any] | None = None,
        notebook: str | None = None,
    ) -> None:
        """Inserts or updates the job's row in `phase` (the request never holds a key); a row
        written DONE holds no lease.

        `fields` are the request as the user gave it (kept for a batch row that is sent later);
        `notebook`, the notebook whose Studio made the job (the first one given stays)."""
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
            "created_at": _ts(job.created_at),
            "updated_at": _ts(job.updated_at),
            "completed_at": _ts(job.completed_at),
            "outputs": json.dumps([o.to_dict() for o in job.outputs]),
            "error_code": err.get("code"),
            "error_message": err.get("message"),
            "cost": job.cost,
            "cost_unit": job.cost_unit,
            "raw": json.dumps(job.raw, default=str) if job.raw is not None else None,
            **_output_columns(job),
            "phase": phase,
            "submitted": int(phase in (Phase.FOLLOWING, Phase.DOWNLOADING) or bool(job.id)),
        }
        if notebook is not None:
            row[NOTEBOOK] = notebook
        if phase == Phase.DONE:
            row["owner"] = None  # nothing left to do: its lease goes in the same write
        request = job.request
        if (
            phase == Phase.DONE
            and fields is None
            and notebook is None
            and job.id is not None
            and self._written.get(job.local_id) is request
            and self._ended(row)
        ):
            return
        with self._writing():
            self._db.execute(_upsert(tuple(row)), row)
            if fields is not None or self._written.get(job.local_id) is not request:
                self._db.execute(
                    "INSERT INTO requests (local_id, request, request_fields) VALUES (?, ?, ?) "
                    "ON CONFLICT(local_id) DO UPDATE SET request=excluded.request, "
                    "request_fields=COALESCE(excluded.request_fields, request_fields)",
                    (
                        job.local_id,
                        json.dumps(request, default=str),
                        None if fields is None else json.dumps(fields, default=str),
                    ),
                )
            if phase == Phase.DONE:
                self._written.pop(job.local_id, None)
            else:
                self._written[job.local_id] = request

    def _ended(self, row: dict[str, Any]) -> bool:
        """The end of a job whose row this process wrote (with its request) and whose id and
        creation time have not moved since: an UPDATE of what an end changes, which leaves
        the indexes on provider, id and creation time alone (an upsert rewrites every index
        of the row: a third of a followed job's last write). False, nothing written, when the
        row is not as expected (the caller writes it whole)."""
        with self._writing():
            if self._db.execute(END_UPDATE, row).rowcount != 1:
                return False
            self._written.pop(row["local_id"], None)
        return True

    def durations(self, provider: str, kind: str, limit: int = C.ETA_HISTORY) -> list[float]:
        """Seconds from creation to completion of the latest `limit` succeeded jobs of this
        provider and kind, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT created_at, completed_at FROM jobs WHERE provider=? AND kind=? "
                "AND status=? AND completed_at IS NOT NULL ORDER BY created_at DESC LIMIT ?",
                (provider, kind, JobStatus.SUCCEEDED.value, limit),
            ).fetchall()
        spans = (
            dt.datetime.fromisoformat(r["completed_at"])
            - dt.datetime.fromisoformat(r["created_at"])
            for r in rows
        )
        return [s.total_seconds() for s in spans if s.total_seconds() > 0]

    def progressed(self, job: Job) -> None:
        """Only the job's progress moved: writes that, not the whole row (a sweep moves the
        percentage of hundreds of jobs a second)."""
        with self._writing():
            self._db.execute(
                "UPDATE jobs SET progress=?, updated_at=? WHERE local_id=?",
                (job.progress, _ts(job.updated_at), job.local_id),
            )

    def set_extra(self, local_id: str, **values: Any) -> None:
        """Stores small per-job facts that are not part of the Job (ratings, links)."""
        with self._writing():
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
            return list(
                self._db.execute(f"SELECT * FROM {ROWS} ORDER BY created_at DESC, row_order DESC")
            )

    def get(self, local_id: str) -> Job | None:
        with self._lock:
            found = self._db.execute(
                f"SELECT * FROM {ROWS} WHERE local_id=?", (local_id,)
            ).fetchone()
        return self.to_job(found) if found else None

    def find(self, id: str) -> Job | None:
        """A job by local id or provider id (by index, no scan)."""
        with self._lock:
            found = self._db.execute(
                f"SELECT * FROM {ROWS} WHERE local_id=? UNION ALL "
                f"SELECT * FROM {ROWS} WHERE id=? ORDER BY created_at DESC LIMIT 1",
                (id, id),
            ).fetchone()
        return self.to_job(found) if found else None

    def open_rows(self) -> list[tuple[Job, str, dict[str, Any] | None]]:
        """Every job with something left to do: (job, phase, request fields if kept)."""
        marks = ",".join("?" * len(Phase.OPEN))
        with self._lock:
            found = list(
                self._db.execute(
                    f"SELECT * FROM {ROWS} WHERE phase IN ({marks}) ORDER BY created_at, row_order",
                    Phase.OPEN,
                )
            )
        return [
            (
                self.to_job(r),
                r["phase"],
                json.loads(r["request_fields"]) if r["request_fields"] else None,
            )
            for r in found
        ]

    def fields(self, local_id: str) -> dict[str, Any] | None:
        """The request fields kept with a planned row (None when none were kept)."""
        with self._lock:
            found = self._db.execute(
                f"SELECT request_fields FROM {ROWS} WHERE local_id=?", (local_id,)
            ).fetchone()
        return json.loads(found["request_fields"]) if found and found["request_fields"] else None

    def phase(self, local_id: str) -> str | None:
        with self._lock:
            found = self._db.execute(
                "SELECT phase FROM jobs WHERE local_id=?", (local_id,)
            ).fetchone()
        return found["phase"] if found else None

    def claimed_ids(self, provider: str) -> set[str]:
        """Provider ids already held by a ledger row (never given to a second row)."""
        with self._lock:
            found = self._db.execute(
                "SELECT DISTINCT id FROM jobs WHERE provider=? AND id IS NOT NULL", (provider,)
            )
            return {r["id"] for r in found}

    def claim(self, local_id: str, provider: str, id: str) -> bool:
        """Gives `id` to the row `local_id` unless another row holds it (atomic, across
        processes): a found job is never attached to two rows."""
        with self._writing():
            cur = self._db.execute(
                "UPDATE jobs SET id=? WHERE local_id=? AND NOT EXISTS "
                "(SELECT 1 FROM jobs WHERE provider=? AND id=? AND local_id<>?)",
                (id, local_id, provider, id, local_id),
            )
            return bool(cur.rowcount)

    def sending(self, provider: str, besides: str, now: float, ttl: float) -> bool:
        """Whether a create of `provider` is in flight in a live Studio (a row `sending`
        under a live lease), other than row `besides`."""
        with self._lock:
            found = self._db.execute(
                "SELECT 1 FROM jobs WHERE provider=:provider AND phase='sending' "
                f"AND local_id<>:besides AND owner IS NOT NULL AND {LIVE} LIMIT 1",
                {"provider": provider, "besides": besides, "since": now - ttl},
            ).fetchone()
        return found is not None

    def shares_id(self, job: Job) -> bool:
        """True when another row holds the same provider id (a regeneration of one media)."""
        if not job.id:
            return False
        with self._lock:
            found = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE provider=? AND id=? AND local_id<>?",
                (job.provider, job.id, job.local_id),
            ).fetchone()
        return bool(found[0])

    # ---- leases: one follower per job -------------------------------------------------------
    def acquire(self, local_ids: list[str], owner: str, now: float, ttl: float) -> set[str]:
        """Takes the lease of each job that is free, ours, or whose holder stopped beating."""
        if not local_ids:
            return set()
        got: set[str] = set()
        with self._writing():
            self._beat(owner, now)
            for local_id in local_ids:
                cur = self._db.execute(
                    "UPDATE jobs SET owner=:owner, heartbeat=:now WHERE local_id=:id "
                    f"AND phase<>'done' AND (owner IS NULL OR owner=:owner OR NOT {LIVE})",
                    {"owner": owner, "now": now, "id": local_id, "since": now - ttl},
                )
                if cur.rowcount:
                    got.add(local_id)
        return got

    def renew(self, owner: str, now: float) -> None:
        """One heartbeat for every lease `owner` holds (one row, however many jobs)."""
        with self._writing():
            self._beat(owner, now)

    def _beat(self, owner: str, now: float) -> None:
        self._db.execute(
            "INSERT INTO owners (owner, heartbeat) VALUES (?, ?) "
            "ON CONFLICT(owner) DO UPDATE SET heartbeat=excluded.heartbeat",
            (owner, now),
        )

    def release(self, owner: str, local_ids: list[str] | None = None) -> None:
        """Gives leases back (all of `owner`'s by default), so another Studio takes over."""
        with self._writing():
            if local_ids is None:
                self._db.execute("UPDATE jobs SET owner=NULL WHERE owner=?", (owner,))
                self._db.execute("DELETE FROM owners WHERE owner=?", (owner,))
            else:
                self._db.executemany(
                    "UPDATE jobs SET owner=NULL WHERE owner=? AND local_id=?",
                    [(owner, i) for i in local_ids],
                )

    def held_elsewhere(self, local_id: str, owner: str, now: float, ttl: float) -> bool:
        """Whether another owner holds a live lease on the job."""
        with self._lock:
            found = self._db.execute(
                f"SELECT 1 FROM jobs WHERE local_id=:id AND owner IS NOT NULL "
                f"AND owner<>:owner AND {LIVE}",
                {"id": local_id, "owner": owner, "since": now - ttl},
            ).fetchone()
        return found is not None

    def holds(self, owner: str, local_id: str) -> bool:
        with self._lock:
            found = self._db.execute(
                "SELECT owner FROM jobs WHERE local_id=?", (local_id,)
            ).fetchone()
        return bool(found) and found["owner"] == owner

    # ---- the job table: plain columns, newest first, never a payload parsed --------------------
    def table(
        self,
        filters: dict[str, str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        columns: tuple[str, ...] = TABLE_COLUMNS,
    ) -> list[tuple[Any, ...]]:
        """Rows of `columns` (some of TABLE_COLUMNS and NOTEBOOK), newest first, matching
        `filters` (TABLE_FILTERS: value)."""
        known = {*TABLE_COLUMNS, NOTEBOOK}
        if not set(columns) <= known:
            raise ValueError(f"{sorted(set(columns) - known)} are not table columns")
        where, args = _where(filters)
        page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
        with self._lock:
            cur = self._db.cursor()
            cur.row_factory = None  # plain tuples: a DataFrame is built from them at once
            return cur.execute(
                f"SELECT {', '.join(columns)} FROM jobs{where} "
                f"ORDER BY created_at DESC, rowid DESC{page}",
                args,
            ).fetchall()

    def count(self, filters: dict[str, str] | None = None) -> int:
        """How many rows match `filters` (all rows without)."""
        where, args = _where(filters)
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM jobs{where}", args).fetchone()[0]

    def values(self, column: str) -> list[str]:
        """The distinct values of a filterable column, sorted."""
        if column not in TABLE_FILTERS:
            raise ValueError(f"{column!r} is not one of {TABLE_FILTERS}")
        with self._lock:
            found = self._db.execute(
                f"SELECT DISTINCT {column} FROM jobs WHERE {column} IS NOT NULL"
            )
            return sorted(r[0] for r in found)

    def _fill_output_columns(self) -> None:
        """Copies each row's main output into output_path and output_url (once, when an older
        ledger gains those columns)."""
        found = self._db.execute(
            "SELECT local_id, provider, kind, outputs FROM jobs WHERE outputs <> '[]'"
        )
        filled = [
            {
                "local_id": r["local_id"],
                **_output_columns(Job(r["provider"], r["kind"], outputs=_outputs(r["outputs"]))),
            }
            for r in found
        ]
        self._db.executemany(
            "UPDATE jobs SET output_path=:output_path, output_url=:output_url "
            "WHERE local_id=:local_id",
            filled,
        )

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
            outputs=_outputs(row["outputs"]),
            error=err,
            cost=row["cost"],
            cost_unit=row["cost_unit"],
            raw=json.loads(row["raw"]) if row["raw"] else None,
            request=json.loads(row["request"]),
            local_id=row["local_id"],
        )


def _outputs(stored: str) -> list[Output]:
    return [Output.from_dict(d) for d in json.loads(stored)]


def _output_columns(job: Job) -> dict[str, str | None]:
    """The main output's path and link, kept in columns of their own for the job table."""
    main = job.output()
    return {
        "output_path": str(main.path) if main and main.path else None,
        "output_url": main.url if main else None,
    }


@functools.cache
def _upsert(columns: tuple[str, ...]) -> str:
    """The INSERT … ON CONFLICT of a row with these columns (made once per set of columns: a
    row is written several times a job); the first notebook given stays."""
    updates = ", ".join(
        f"{c}=COALESCE({c}, excluded.{c})" if c == NOTEBOOK else f"{c}=excluded.{c}"
        for c in columns
        if c != "local_id"
    )
    return (
        f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join(f':{c}' for c in columns)}) "
        f"ON CONFLICT(local_id) DO UPDATE SET {updates}"
    )


def _where(filters: dict[str, str] | None) -> tuple[str, list[str]]:
    """A WHERE clause on TABLE_FILTERS and NOTEBOOK only (the names are never taken from the
    caller)."""
    filters = filters or {}
    allowed = (*TABLE_FILTERS, NOTEBOOK)
    unknown = set(filters) - set(allowed)
    if unknown:
        raise ValueError(f"cannot filter on {sorted(unknown)}: only {allowed}")
    names = [c for c in allowed if c in filters]
    if not names:
        return "", []
    return " WHERE " + " AND ".join(f"{c}=?" for c in names), [filters[c] for c in names]
