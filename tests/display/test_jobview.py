"""A job's mime bundle: what the status line, the bar and the player say in each state."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nbmedia.display.jobview import STOPPED, job_bundle, seconds_text, shown_progress, time_left
from nbmedia.models import Job, JobStatus, Output


def _job(**fields: object) -> Job:
    start = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
    base: dict = {"provider": "meshapi", "kind": "video", "id": "cgt-1", "created_at": start}
    return Job(**(base | fields))


def test_a_job_without_a_percentage_shows_an_indeterminate_bar() -> None:
    html = job_bundle(_job(status=JobStatus.RUNNING, progress=None))["text/html"]
    bar = html[html.index("<progress") : html.index("</progress>")]
    assert "value=" not in bar  # a <progress> without a value is the browser's moving bar
    html = job_bundle(_job(status=JobStatus.RUNNING, progress=0.32))["text/html"]
    assert "value='0.320'" in html and "32%" in html


def test_nothing_missing_reads_none_or_nan() -> None:
    end = dt.datetime(2026, 11, 30, 12, 0, 7, 340000, tzinfo=dt.timezone.utc)
    job = _job(status=JobStatus.SUCCEEDED, cost=float("nan"), progress=None, completed_at=end)
    bundle = job_bundle(job)
    for text in bundle.values():
        assert "None" not in text and "nan" not in text.lower()
    assert "7.3 s" in bundle["text/plain"] and "cost —" in bundle["text/plain"]
    assert seconds_text(42.4) == "42 s" and seconds_text(200.4) == "3 min 20 s"


def test_costs_read_in_their_providers_units() -> None:
    def line(cost: float | None, unit: str | None) -> str:
        job = _job(status=JobStatus.SUCCEEDED, cost=cost, cost_unit=unit)
        return job_bundle(job)["text/plain"]

    assert " · 12 compute units · " in line(12, "compute units")
    assert " · 1 compute unit · " in line(1, "compute units")
    assert " · 82,368 tokens · " in line(82368, "tokens")
    assert " · $0.25 · " in line(0.25, "USD") and " · ≈ $0.25 · " in line(0.25, "USD estimate")
    assert " · 0.5 · " in line(0.5, None) and " · cost — · " in line(None, None)


def test_a_finished_video_is_a_player_with_its_src_on_the_element(tmp_path: Path) -> None:
    video = tmp_path / "media" / "meshapi" / "cgt-1.mp4"
    captions = video.with_suffix(".vtt")
    out = Output("video", None, "video/mp4", video)
    vtt = Output("captions", None, "text/vtt", captions, role="captions")
    html = job_bundle(_job(status=JobStatus.SUCCEEDED, outputs=[out, vtt]))["text/html"]
    assert "<source" not in html and "<progress" not in html
    assert '<video controls preload="metadata" src="' in html and "<track" in html
    assert len(html) < 1000


def test_a_stopped_job_says_it_is_no_longer_followed() -> None:
    job = _job(status=JobStatus.RUNNING, progress=0.32, note="rate-limited, retrying in 8 s")
    bundle = job_bundle(job, stopped=True)
    assert STOPPED in bundle["text/plain"] and "retrying" not in bundle["text/plain"]
    assert "nbmedia-status-stopped" in bundle["text/html"]
    assert "value='0.320'" in bundle["text/html"]  # frozen where it was, not moving


def test_the_time_left_comes_from_the_providers_estimate_or_this_ledgers_history() -> None:
    now = dt.datetime.now(dt.timezone.utc)
    started = now - dt.timedelta(seconds=5)
    # the provider's estimate: 10 s from now; its last report said 20 %
    job = _job(status=JobStatus.RUNNING, progress=0.2, created_at=started,
               eta=now + dt.timedelta(seconds=10))  # fmt: skip
    assert time_left(job, now) == pytest.approx(10, abs=0.1)
    assert shown_progress(job, now) == pytest.approx(5 / 15, abs=0.01)  # moved on along it
    text = job_bundle(job)["text/plain"]
    assert " · 33% · " in text and " · about 10 s left · " in text
    # no estimate: how long such jobs took here (8 s), and past it, never 100 % until it ends
    job = _job(status=JobStatus.RUNNING, progress=0.9, created_at=started, expected_s=8.0)
    assert time_left(job, now) == pytest.approx(3, abs=0.1)
    job.expected_s = 4.0
    assert shown_progress(job, now) == 0.99 and "ending any moment" in job_bundle(job)["text/plain"]
    # no percentage at all: the bar stays indeterminate, the time left is still said
    job = _job(status=JobStatus.RUNNING, progress=None, created_at=started, expected_s=65.0)
    bundle = job_bundle(job)
    assert "value=" not in bundle["text/html"].split("<progress", 1)[1].split(">", 1)[0]
    assert "about 60 s left" in bundle["text/plain"]
    # nothing known: nothing said; an ended job: no time left
    assert time_left(_job(status=JobStatus.RUNNING, created_at=started), now) is None
    assert time_left(_job(status=JobStatus.SUCCEEDED, expected_s=8.0), now) is None
