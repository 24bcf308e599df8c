"""A job's mime bundle: what the status line, the bar and the player say in each state."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from nbmedia.display.jobview import STOPPED, job_bundle, seconds_text
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
