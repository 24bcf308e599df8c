"""The plots draw the job table: a timeline per provider and a per-provider summary."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbmedia as nm
from nbmedia.lib.plots import provider_summary

pytestmark = pytest.mark.timeout(180)


def test_timeline_and_summary_plots(tmp_path: Path, sandbox) -> None:
    import matplotlib

    matplotlib.use("Agg")
    with nm.Studio(root=tmp_path, sandbox=sandbox) as studio:
        jobs = [studio.speech(f"plot {i}", format="wav") for i in range(2)]
        jobs.append(studio.generate("plot", provider="meshapi", duration=4))
        for job in jobs:
            job.wait(timeout=120)
        fig = studio.timeline()
        assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["mercadream", "meshapi"]
        assert len(fig.axes[0].patches) == 3
        summary = provider_summary(studio.jobs())
        assert len(summary.axes) == 2 and len(summary.axes[0].patches) == 2
        fig.savefig(tmp_path / "timeline.png")
        assert (tmp_path / "timeline.png").stat().st_size > 1000


def test_overlapping_jobs_of_one_provider_get_rows_of_their_own() -> None:
    import pandas as pd

    from nbmedia.lib.plots import lanes, timeline

    assert lanes([0, 1, 4, 5], [3, 4, 6, 7]) == [0, 1, 0, 1]
    assert lanes([0, 1, 2], [3, 4, 6]) == [0, 1, 2]
    at = pd.Timestamp("2026-11-30 12:00", tz="UTC")
    jobs = pd.DataFrame(
        {
            "provider": ["meshapi", "meshapi", "meshapi", "vimmerse"],
            "status": ["succeeded", "succeeded", "failed", "running"],
            "created_at": [at, at + pd.Timedelta("1s"), at + pd.Timedelta("9s"), at],
            "completed_at": [at + pd.Timedelta(s) for s in ("8s", "5s", "12s")] + [pd.NaT],
            "updated_at": [at + pd.Timedelta("12s")] * 4,
        }
    )
    fig = timeline(jobs, show=False)
    rows = sorted(round(p.get_y() + p.get_height() / 2, 2) for p in fig.axes[0].patches)
    assert rows == [0, 0, 1, 2.5]  # two overlapping meshapi jobs: two rows; the third reuses one
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["meshapi", "vimmerse"]
