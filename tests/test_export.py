"""studio.export writes a folder that stands on its own; the plots draw the job table."""

from __future__ import annotations

import html.parser
from pathlib import Path

import pandas as pd
import pytest

import nbmedia as nm
from nbmedia.plots import provider_summary

pytestmark = pytest.mark.timeout(180)


class Sources(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.srcs += [v for k, v in attrs if k == "src" and v]


def test_export_is_self_contained(tmp_path: Path, sandbox) -> None:
    with nm.Studio(root=tmp_path / "work", sandbox=sandbox) as studio:
        video = studio.generate("Exported", duration=15, resolution="720p")
        speech = studio.speech("Exported speech", format="wav")
        video.wait(timeout=120)
        speech.wait(timeout=60)
        nb = tmp_path / "work" / "analysis.ipynb"
        nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
        page = studio.export(tmp_path / "out", notebook=nb)
    out = tmp_path / "out"
    assert page == out / "index.html" and (out / "analysis.ipynb").exists()
    table = pd.read_csv(out / "jobs.csv")
    assert set(table["id"]) == {video.id, speech.id}
    parser = Sources()
    parser.feed(page.read_text())
    assert len(parser.srcs) == 2
    for src in parser.srcs:
        assert not src.startswith(("/", "http", "..")) and (out / src).exists(), src
    # the folder keeps working when moved
    moved = tmp_path / "elsewhere"
    out.rename(moved)
    assert all((moved / s).exists() for s in parser.srcs)


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
