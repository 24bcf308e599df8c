"""The project's notebooks, executed headless the way people run them: in order, in one folder
(so they share its ledger and media), and then all again; each must show what it promises
(its players and charts, in the saved notebook), not only end without an error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

FOLDER = Path(__file__).parent.parent / "notebooks"
NOTEBOOKS = [
    "01_quickstart.ipynb",
    "02_compare_providers.ipynb",
    "03_voices_and_music.ipynb",
    "04_audio_description.ipynb",
    "05_lipsync.ipynb",
    "06_batch.ipynb",
    "07_history.ipynb",
]
"""The notebooks the project ships (a scratch notebook saved beside them is not one)."""
SHOWS = {
    "01_quickstart.ipynb": (3, 1),
    "02_compare_providers.ipynb": (6, 1),
    "03_voices_and_music.ipynb": (7, 0),
    "04_audio_description.ipynb": (4, 0),
    "05_lipsync.ipynb": (4, 0),
    "06_batch.ipynb": (3, 1),
    "07_history.ipynb": (2, 1),
}
"""At least how many players (<video>/<audio> of a finished job) and charts each one saves."""
STEPS = [(run, name) for run in (1, 2) for name in NOTEBOOKS]
KEYS = (
    "MERCADREAM_API_KEY", "VIMMERSE_API_KEY", "VIDDYSCRIBE_API_KEY", "MESHAPI_API_KEY", "SYNC_API_KEY",
)  # fmt: skip
KEY_LIKE = re.compile(r"(mk_live_|mk_test_|rsk_|vsk_|whsec_)[A-Za-z0-9]{8,}")
PLAYER = re.compile(r"<(?:video|audio)\b[^>]*\bsrc=\"([^\"]+)\"")
JOB_STATE = re.compile(r"class='nbmedia-job nbmedia-status-(\w+)'")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one folder every notebook runs in, both times."""
    return tmp_path_factory.mktemp("notebooks")


@pytest.mark.notebook
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("run", "name"), STEPS, ids=[f"run{r}-{n[:2]}" for r, n in STEPS])
def test_notebooks_run_in_order_in_one_folder_twice(
    run: int, name: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in (*KEYS, "NBMEDIA_SANDBOX_URL"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", name)  # as JupyterLab tells its kernels
    nb = nbformat.read(FOLDER / name, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    nbformat.write(nb, folder / name)  # saved, as a user would
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    players = [src for h in html for src in PLAYER.findall(h)]
    charts = [o for o in outputs if "image/png" in o.get("data", {})]
    want_players, want_charts = SHOWS[name]
    assert len(players) >= want_players, players
    assert len(charts) >= want_charts
    for src in players:
        assert (folder / src).is_file(), f"{src} is not beside the notebook"
    states = {s for h in html for s in JOB_STATE.findall(h)}
    assert states <= {"succeeded", "stopped"}, f"saved while still {states}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_saved_notebook_is_clean(name: str) -> None:
    text = (FOLDER / name).read_text()
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
