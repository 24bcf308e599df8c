"""The quickstart notebook in a real JupyterLab: live progress, players that load, the job table."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest

from .conftest import KERNEL_IDLE_TIMEOUT_MS, REPO, JupyterServer, Lab, LabNotebook, Screenshots

if TYPE_CHECKING:
    from playwright.sync_api import Locator

    from nbmedia.sandbox import Sandbox

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

QUICKSTART = REPO / "notebooks" / "01_quickstart.ipynb"
PROGRESS_SPEED = 0.5
"""Sandbox speed while the video renders: about 7 s, time for several polls to move the bar."""
MEDIA_TIMEOUT_MS = 30_000
DURATION_TOLERANCE_S = 0.2


def _code_cell(cells: list[dict[str, Any]], needle: str) -> int:
    """Index (among all cells, as the page counts them) of the first code cell with ``needle``."""
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and needle in "".join(cell["source"]):
            return i
    raise AssertionError(f"no cell in {QUICKSTART.name} contains {needle!r}")


def _bar_percent(job: Locator) -> float | None:
    """How full the job's progress bar is, in percent (100 once the job has succeeded and the
    bar gave way to the player; None while the bar is indeterminate or not there)."""
    return job.evaluate(
        """j => {
            if (j.classList.contains('nbmedia-status-succeeded')) return 100;
            const bar = j.querySelector('progress.nbmedia-bar');
            return bar && bar.position >= 0 ? Math.round(1000 * bar.position) / 10 : null;
        }"""
    )


def _wait_for_media(nb: LabNotebook, media: Locator) -> dict[str, float | int | str | None]:
    """Wait until a ``<video>``/``<audio>`` element has metadata (or failed); its state."""
    handle = media.element_handle()
    nb.page.wait_for_function(
        "e => e.readyState >= 1 || e.error !== null", arg=handle, timeout=MEDIA_TIMEOUT_MS
    )
    return media.evaluate(
        """e => ({readyState: e.readyState, duration: e.duration, src: e.currentSrc,
                  error: e.error && e.error.code})"""
    )


def _table_rows(table: Locator) -> list[dict[str, str]]:
    """A rendered pandas table as one dict per row, keyed by column header."""
    return table.evaluate(
        """t => {
            const heads = [...t.querySelectorAll('thead th')].map(th => th.innerText.trim());
            return [...t.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(
                [...tr.children].map((td, i) => [heads[i] || String(i), td.innerText.trim()])));
        }"""
    )


def test_quickstart_runs_in_jupyterlab(
    lab: Lab, screenshots: Screenshots, sandbox: Sandbox
) -> None:
    """Cell by cell, as a user would: moving bars, players that load, a three-row job table."""
    cells = json.loads(QUICKSTART.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells]
    studio_cell = _code_cell(cells, "nm.Studio(")
    video_cell = _code_cell(cells, "studio.generate(")
    speech_cell = _code_cell(cells, "studio.speech(")
    music_cell = _code_cell(cells, "studio.music(")
    wait_cell = _code_cell(cells, ".wait(")
    table_cell = _code_cell(cells, "studio.jobs()")
    invalid_cell = _code_cell(cells, "duration=45")
    video_duration = float(re.search(r"duration=(\d+)", sources[video_cell])[1])
    music_duration = float(re.search(r"duration=(\d+)", sources[music_cell])[1])
    requests_before = sum(1 for r in sandbox.request_log if r.provider == "mercadream")

    nb = lab.open(QUICKSTART)
    screenshots.save(nb.page, "opened-kernel-idle")

    # the Studio, on the test's sandbox (the kernel attached to it)
    nb.run_cells(0, studio_cell + 1)
    shown = nb.output(studio_cell).inner_text()  # the Studio's HTML: one row a provider
    assert "MercaDream mercadream\tsandbox" in shown and "0 open jobs" in shown, shown
    screenshots.save(nb.page, "studio", show=nb.cell(studio_cell))

    # the video job: the bar moves while it renders, then a player that loads
    speed = sandbox.speed
    sandbox.speed = PROGRESS_SPEED
    try:
        nb.run_cells(studio_cell + 1, video_cell + 1)
        job = nb.output(video_cell).locator(".nbmedia-job")  # redrawn in place as it changes
        job.wait_for()
        samples: list[float] = []
        shot = False
        deadline = time.monotonic() + 60
        while not samples or samples[-1] < 100:
            percent = _bar_percent(job)
            if percent is not None:
                samples.append(percent)
            if not shot and samples and 0 < samples[-1] < 100:
                screenshots.save(nb.page, "video-progress", show=job)
                shot = True
            assert time.monotonic() < deadline, f"the bar never reached 100%: {samples}"
            nb.page.wait_for_timeout(100)
    finally:
        sandbox.speed = speed
    moving = sorted({s for s in samples if 0 < s < 100})
    assert len(moving) >= 2, f"the bar did not move before 100%: {samples}"
    assert samples == sorted(samples), f"the bar went backwards: {samples}"
    assert not job.locator("progress").count()  # a finished job has its player, not a bar

    video = job.locator("video")
    video.wait_for(timeout=MEDIA_TIMEOUT_MS)
    state = _wait_for_media(nb, video)
    print(f"progress bar samples (%): {samples}")
    screenshots.save(nb.page, "video-player", show=job)
    assert state["error"] is None and state["readyState"] >= 1, state
    assert re.search(r"/files/.*media/mercadream/job_\w+\.mp4", str(state["src"])), state
    assert abs(float(state["duration"]) - video_duration) <= DURATION_TOLERANCE_S, state
    assert job.locator(".nbmedia-status").inner_text() == "succeeded"

    # speech and music: their players load; the music lasts what was asked for
    nb.run_cells(video_cell + 1, wait_cell + 1)
    audio: dict[str, dict[str, float | int | str | None]] = {}
    for name, index in (("speech", speech_cell), ("music", music_cell)):
        player = nb.output(index).locator(".nbmedia-job audio")
        player.wait_for(timeout=MEDIA_TIMEOUT_MS)
        audio[name] = _wait_for_media(nb, player)
        assert audio[name]["error"] is None and audio[name]["readyState"] >= 1, audio[name]
    assert float(audio["speech"]["duration"]) > 1.0, audio["speech"]
    assert abs(float(audio["music"]["duration"]) - music_duration) <= DURATION_TOLERANCE_S
    screenshots.save(nb.page, "speech-and-music", show=nb.cell(speech_cell))
    assert "succeeded" in nb.output(wait_cell).inner_text()

    # the job table: three jobs, all succeeded
    nb.run_cells(wait_cell + 1, table_cell + 1)
    table = nb.output(table_cell).locator("table.dataframe")
    table.wait_for()
    screenshots.save(nb.page, "jobs-table", show=nb.output(table_cell))
    rows = _table_rows(table)
    assert len(rows) == 3, rows
    assert sorted(r["kind"] for r in rows) == ["music", "speech", "video"], rows
    assert {r["status"] for r in rows} == {"succeeded"}, rows

    # the rest (bad input is refused before anything is sent); nothing raised anywhere
    nb.run_cells(table_cell + 1, len(cells))
    assert "duration=45 is invalid" in nb.output(invalid_cell).inner_text()
    screenshots.save(nb.page, "validation", show=nb.cell(invalid_cell))
    assert not nb.tracebacks()
    requests_after = sum(1 for r in sandbox.request_log if r.provider == "mercadream")
    assert requests_after > requests_before, "the kernel did not use the test's sandbox"


def test_video_player_shows_a_picture_at_16_9(
    lab: Lab, screenshots: Screenshots, tmp_path: Path
) -> None:
    """Before playing, the player shows a real picture (a poster that loads, or the first
    frame) in the video's own 16:9 shape, not an empty 300x150 box."""
    notebook = tmp_path / "player.ipynb"
    nb_doc = nbformat.v4.new_notebook()
    nb_doc.cells = [
        nbformat.v4.new_code_cell(
            "import nbmedia as nm\n"
            "studio = nm.Studio()\n"
            "video = studio.generate('A picture in a 16:9 frame', duration=15, resolution='720p')\n"
            "video"
        )
    ]
    nbformat.write(nb_doc, notebook)
    nb = lab.open(notebook)
    nb.run_cell(0)
    video = nb.output(0).locator(".nbmedia-job video")
    video.wait_for(timeout=MEDIA_TIMEOUT_MS)
    state = _wait_for_media(nb, video)
    assert state["error"] is None and state["readyState"] >= 1, state
    nb.page.wait_for_function(
        "e => e.readyState >= 2", arg=video.element_handle(), timeout=MEDIA_TIMEOUT_MS
    )
    look = video.evaluate(
        """async e => {
            const poster = e.getAttribute('poster');
            const type = poster === null ? null
                : (await fetch(new URL(poster, document.baseURI))).headers.get('content-type');
            const box = e.getBoundingClientRect();
            // the frame on show: its luminance spread tells a picture from a blank box
            const c = document.createElement('canvas');
            c.width = 64; c.height = 36;
            const ctx = c.getContext('2d');
            ctx.drawImage(e, 0, 0, c.width, c.height);
            const px = ctx.getImageData(0, 0, c.width, c.height).data;
            const lum = [];
            for (let i = 0; i < px.length; i += 4) lum.push(px[i] + px[i + 1] + px[i + 2]);
            const mean = lum.reduce((a, b) => a + b, 0) / lum.length;
            const spread = Math.sqrt(lum.reduce((a, b) => a + (b - mean) ** 2, 0) / lum.length);
            return {poster, type, width: box.width, height: box.height, spread,
                    videoWidth: e.videoWidth, videoHeight: e.videoHeight};
        }"""
    )
    screenshots.save(nb.page, "video-player", show=nb.output(0))
    if look["poster"] is not None:
        assert str(look["type"]).startswith("image/"), look
    assert abs(look["videoWidth"] / look["videoHeight"] - 16 / 9) < 0.01, look
    assert abs(look["width"] / look["height"] - 16 / 9) < 0.02, look
    assert look["width"] > 300, look
    assert look["spread"] > 10, look


