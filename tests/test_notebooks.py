"""Every notebook runs top to bottom, headless, from a fresh kernel, against the sandbox."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
KEY_LIKE = re.compile(r"(mk_live_|mk_test_|rsk_|vsk_|whsec_)[A-Za-z0-9]{8,}")

pytestmark = pytest.mark.notebook


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_headless(path: Path, tmp_path: Path, monkeypatch) -> None:
    for env in (
        "MERCADREAM_API_KEY",
        "VIMMERSE_API_KEY",
        "VIDDYSCRIBE_API_KEY",
        "MESHAPI_API_KEY",
        "SYNC_API_KEY",
    ):
        monkeypatch.delenv(env, raising=False)
    work = tmp_path / path.name
    shutil.copy(path, work)
    nb = nbformat.read(work, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
    assert (tmp_path / ".nbmedia" / "ledger.sqlite").exists()
    assert list((tmp_path / "media").rglob("*.*")), "the notebook produced no media files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_saved_notebook_is_clean(path: Path) -> None:
    text = path.read_text()
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "saved with outputs"
    assert "application/vnd.jupyter.widget-state+json" not in nb.get("metadata", {}).get(
        "widgets", {}
    )
    assert ";base64," not in text
    assert not KEY_LIKE.search(text)
    assert len(text) < 50_000
