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
