"""The widget layer in a real JupyterLab: the generated form, the voice picker, the compare
grid with ratings, the job table and the cell magic, checked in the page itself."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

from .conftest import REPO, SCREENSHOTS, Lab, LabNotebook, Screenshots
from .test_quickstart_browser import MEDIA_TIMEOUT_MS, _wait_for_media

if TYPE_CHECKING:
    from playwright.sync_api import Locator

    from nbmedia.sandbox import Sandbox

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

README_SHOTS = SCREENSHOTS / "readme"
"""The README's pictures are made here; docs/ holds the copies that are committed."""


def _bar_percent(bar: Locator) -> float:
    """How much of its track a widget progress bar (the form's results) fills, in percent."""
    return bar.evaluate(
        """e => Math.round(1000 * e.getBoundingClientRect().width
                          / e.parentElement.getBoundingClientRect().width) / 10"""
    )


def notebook(tmp_path: Path, name: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def field(form: Locator, name: str) -> Locator:
    return form.locator(f".nbmedia-field-{name}")


def wait_until(nb: LabNotebook, check, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        nb.page.wait_for_timeout(100)


def test_generated_form_validates_as_you_type_and_submits(
    lab: Lab, screenshots: Screenshots, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = notebook(
        tmp_path,
        "form.ipynb",
        "import nbmedia as nm\nstudio = nm.Studio()\nform = studio.form('mercadream', 'video')\nform",
    )
    nb = lab.open(path)
    nb.run_cell(0)
    form = nb.output(0).locator(".nbmedia-form")
    form.wait_for()
    screenshots.save(nb.page, "form-defaults", show=form)

    # the documented defaults are filled in
    assert field(form, "resolution").locator("select").input_value() == "4k"
    assert field(form, "duration").locator("select").input_value() == "30"
    assert field(form, "fps").locator("select").input_value() == "24"
    assert field(form, "style").locator("input").input_value() == "cinematic"
    submit = form.locator(".nbmedia-submit")
    assert submit.is_disabled(), "submit must wait for a prompt"

    # too long a prompt: the rule next to the field, a red counter, submit stays disabled
    prompt = field(form, "prompt").locator("textarea")
    prompt.fill("x" * 1001)
    error = field(form, "prompt").locator(".nbmedia-field-error")
    wait_until(nb, lambda: "at most 1000" in error.inner_text(), "the prompt's error message")
    assert "1001 / 1000" in field(form, "prompt").locator(".nbmedia-counter").inner_text()
    assert submit.is_disabled()
    screenshots.save(nb.page, "form-invalid", show=form)

    # a valid request: the error goes, submit enables
    prompt.fill("Neon rain on Tokyo streets")
    field(form, "duration").locator("select").select_option("15")
    field(form, "resolution").locator("select").select_option("720p")
    wait_until(nb, lambda: not submit.is_disabled(), "submit to enable")
    assert error.inner_text().strip() == ""

    speed = sandbox.speed
    sandbox.speed = 0.5
    try:
        submit.click()
        job = form.locator(".nbmedia-results .nbmedia-job")
        job.wait_for(timeout=MEDIA_TIMEOUT_MS)
        bar = job.locator(".nbmedia-bar .progress-bar")
        samples: list[float] = []
        deadline = time.monotonic() + 60
        while not samples or samples[-1] < 100:
            samples.append(_bar_percent(bar))
            assert time.monotonic() < deadline, samples
            nb.page.wait_for_timeout(100)
            if len(samples) == 5:
                screenshots.save(nb.page, "form-progress", show=form)
    finally:
        sandbox.speed = speed
    assert len({s for s in samples if 0 < s < 100}) >= 2, f"the bar did not move: {samples}"
    video = job.locator("video")
    video.wait_for(timeout=MEDIA_TIMEOUT_MS)
    state = _wait_for_media(nb, video)
    assert state["error"] is None and state["readyState"] >= 1, state
    assert abs(float(state["duration"]) - 15) <= 0.2, state
    assert prompt.input_value() == "Neon rain on Tokyo streets", "the form stays for the next try"
    screenshots.save(nb.page, "form-player", show=form)
    assert not nb.tracebacks()


def test_voice_picker_plays_a_real_sample(
    lab: Lab, screenshots: Screenshots, tmp_path: Path
) -> None:
    path = notebook(
        tmp_path,
        "voices.ipynb",
        "import nbmedia as nm\nstudio = nm.Studio()\npicker = studio.voice_picker('vimmerse')\npicker",
    )
    nb = lab.open(path)
    nb.run_cell(0)
    picker = nb.output(0).locator(".nbmedia-voice-picker")
    picker.wait_for()
    options = picker.locator("select option").all_inner_texts()
    assert len(options) == 22 and any("Rachel" in o for o in options)
    picker.locator("select").select_option(label=next(o for o in options if "Rachel" in o))
    picker.locator(".nbmedia-voice-sample").click()
    audio = picker.locator("audio.nbmedia-sample")
    audio.wait_for(timeout=MEDIA_TIMEOUT_MS)
    state = _wait_for_media(nb, audio)
    assert state["error"] is None and state["readyState"] >= 1 and float(state["duration"]) > 1, (
        state
    )
    assert "samples/Rachel.wav" in str(state["src"])
    screenshots.save(nb.page, "voice-sample", show=picker)


def test_compare_grid_ratings_and_leaderboard(
    lab: Lab, screenshots: Screenshots, tmp_path: Path
) -> None:
    path = notebook(
        tmp_path,
        "compare.ipynb",
        "import nbmedia as nm\nstudio = nm.Studio()\n"
        "cmp = studio.compare('Drone shot over snowy peaks at sunrise',\n"
        "    providers=['mercadream', 'vimmerse', 'meshapi'],\n"
        "    per_provider={'mercadream': {'duration': 15, 'resolution': '720p'},\n"
        "                  'vimmerse': {'duration': 4}, 'meshapi': {'duration': 4}})\n"
        "cmp",
        "cmp.wait(timeout=120)\nstudio.leaderboard()",
    )
    nb = lab.open(path)
    nb.run_cell(0)
    grid = nb.output(0).locator(".nbmedia-compare")
    grid.wait_for()
    columns = grid.locator(".nbmedia-compare-column")
    assert columns.count() == 3
    for i in range(3):
        video = columns.nth(i).locator("video")
        video.wait_for(timeout=90_000)
        state = _wait_for_media(nb, video)
        assert state["error"] is None and state["readyState"] >= 1, state
    texts = [columns.nth(i).inner_text() for i in range(3)]
    units = {"mercadream": "compute unit", "vimmerse": "cost —", "meshapi": "tokens"}
    for (provider, unit), text in zip(units.items(), texts, strict=True):
        assert provider in text and "succeeded" in text and unit in text, text
    lines = grid.locator(".nbmedia-id").evaluate_all(
        "ids => ids.map(e => e.getClientRects().length)"
    )
    assert lines == [1, 1, 1], lines  # each id on one line, however narrow its column
    ratings = nb.output(0).locator(".nbmedia-ratings")  # the buttons under the grid
    ratings.locator(".nbmedia-rate-up").nth(0).click()
    ratings.locator(".nbmedia-rate-down").nth(1).click()
    nb.page.wait_for_timeout(500)
    assert "rated up" in columns.nth(0).inner_text()  # the grid (what is saved) says so too
    assert "rated down" in columns.nth(1).inner_text()
    nb.page.wait_for_function(  # the redrawn players loaded again: no spinner in the picture
        "g => [...g.querySelectorAll('video')].every(v => v.readyState >= 2)",
        arg=grid.element_handle(),
        timeout=30_000,
    )
    screenshots.save(nb.page, "compare-grid", show=grid)
    README_SHOTS.mkdir(parents=True, exist_ok=True)
    grid.screenshot(path=str(README_SHOTS / "compare.png"))
    nb.run_cell(1)
    board = nb.output(1).inner_text()
    assert "mercadream" in board and "vimmerse" in board
    ranked = [ln.split("\t")[1] for ln in board.splitlines() if ln.startswith(("0\t", "1\t"))]
    assert ranked == ["mercadream", "vimmerse"], board  # the 👍 ranks first


def test_job_table_and_magic(lab: Lab, screenshots: Screenshots, tmp_path: Path) -> None:
    path = notebook(
        tmp_path,
        "table.ipynb",
        "%load_ext nbmedia\nimport nbmedia as nm\nstudio = nm.Studio()\ntable = studio.job_table()\ntable",
        "%%nbmedia speech --format wav --speed 1.2\nSpoken from a cell magic.",
        "v = studio.generate('A table row with a thumbnail', duration=15, resolution='720p')\nv.wait(timeout=120)",
        "%nbmedia jobs",
    )
    nb = lab.open(path)
    nb.run_cell(0)
    table = nb.output(0).locator(".nbmedia-table")
    table.wait_for()
    nb.run_cell(1)
    magic_audio = nb.output(1).locator(".nbmedia-job audio")
    magic_audio.wait_for(timeout=MEDIA_TIMEOUT_MS)
    assert _wait_for_media(nb, magic_audio)["readyState"] >= 1
    nb.run_cell(2)
    # the table above refreshed itself as the jobs changed
    wait_until(nb, lambda: "2 of 2 jobs" in table.inner_text(), "the table to list both jobs")
    grid = table.locator(".nbmedia-job-table")
    assert "speech" in grid.inner_text() and "video" in grid.inner_text()
    assert table.locator(".nbmedia-job-table img").count() >= 1, "a thumbnail for the video"
    table.locator(".nbmedia-play").first.click()
    player = table.locator(".nbmedia-table-player video, .nbmedia-table-player audio")
    player.first.wait_for(timeout=MEDIA_TIMEOUT_MS)
    assert _wait_for_media(nb, player.first)["readyState"] >= 1
    screenshots.save(nb.page, "job-table", show=table)
    nb.run_cell(3)
    assert nb.output(3).locator(".nbmedia-table").count() == 1
    assert not nb.tracebacks()


def test_quickstart_screenshot_for_the_readme(lab: Lab, tmp_path: Path) -> None:
    """The README's picture: the quickstart's video cell after it played in a real page."""
    src = REPO / "notebooks" / "01_quickstart.ipynb"
    path = tmp_path / src.name
    shutil.copy(src, path)
    nb = lab.open(path)
    nb.run_cells(0, 4)
    job = nb.output(3).locator(".nbmedia-job")
    video = job.locator("video")
    video.wait_for(timeout=60_000)
    assert _wait_for_media(nb, video)["readyState"] >= 1
    nb.page.wait_for_timeout(300)
    README_SHOTS.mkdir(parents=True, exist_ok=True)
    nb.cell(3).screenshot(path=str(README_SHOTS / "quickstart.png"))


def test_the_export_preview_plays_in_lab_and_its_page_plays_from_disk(
    lab: Lab, screenshots: Screenshots, tmp_path: Path
) -> None:
    path = notebook(
        tmp_path,
        "export.ipynb",
        "import nbmedia as nm\nstudio = nm.Studio()\n"
        "v = studio.generate('Exported, then previewed', duration=15, resolution='720p')\n"
        "v.wait(timeout=120)\n"
        "page = studio.export('shared', notebook='export.ipynb')\n"
        "studio.preview(page)",
    )
    nb = lab.open(path)
    nb.run_cell(0)
    video = nb.output(0).locator(".nbmedia-export video")
    video.wait_for(timeout=MEDIA_TIMEOUT_MS)
    state = _wait_for_media(nb, video)  # through the Jupyter server's files route, no login
    assert state["error"] is None and state["readyState"] >= 1 and state["duration"] > 0, state
    screenshots.save(nb.page, "export-preview", show=nb.output(0))
    index = lab.path / "shared" / "index.html"
    assert index.is_file() and (lab.path / "shared" / "export.ipynb").is_file()
    page = nb.page.context.new_page()  # the exported page opened from disk, as a user would
    try:
        page.goto(index.as_uri())
        media = page.locator("video")
        media.first.wait_for(timeout=MEDIA_TIMEOUT_MS)
        handle = media.first.element_handle()
        page.wait_for_function(
            "e => e.readyState >= 1 || e.error !== null", arg=handle, timeout=MEDIA_TIMEOUT_MS
        )
        state = media.first.evaluate("e => ({ready: e.readyState, error: e.error, d: e.duration})")
        assert state["error"] is None and state["ready"] >= 1 and state["d"] > 0, state
    finally:
        page.close()


def test_widgets_saved_after_their_kernel_stopped_reopen_as_their_saved_views(
    lab: Lab, screenshots: Screenshots, tmp_path: Path
) -> None:
    """Shut the kernel down from JupyterLab, save, reopen: the picker and the job table show
    what they last showed, not "Error displaying widget: model not found"."""
    path = notebook(
        tmp_path,
        "stopped.ipynb",
        "import nbmedia as nm\nstudio = nm.Studio()\npicker = studio.voice_picker('vimmerse')\npicker",
        "studio.job_table()",
    )
    nb = lab.open(path)
    nb.run_cells(0, 2)
    nb.output(1).locator(".nbmedia-table").wait_for()
    nb.page.locator(".jp-NotebookPanel-toolbar").first.click()  # the notebook has the focus
    nb.page.get_by_role("menuitem", name="Kernel", exact=True).click()
    nb.page.get_by_role("menuitem", name="Shut Down Kernel", exact=True).click()
    # the Studio closes as the kernel exits: the outputs become the saved views, live
    wait_until(
        nb,
        lambda: nb.panel.locator(".nbmedia-table-snapshot").count() == 1,
        "the job table's saved view after the kernel stopped",
    )
    nb.cell(0).locator(".jp-InputPrompt").click()
    nb.page.keyboard.press("Control+s")
    saved = lab.path / path.name
    wait_until(nb, lambda: "nbmedia-table-snapshot" in saved.read_text(), "the notebook saved")
    assert "application/vnd.jupyter.widget-view+json" not in saved.read_text()

    nb.page.goto(nb.page.url)  # reopened, with a new kernel
    again = LabNotebook(nb.page, nb.name)
    again.cells.first.wait_for(timeout=60_000)
    again.wait_idle()
    again.panel.locator(".nbmedia-table-snapshot").wait_for()
    assert "voice: " in again.output(0).inner_text()
    assert "0 of 0 jobs" in again.output(1).inner_text()
    assert "Error displaying widget" not in again.panel.inner_text()
    screenshots.save(again.page, "reopened-widgets", show=again.output(0))
