"""studio.job_table(): 25 jobs a page with page controls, newest first, and a job's change
renders that job's row again and no other (widget objects compared; no browser here)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import nbmedia as nm
from nbmedia.display.table import COLUMNS, JobTable
from nbmedia.engine.ledger import Phase
from nbmedia.models import Job, JobStatus, Output

START = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
WIDTH = len(COLUMNS)


@pytest.fixture
def offline(tmp_path: Path):
    """A Studio with no provider (nothing is sent or followed): its ledger and its events."""
    studio = nm.Studio(root=tmp_path, sandbox=False)
    yield studio
    studio.close()


def _write(studio: nm.Studio, n: int, first: int = 0) -> list[Job]:
    """n jobs, one a minute, every third one failed, written as the engine writes them."""
    jobs = []
    for i in range(first, first + n):
        job = Job(
            provider="mercadream", kind="speech", id=f"md_{i}", prompt=f"take {i}",
            status=JobStatus.FAILED if i % 3 == 0 else JobStatus.RUNNING,
            created_at=START + dt.timedelta(minutes=i), local_id=f"nbm_{i:04d}",
        )  # fmt: skip
        studio.ledger.record(job, Phase.DONE if job.done else Phase.FOLLOWING)
        jobs.append(job)
    return jobs


def _rows(table: JobTable) -> list[list[object]]:
    cells = list(table.grid.children[WIDTH:])
    return [cells[i : i + WIDTH] for i in range(0, len(cells), WIDTH)]


def _prompts(table: JobTable) -> list[str]:
    return [row[4].value.split(">")[1].split("<")[0] for row in _rows(table)]


def test_the_table_pages_25_jobs_newest_first(offline: nm.Studio) -> None:
    _write(offline, 60)
    table = offline.job_table()
    assert (table.total, table.matching, table.pages, table.page) == (60, 60, 3, 0)
    assert _prompts(table) == [f"take {i}" for i in range(59, 34, -1)]
    assert table.newer.disabled and not table.older.disabled
    assert "60 of 60 jobs" in table.count.value and "page 1 of 3" in table.page_label.value
    table.older.click()
    assert _prompts(table) == [f"take {i}" for i in range(34, 9, -1)]
    table.older.click()
    assert _prompts(table) == [f"take {i}" for i in range(9, -1, -1)]
    assert table.older.disabled and "page 3 of 3" in table.page_label.value
    table.status.value = "failed"  # a filter starts again on its first page
    assert table.page == 0 and (table.matching, table.pages) == (20, 1)
    assert _prompts(table) == [f"take {i}" for i in range(57, -1, -3)]
    assert "20 of 60 jobs" in table.count.value
    table.close()


def test_a_change_renders_only_its_own_row(offline: nm.Studio) -> None:
    jobs = _write(offline, 30)
    table = offline.job_table()
    before = _rows(table)
    job = jobs[26]  # the fourth row, running
    job.status = JobStatus.SUCCEEDED
    job.completed_at = job.created_at + dt.timedelta(seconds=12)
    job.cost = 0.5
    job.outputs = [Output("audio", "https://cdn.example/a.mp3", path=Path("media/a.mp3"))]
    offline.ledger.record(job, Phase.DONE)
    offline.engine.changed(job)
    after = _rows(table)
    assert "succeeded" in after[3][3].value and after[3][6].value == "0.5"
    assert not after[3][7].disabled  # ▶ plays its file now
    assert not any(a is b for a, b in zip(after[3], before[3], strict=True))
    for i in (0, 1, 2, *range(4, 25)):
        assert all(a is b for a, b in zip(after[i], before[i], strict=True)), i
    assert all(w.comm is None for w in before[3]) and after[3][1].comm is not None  # closed

    running = jobs[28]
    running.progress = 0.5  # no status change: nothing on screen moves
    offline.engine.changed(running)
    assert [c for row in _rows(table) for c in row] == [c for row in after for c in row]


def test_a_new_job_enters_the_first_page_alone(offline: nm.Studio) -> None:
    _write(offline, 30)
    table = offline.job_table()
    before = _rows(table)
    (new,) = _write(offline, 1, first=30)
    offline.engine.changed(new)
    after = _rows(table)
    assert _prompts(table)[:2] == ["take 30", "take 29"] and len(after) == 25
    shown = {id(w) for row in before for w in row}
    assert not any(id(w) in shown for w in after[0])  # made for it
    for i in range(24):  # the others moved down one, the same widgets
        assert all(a is b for a, b in zip(after[i + 1], before[i], strict=True)), i
    assert "31 of 31 jobs" in table.count.value
    table.older.click()
    (old,) = _write(offline, 1, first=31)
    offline.engine.changed(old)  # newer than this page: only the counts move
    assert _prompts(table)[0] == "take 5" and "32 of 32 jobs" in table.count.value
    assert "page 2 of 2" in table.page_label.value


def test_a_job_entering_or_leaving_the_status_shown_is_counted(offline: nm.Studio) -> None:
    jobs = _write(offline, 90)
    table = offline.job_table()
    table.status.value = "failed"
    shown = _rows(table)
    assert (table.matching, table.pages) == (30, 2) and _prompts(table)[-1] == "take 15"
    old = jobs[1]  # running, older than every row on this page
    old.status = JobStatus.FAILED
    offline.ledger.record(old, Phase.DONE)
    offline.engine.changed(old)
    assert "31 of 90 jobs" in table.count.value and "page 1 of 2" in table.page_label.value
    old.status = JobStatus.SUCCEEDED
    offline.ledger.record(old, Phase.DONE)
    offline.engine.changed(old)
    assert "30 of 90 jobs" in table.count.value
    assert [c for row in _rows(table) for c in row] == [c for row in shown for c in row]


def test_the_saved_view_is_the_page_last_shown_as_a_plain_table(offline: nm.Studio) -> None:
    jobs = _write(offline, 30)
    table = offline.job_table()
    saved = table._repr_mimebundle_()
    assert saved["text/plain"] == "job table: 30 of 30 jobs · page 1 of 2"
    page = saved["text/html"]
    assert page.count("<tr>") == 1 + 25 and "take 29" in page and "take 4" not in page
    assert "failed" in page and "<input" not in page and "<button" not in page
    table.status.value = "failed"  # a filter: the saved view follows
    saved = table._repr_mimebundle_()
    assert saved["text/plain"] == "job table: 10 of 30 jobs · page 1 of 1 · status = failed"
    assert saved["text/html"].count("<tr>") == 1 + 10 and "running" not in saved["text/html"]
    job = jobs[28]  # a running job, not on the failed page: the saved view stays as it was
    job.status = JobStatus.SUCCEEDED
    offline.engine.changed(job)
    assert table._repr_mimebundle_()["text/plain"].startswith("job table: 10 of 30")
