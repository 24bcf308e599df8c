"""A notebook executed headless keeps what it showed: the final players, small, no widget state."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(300)]

VIDEO_SRC = re.compile(r"<video\b[^>]*\bsrc=\"([^\"]+)\"")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def execute(folder: Path, sandbox_url: str, *cells: str) -> tuple[nbformat.NotebookNode, str]:
    """Runs the cells after a Studio on the test's sandbox; the notebook and its saved text."""
    nb = nbformat.v4.new_notebook()
    setup = (
        "import nbmedia as nm\n"
        "from nbmedia.sandbox import Sandbox\n"
        f"studio = nm.Studio(sandbox=Sandbox.attach({sandbox_url!r}))"
    )
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (setup, *cells)]
    NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    path = folder / "saved.ipynb"
    nbformat.write(nb, path)
    return nb, path.read_text()


def outputs(nb: nbformat.NotebookNode, cell: int) -> list[dict]:
    return nb.cells[cell].outputs


def test_twenty_videos_are_saved_as_players_in_under_50_kb(tmp_path: Path, sandbox) -> None:
    nb, text = execute(
        tmp_path,
        sandbox.url,
        "jobs = [studio.generate(f'clip {i}', provider='vimmerse', duration=1) for i in range(20)]\n"
        "display(*jobs)",
        # the tracker, a task of an earlier cell, settles the jobs while this cell waits
        "for job in jobs:\n    job.wait(timeout=180)",
    )
    assert len(text) <= 50_000, f"saved {len(text)} bytes"
    shown = outputs(nb, 1)
    assert len(shown) == 20
    sources = []
    for out in shown:
        assert WIDGET_VIEW not in out["data"]
        html = out["data"]["text/html"]
        assert "nbmedia-status-succeeded" in html and len(html) < 1000
        assert " · succeeded · " in out["data"]["text/plain"]
        sources += VIDEO_SRC.findall(html)
    assert len(sources) == 20 and len(set(sources)) == 20
    for src in sources:
        assert not src.startswith(("/", "data:", "http")), src
        assert (tmp_path / src).stat().st_size > 0, src
    assert "widget-state" not in json.dumps(nb.metadata)
    page, _ = HTMLExporter().from_notebook_node(nb)  # what nbconvert and nbviewer show
    assert len(set(VIDEO_SRC.findall(page))) == 20


def test_a_job_finishing_in_a_later_cell_ends_saved_as_its_player(tmp_path: Path, sandbox) -> None:
    nb, _ = execute(
        tmp_path,
        sandbox.url,
        "job = studio.speech('Finished while another cell awaits.', format='wav')\njob",
        # no wait on the job here: only the tracker's updates, sent while this cell runs
        "import asyncio\n"
        "for _ in range(300):\n"
        "    if job.done:\n"
        "        break\n"
        "    await asyncio.sleep(0.1)\n"
        "await asyncio.sleep(0.5)",
    )
    (out,) = outputs(nb, 1)
    assert "<audio" in out["data"]["text/html"] and "succeeded" in out["data"]["text/plain"]


def test_a_closed_studio_says_it_stopped_following(tmp_path: Path, sandbox) -> None:
    nb, _ = execute(
        tmp_path,
        sandbox.url,
        "box = studio.sandbox\nbox.speed = 0.05  # still rendering when the Studio closes\n"
        "job = studio.generate('Left running', provider='meshapi', duration=4)\njob",
        "studio.close()\nbox.speed = 1",
    )
    (out,) = outputs(nb, 1)
    assert "stopped following — a new Studio resumes it" in out["data"]["text/plain"]
    assert "nbmedia-status-stopped" in out["data"]["text/html"]


def test_a_comparison_and_a_batch_are_saved_with_their_results(tmp_path: Path, sandbox) -> None:
    nb, _ = execute(
        tmp_path,
        sandbox.url,
        "cmp = studio.compare('Peaks', providers=['vimmerse', 'meshapi'], duration=4)\ncmp",
        "import pandas as pd\n"
        "batch = studio.batch(pd.DataFrame({'kind': ['speech'] * 3, 'prompt': ['a', 'b', 'c']}))\n"
        "batch",
        "cmp.wait(timeout=180)\nbatch.wait(timeout=180)\nstudio.rate(cmp['meshapi'], -1)",
        "'the grid shows the rating from the start of this cell'",
    )
    grid, ratings = outputs(nb, 1)
    assert len(VIDEO_SRC.findall(grid["data"]["text/html"])) == 2
    assert WIDGET_VIEW in ratings["data"]  # the buttons stay a widget
    assert "meshapi video · succeeded" in grid["data"]["text/plain"]
    assert grid["data"]["text/plain"].endswith("rated down")  # meshapi, the last column
    (counts,) = outputs(nb, 2)
    assert "3/3 finished" in counts["data"]["text/plain"]
    assert "<progress" not in counts["data"]["text/html"]


def test_widgets_leave_a_view_of_their_last_state(tmp_path: Path, sandbox) -> None:
    nb, _ = execute(
        tmp_path,
        sandbox.url,
        "picker = studio.voice_picker('vimmerse')\npicker",
        "form = studio.form('mercadream', 'speech')\nform",
        "picker.dropdown.value = 'Rachel'\npicker.play.click()\n"
        "form.inputs['text'].control.value = 'From the form.'\n"
        "form.inputs['format'].control.value = 'wav'\n"
        "form.send().wait(timeout=120)",
        "'the views above follow from the start of this cell'",
    )
    (picker,) = outputs(nb, 1)
    assert WIDGET_VIEW in picker["data"] and picker["data"]["text/plain"] == "voice: Rachel [en]"
    assert "<b>Rachel [en]</b>" in picker["data"]["text/html"]
    assert "media/vimmerse/samples/Rachel.wav" in picker["data"]["text/html"]
    (form,) = outputs(nb, 2)
    assert "text='From the form.'" in form["data"]["text/plain"]
    assert "nbmedia-status-succeeded" in form["data"]["text/html"]
    assert "<audio" in form["data"]["text/html"]


def test_a_closed_studios_widgets_keep_only_their_saved_views(tmp_path: Path, sandbox) -> None:
    """JupyterLab draws a widget view over the HTML beside it, even once its model is gone:
    after its Studio closes, a widget's output holds its snapshot alone (another Studio's
    widgets stay live)."""
    nb, _ = execute(
        tmp_path,
        sandbox.url,
        "picker = studio.voice_picker('vimmerse')\npicker",
        "form = studio.form('mercadream', 'speech')\nform",
        "cmp = studio.compare('Peaks', providers=['vimmerse', 'meshapi'], duration=4)\n"
        "cmp.wait(timeout=180)\ncmp",
        "import tempfile\n"
        "other = nm.Studio(tempfile.mkdtemp(), sandbox=studio.sandbox)\nother.job_table()",
        "studio.close()",
    )
    (picker,), (form,), (_grid, ratings), (table,) = (outputs(nb, c) for c in range(1, 5))
    for frozen in (picker, form, ratings):
        assert WIDGET_VIEW not in frozen["data"], frozen["data"]["text/plain"]
        assert frozen["data"]["text/html"]
    assert picker["data"]["text/plain"].startswith("voice: ")
    assert form["data"]["text/plain"].startswith("MercaDream · speech form: ")
    assert ratings["data"]["text/plain"] == "ratings: none yet"
    assert WIDGET_VIEW in table["data"]  # its Studio is still open
