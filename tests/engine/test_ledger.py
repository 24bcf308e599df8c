"""The ledger: phases that say what is left after a restart, leases, first-build ledgers, and
the job table's reads (plain columns, pages, lookups by index)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from pathlib import Path

import pytest

from nbmedia.engine.ledger import Ledger, Phase
from nbmedia.models import Job, JobStatus, Output

FIRST_BUILD = """CREATE TABLE jobs (local_id TEXT PRIMARY KEY, provider TEXT NOT NULL,
    kind TEXT NOT NULL, id TEXT, status TEXT NOT NULL, submitted INTEGER NOT NULL DEFAULT 0,
    progress REAL, prompt TEXT, request TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, completed_at TEXT, outputs TEXT NOT NULL DEFAULT '[]',
    error_code TEXT, error_message TEXT, cost REAL, raw TEXT,
    extra TEXT NOT NULL DEFAULT '{}');"""
"""The jobs table of the ledger's first build."""


def _job(ledger: Ledger, **kw: object) -> Job:
    return Job(provider="mercadream", kind="speech", local_id=ledger.new_local_id(), **kw)


def test_open_rows_are_what_is_left_to_do(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    phases = [Phase.PLANNED, Phase.SENDING, Phase.SEARCHING, Phase.FOLLOWING, Phase.DOWNLOADING]
    for phase in [*phases, Phase.DONE]:
        ledger.record(_job(ledger, prompt=phase), phase, fields={"text": phase})
    left = ledger.open_rows()
    assert [p for _, p, _ in left] == phases
    assert [f for _, _, f in left] == [{"text": p} for p in phases]
    ledger.close()


def test_a_lease_is_held_by_one_owner_until_it_lapses(tmp_path: Path) -> None:
    a = Ledger(tmp_path / "l.sqlite")
    b = Ledger(tmp_path / "l.sqlite")  # a second kernel on the same folder
    job = _job(a)
    a.record(job, Phase.FOLLOWING)
    assert a.acquire([job.local_id], "A", now=100.0, ttl=20) == {job.local_id}
    assert b.acquire([job.local_id], "B", now=110.0, ttl=20) == set()  # A is alive
    a.renew("A", now=125.0)
    assert b.acquire([job.local_id], "B", now=140.0, ttl=20) == set()  # beat at 125
    assert b.acquire([job.local_id], "B", now=146.0, ttl=20) == {job.local_id}  # A died
    assert b.holds("B", job.local_id) and not a.holds("A", job.local_id)
    b.release("B")
    assert a.acquire([job.local_id], "A", now=147.0, ttl=20) == {job.local_id}
    a.close()
    b.close()


def test_one_heartbeat_renews_every_lease_with_one_row(tmp_path: Path) -> None:
    """A Studio following a thousand jobs must not rewrite a thousand rows a few times a
    minute (the kernel's loop waited up to a quarter of a second on it)."""
    a = Ledger(tmp_path / "l.sqlite")
    b = Ledger(tmp_path / "l.sqlite")
    jobs = [_job(a) for _ in range(200)]
    for job in jobs:
        a.record(job, Phase.FOLLOWING)
    ids = [j.local_id for j in jobs]
    assert a.acquire(ids, "A", now=100.0, ttl=20) == set(ids)
    changes = a._db.total_changes
    a.renew("A", now=118.0)
    assert a._db.total_changes - changes == 1  # one row, however many leases
    assert b.acquire(ids[:1], "B", now=137.0, ttl=20) == set()  # A beat at 118
    assert b.held_elsewhere(ids[0], "B", now=137.0, ttl=20)
    assert not b.held_elsewhere(ids[0], "B", now=139.0, ttl=20)
    assert b.acquire(ids, "B", now=139.0, ttl=20) == set(ids)  # A stopped beating
    a.close()
    b.close()


def test_a_finished_job_is_never_leased(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    job = _job(ledger, status=JobStatus.SUCCEEDED)
    ledger.record(job, Phase.DONE)
    assert ledger.acquire([job.local_id], "A", now=1.0, ttl=20) == set()
    ledger.close()


def test_claimed_ids_and_lookup_by_either_id(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    first = _job(ledger, id="job_1")
    regen = _job(ledger, id="job_1")  # a regeneration of the same media
    ledger.record(first, Phase.DONE)
    ledger.record(regen, Phase.FOLLOWING)
    assert ledger.claimed_ids("mercadream") == {"job_1"}
    assert ledger.shares_id(first) and ledger.shares_id(regen)
    found = ledger.find(first.local_id)
    assert found is not None and found.local_id == first.local_id
    by_id = ledger.find("job_1")
    assert by_id is not None and by_id.id == "job_1"
    assert ledger.find("nope") is None
    ledger.close()


def test_a_first_build_ledger_gains_phases(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(FIRST_BUILD)
    now = "2026-11-30T10:00:00+00:00"
    rows = [
        ("a", "j1", "succeeded", 1),
        ("b", "j2", "running", 1),
        ("c", None, "queued", 0),
    ]
    for local, id_, status, submitted in rows:
        db.execute(
            "INSERT INTO jobs (local_id, provider, kind, id, status, submitted, created_at,"
            " updated_at) VALUES (?, 'mercadream', 'speech', ?, ?, ?, ?, ?)",
            (local, id_, status, submitted, now, now),
        )
    db.commit()
    db.close()
    ledger = Ledger(path)
    assert ledger.phase("a") == Phase.DONE
    assert ledger.phase("b") == Phase.FOLLOWING
    assert ledger.phase("c") == Phase.SENDING  # may have reached the provider: searched for
    ledger.close()


def test_the_wal_is_checkpointed_off_the_writers_thread(tmp_path: Path, monkeypatch) -> None:
    """No commit of the Studio's loop copies the WAL back (20 ms and more each time): a thread
    of the ledger's does, and keeps the file short."""
    from nbmedia.engine import checkpointer

    monkeypatch.setattr(checkpointer, "EVERY", 0.05)
    ledger = Ledger(tmp_path / "l.sqlite")
    assert ledger._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    jobs = [_job(ledger, prompt="x" * 200, raw={"text": "y" * 300}) for _ in range(1500)]
    for job in jobs:
        ledger.record(job, Phase.FOLLOWING)
    wal = tmp_path / "l.sqlite-wal"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.1)
        ledger.record(jobs[0], Phase.DOWNLOADING)  # a write after a checkpoint cuts the file
        if wal.stat().st_size <= checkpointer.WAL_LIMIT:
            break
    assert wal.stat().st_size <= checkpointer.WAL_LIMIT
    ledger.close()
    reopened = Ledger(tmp_path / "l.sqlite")
    assert len(reopened.open_rows()) == 1500
    reopened.close()


def test_a_ledger_from_before_the_output_columns_gains_them(tmp_path: Path) -> None:
    """Each row's main output (not its thumbnail) is copied into output_path and output_url,
    so the job table reads them without parsing `outputs`."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(FIRST_BUILD)
    for column in ("phase TEXT", "owner TEXT", "heartbeat REAL", "request_fields TEXT"):
        db.execute(f"ALTER TABLE jobs ADD COLUMN {column}")  # as the ledger added them
    thumb = {"kind": "image", "url": "https://x/t.jpg", "path": "media/t.jpg", "role": "thumbnail"}
    video = {"kind": "video", "url": "https://x/v.mp4", "path": "media/v.mp4", "role": "main"}
    served = {"kind": "audio", "url": "https://x/a.mp3", "path": None}  # no role: main
    rows = [("a", [thumb, video]), ("b", [served]), ("c", [thumb]), ("d", [])]
    for local, outputs in rows:
        db.execute(
            "INSERT INTO jobs (local_id, provider, kind, id, status, created_at, updated_at,"
            " outputs, phase) VALUES (?, 'mercadream', 'video', ?, 'succeeded', ?, ?, ?, 'done')",
            (local, f"j_{local}", f"2026-11-30T10:00:0{len(local)}+00:00", "2026-11-30T10:01:00"
             "+00:00", json.dumps(outputs)),
        )  # fmt: skip
    db.commit()
    db.close()
    ledger = Ledger(path)
    columns = ("local_id", "output_path", "output_url")
    got = {r[0]: r[1:] for r in ledger.table(columns=columns)}
    assert got == {
        "a": ("media/v.mp4", "https://x/v.mp4"),
        "b": (None, "https://x/a.mp3"),
        "c": (None, None),
        "d": (None, None),
    }
    job = _job(ledger, id="new", outputs=[Output("video", "https://x/n.mp4", path=Path("n.mp4"))])
    ledger.record(job, Phase.DONE)  # and a row written now fills them
    assert ledger.table({"status": "queued"}, columns=columns) == [
        (job.local_id, "n.mp4", "https://x/n.mp4")
    ]
    ledger.close()


def test_a_job_is_found_by_provider_id_through_an_index(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.record(_job(ledger, id="job_9"), Phase.DONE)
    ledger.close()
    db = sqlite3.connect(tmp_path / "l.sqlite")
    plan = db.execute("EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE id=?", ("job_9",)).fetchall()
    db.close()
    assert any("USING INDEX" in step[-1] for step in plan), plan
    assert not any(step[-1].startswith("SCAN") for step in plan), plan


def test_the_table_reads_pages_counts_and_choices(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    start = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
    for i in range(30):
        status = JobStatus.FAILED if i % 3 == 0 else JobStatus.SUCCEEDED
        job = _job(ledger, id=f"j{i}", status=status, created_at=start + dt.timedelta(seconds=i))
        ledger.record(job, Phase.DONE)
    newest = [r[2] for r in ledger.table(limit=25)]
    assert newest == [f"j{i}" for i in range(29, 4, -1)]
    assert [r[2] for r in ledger.table(offset=25, limit=25)] == ["j4", "j3", "j2", "j1", "j0"]
    failed = ledger.table({"status": "failed"}, offset=2, limit=3)
    assert [r[2] for r in failed] == ["j21", "j18", "j15"]
    assert ledger.count() == 30 and ledger.count({"status": "failed", "kind": "speech"}) == 10
    assert ledger.values("status") == ["failed", "succeeded"]
    with pytest.raises(ValueError):
        ledger.table({"raw": "x"})
    ledger.close()


def test_writes_a_restart_learns_again_share_one_commit(tmp_path: Path) -> None:
    """A burst of jobs seen finished is one commit, made a moment later; any write that must
    be on disk at once (a row before its create) takes the pending ones with it."""
    a = Ledger(tmp_path / "l.sqlite")
    b = Ledger(tmp_path / "l.sqlite")  # another kernel on the folder: sees commits only
    jobs = [_job(a) for _ in range(3)]
    for job in jobs:
        a.record(job, Phase.FOLLOWING)
    flushes: list = []
    a.defer_commits(flushes.append)
    for job in jobs[:2]:
        with a.soon():
            a.record(job, Phase.DOWNLOADING)
    assert len(flushes) == 1  # one commit for the burst
    assert a.phase(jobs[0].local_id) == Phase.DOWNLOADING  # this Studio sees its own writes
    assert b.phase(jobs[0].local_id) == Phase.FOLLOWING  # not committed yet
    flushes[0]()
    assert b.phase(jobs[1].local_id) == Phase.DOWNLOADING
    with a.soon():
        a.record(jobs[0], Phase.DONE)
    a.record(jobs[2], Phase.SENDING)  # must be on disk now: the pending write goes with it
    assert (b.phase(jobs[0].local_id), b.phase(jobs[2].local_id)) == (Phase.DONE, Phase.SENDING)
    with a.soon():
        a.record(jobs[1], Phase.DONE)
    a.close()  # closing commits what is pending
    assert b.phase(jobs[1].local_id) == Phase.DONE
    b.close()


def test_the_notebook_that_made_a_job_stays_and_older_ledgers_gain_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    job, tagged = _job(ledger), _job(ledger)
    ledger.record(job, Phase.SENDING, notebook="01_quickstart.ipynb")
    ledger.record(job, Phase.FOLLOWING, notebook="07_history.ipynb")  # resumed elsewhere
    ledger.record(job, Phase.DONE)
    ledger.record(tagged, Phase.DONE)
    assert ledger.table(columns=("id", "notebook"))[-1] == (None, "01_quickstart.ipynb")
    ledger.close()
    db = sqlite3.connect(tmp_path / "l.sqlite")  # as the build that kept it in `extra` left it
    db.execute("DROP VIEW job_rows")  # that build had no view
    db.execute("ALTER TABLE jobs DROP COLUMN notebook")
    db.execute(
        "UPDATE jobs SET extra = ? WHERE local_id = ?",
        ('{"notebook": "02_compare_providers.ipynb"}', tagged.local_id),
    )
    db.commit()
    db.close()
    reopened = Ledger(tmp_path / "l.sqlite")
    names = dict(reopened.table(columns=("local_id", "notebook")))
    assert names == {job.local_id: None, tagged.local_id: "02_compare_providers.ipynb"}
    reopened.close()


def test_durations_are_of_the_latest_succeeded_jobs_of_a_provider_and_kind(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    start = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
    for i, (seconds, status, kind) in enumerate(
        [(10, JobStatus.SUCCEEDED, "speech"), (20, JobStatus.SUCCEEDED, "speech"),
         (99, JobStatus.FAILED, "speech"), (30, JobStatus.SUCCEEDED, "speech"),
         (50, JobStatus.SUCCEEDED, "music")]
    ):  # fmt: skip
        created = start + dt.timedelta(minutes=i)
        job = Job(provider="mercadream", kind=kind, local_id=ledger.new_local_id(),
                  status=status, created_at=created,
                  completed_at=created + dt.timedelta(seconds=seconds))  # fmt: skip
        ledger.record(job, Phase.DONE)
    assert ledger.durations("mercadream", "speech") == [30.0, 20.0, 10.0]  # newest first
    assert ledger.durations("mercadream", "speech", limit=2) == [30.0, 20.0]
    assert ledger.durations("mercadream", "video") == []
    ledger.close()


def _count_request_writes(ledger: Ledger) -> None:
    """Counts writes to the `requests` table from now on (a trigger in the test's db)."""
    db = ledger._db
    db.execute("CREATE TEMP TABLE request_writes (n INTEGER)")
    db.execute("INSERT INTO request_writes VALUES (0)")
    for event in ("INSERT", "UPDATE"):
        db.execute(
            f"CREATE TEMP TRIGGER count_{event} AFTER {event} ON requests "
            "BEGIN UPDATE request_writes SET n = n + 1; END"
        )


def _writes(ledger: Ledger) -> int:
    return ledger._db.execute("SELECT n FROM request_writes").fetchone()[0]


def test_a_request_is_written_once_not_with_every_status(tmp_path: Path) -> None:
    """A row is rewritten whole on each status change: the request (often the longest text of
    a job, twice over with its fields) lives apart and is written only when it changes."""
    ledger = Ledger(tmp_path / "l.sqlite")
    _count_request_writes(ledger)
    text = "A long text to speak. " * 200
    job = _job(ledger, prompt=text, request={"text": text, "voice": "alloy"})
    ledger.record(job, Phase.PLANNED, fields={"text": text})
    job.id = "job_1"
    for phase, status in [
        (Phase.SENDING, JobStatus.QUEUED),
        (Phase.FOLLOWING, JobStatus.RUNNING),
        (Phase.DOWNLOADING, JobStatus.RUNNING),
    ]:
        job.status = status
        ledger.record(job, phase)
    assert _writes(ledger) == 1
    job.request = {**job.request, "webhook_url": "http://127.0.0.1:9/mercadream"}  # a resend
    ledger.record(job, Phase.FOLLOWING)
    assert _writes(ledger) == 2
    back = ledger.get(job.local_id)
    assert back is not None and back.request == job.request and back.prompt == text
    assert ledger.fields(job.local_id) == {"text": text}  # kept: the resend gave none
    assert [j.request for j, _, _ in ledger.open_rows()] == [job.request]
    ledger.close()


def test_a_write_rolled_back_leaves_the_request_to_the_next_write(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    job = _job(ledger, request={"text": "kept"})
    with pytest.raises(RuntimeError), ledger.batch():
        ledger.record(job, Phase.SENDING)
        raise RuntimeError("the create failed before its row was committed")
    assert ledger.get(job.local_id) is None
    ledger.record(job, Phase.FOLLOWING)
    back = ledger.get(job.local_id)
    assert back is not None and back.request == {"text": "kept"}
    ledger.close()


def test_rows_of_an_older_build_keep_the_request_they_hold(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    job = _job(ledger, request={"text": "from before"})
    ledger.record(job, Phase.PLANNED, fields={"text": "from before"})
    ledger.close()
    db = sqlite3.connect(tmp_path / "l.sqlite")  # as the build before `requests` wrote it
    db.execute("DROP VIEW job_rows")
    db.execute(
        "UPDATE jobs SET request = ?, request_fields = ?",
        ('{"text": "from before"}', '{"text": "from before"}'),
    )
    db.execute("DROP TABLE requests")
    db.commit()
    db.close()
    reopened = Ledger(tmp_path / "l.sqlite")
    (back, phase, fields), *_ = reopened.open_rows()
    assert (back.request, phase, fields) == (
        {"text": "from before"},
        "planned",
        {"text": "from before"},
    )
    reopened.record(back, Phase.SENDING)  # its first write by this build
    assert reopened.get(job.local_id).request == {"text": "from before"}  # type: ignore[union-attr]
    assert reopened.fields(job.local_id) == {"text": "from before"}
    reopened.close()


def _row(ledger: Ledger, local_id: str) -> dict[str, object]:
    with sqlite3.connect(ledger.path) as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM job_rows WHERE local_id=?", (local_id,)).fetchone())


def _end(job: Job, path: Path) -> None:
    job.status, job.progress = JobStatus.SUCCEEDED, 1.0
    job.completed_at = job.updated_at = dt.datetime(2026, 12, 2, 5, 0, tzinfo=dt.UTC)
    job.raw = {"id": job.id, "status": "succeeded", "video_url": "https://x/v.mp4"}
    job.outputs = [Output(role="main", kind="video", url="https://x/v.mp4", path=path)]
    job.cost, job.cost_unit = 0.5, "usd"


def test_a_followed_jobs_end_updates_its_row_to_what_a_whole_write_gives(tmp_path: Path) -> None:
    """The end of a job this process wrote is an UPDATE of what an end changes (the indexes
    on provider, id and creation time left alone): the row reads the same as if written whole,
    its lease given back, and the statement the ledger ran says so."""
    ledger = Ledger(tmp_path / "l.sqlite")
    made = dt.datetime(2026, 12, 2, 4, 0, tzinfo=dt.UTC)
    jobs = [_job(ledger, prompt="p", request={"text": "p"}, created_at=made) for _ in range(2)]
    for i, job in enumerate(jobs):
        job.id = "job_same" if i == 0 else "job_other"
        ledger.record(job, Phase.FOLLOWING)
    ledger.acquire([j.local_id for j in jobs], "me", time.time(), 60)
    ran: list[str] = []
    ledger._db.set_trace_callback(ran.append)
    narrow, whole = jobs
    _end(narrow, tmp_path / "a.mp4")
    ledger.record(narrow, Phase.DONE)
    assert any(s.startswith("UPDATE jobs SET status=") for s in ran)
    assert not any(s.startswith("INSERT INTO jobs") for s in ran)
    ran.clear()
    ledger._written.clear()  # as if written by another process: the whole row
    _end(whole, tmp_path / "a.mp4")
    ledger.record(whole, Phase.DONE)
    assert any(s.startswith("INSERT INTO jobs") for s in ran)
    ledger._db.set_trace_callback(None)
    a, b = _row(ledger, narrow.local_id), _row(ledger, whole.local_id)
    differ = {k for k in a if a[k] != b[k]}
    assert differ <= {"local_id", "id", "raw", "row_order"}, differ
    assert a["owner"] is None and a["phase"] == Phase.DONE and a["output_path"].endswith("a.mp4")
    assert json.loads(a["raw"])["id"] == "job_same"
    back = ledger.get(narrow.local_id)
    assert back is not None and back.status is JobStatus.SUCCEEDED and back.cost == 0.5
    ledger.close()


def test_an_end_whose_creation_time_moved_is_written_whole(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    job = _job(ledger, request={"text": "p"}, created_at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    job.id = "job_1"
    ledger.record(job, Phase.FOLLOWING)
    job.created_at = dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.UTC)  # the provider's own time
    _end(job, tmp_path / "a.mp4")
    ledger.record(job, Phase.DONE)
    back = ledger.get(job.local_id)
    assert back is not None and back.created_at == job.created_at
    assert back.status is JobStatus.SUCCEEDED and ledger.phase(job.local_id) == Phase.DONE
    ledger.close()
