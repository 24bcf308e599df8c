"""studio.export writes a folder that stands on its own."""

from __future__ import annotations

import html.parser
from pathlib import Path

import pandas as pd
import pytest

import nbmedia as nm

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


def test_a_row_with_missing_values_reads_as_nothing_missing(tmp_path: Path) -> None:
    from nbmedia.lib.export import export

    row = {"provider": "meshapi", "kind": "video", "status": "failed", "prompt": float("nan")}
    row |= {"elapsed_s": 3.44, "cost": float("nan"), "output_path": None}
    row |= {"error_code": "content_policy", "error_message": None}
    page = export(pd.DataFrame([row]), tmp_path / "out").read_text()
    mixed = pd.DataFrame([row, {**row, "output_path": float("nan")}])  # NaN for no file
    assert "content_policy" in export(mixed, tmp_path / "out3").read_text()
    body = page[page.index("<div class='job'>") :]
    assert "3.4 s" in body and "content_policy: </p>" in body
    assert "nan" not in body.lower() and "None" not in body