def test_saved_quickstart_reopens_with_its_players_and_chart(
    lab: Lab, screenshots: Screenshots, jupyter_server: JupyterServer
) -> None:
    """Run it, save it, shut its kernel down and open it again: the players load and the chart
    shows from the saved notebook alone (no widget state, no kernel of the first run)."""
    cells = json.loads(QUICKSTART.read_text())["cells"]
    nb = lab.open(QUICKSTART)
    nb.run_cells(0, len(cells))
    assert not nb.tracebacks()
    nb.cell(0).locator(".jp-InputPrompt").click()
    nb.page.keyboard.press("Control+s")
    saved = lab.path / QUICKSTART.name
    deadline = time.monotonic() + 20
    while "<video" not in saved.read_text():
        assert time.monotonic() < deadline, "JupyterLab did not save the outputs"
        nb.page.wait_for_timeout(200)
    jupyter_server.shutdown_kernels()

    nb.page.goto(nb.page.url)  # reopened: a new kernel, nothing of the first run's widgets
    again = LabNotebook(nb.page, nb.name)
    again.cells.first.wait_for(timeout=KERNEL_IDLE_TIMEOUT_MS)
    again.wait_idle()
    players = again.panel.locator(".nbmedia-job video, .nbmedia-job audio")
    players.first.wait_for(timeout=MEDIA_TIMEOUT_MS)
    assert players.count() == 3
    for i in range(3):
        state = _wait_for_media(again, players.nth(i))
        assert state["error"] is None and float(state["duration"]) > 0, state
    chart = again.panel.locator(".jp-OutputArea-output img").first
    chart.wait_for(timeout=MEDIA_TIMEOUT_MS)
    size = chart.evaluate("e => [e.naturalWidth, e.getBoundingClientRect().height]")
    assert size[0] > 300 and size[1] > 100, size
    screenshots.save(again.page, "reopened-chart", show=chart)
    assert "Error displaying widget" not in again.panel.inner_text()
    assert again.panel.locator(".nbmedia-status-succeeded").count() == 3


def test_quickstart_executed_headless_opens_untrusted_with_its_players(
    lab: Lab, screenshots: Screenshots, sandbox: Sandbox, tmp_path: Path, monkeypatch
) -> None:
    """Executed by nbclient (as CI or a scheduler would) and opened in JupyterLab, untrusted:
    the sanitizer keeps `src` on <video>/<audio>, so the players still load."""
    from nbclient import NotebookClient

    monkeypatch.setenv("NBMEDIA_SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("JPY_SESSION_NAME", QUICKSTART.name)
    doc = nbformat.read(QUICKSTART, as_version=4)
    NotebookClient(
        doc, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(lab.path)}}
    ).execute()
    executed = tmp_path / QUICKSTART.name
    nbformat.write(doc, executed)
    nb = lab.open(executed)  # never signed by this server: untrusted
    trust = nb.page.locator("[title^='Notebook not trusted']")
    assert trust.count() == 1, "JupyterLab trusts the notebook: the sanitizer is not tested"
    players = nb.panel.locator(".nbmedia-job video, .nbmedia-job audio")
    players.first.wait_for(timeout=MEDIA_TIMEOUT_MS)
    assert players.count() == 3
    for i in range(3):
        state = _wait_for_media(nb, players.nth(i))
        assert state["error"] is None and float(state["duration"]) > 0, state
    assert nb.panel.locator(".jp-OutputArea-output img").first.evaluate("e => e.naturalWidth") > 0
    screenshots.save(nb.page, "untrusted-players", show=players.first)
