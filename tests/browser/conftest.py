"""Browser fixtures: a real JupyterLab server, headless Debian Chromium driven by Playwright.

- ``jupyter_server`` (session): ``jupyter lab`` on 127.0.0.1, a free port and a random token,
  rooted in a temporary folder. Its kernels use the session's ``sandbox``: the server's
  environment carries ``NBMEDIA_SANDBOX_URL``, which ``nbmedia.sandbox.shared()`` honours by
  attaching to that sandbox, so a plain ``nm.Studio()`` in a notebook talks to the test's
  sandbox (its speed, faults, request log).
- ``browser`` (session): headless ``/usr/bin/chromium`` through Playwright.
- ``lab`` (per test): a fresh browser page; ``lab.open(notebook)`` copies the notebook into the
  server's root, opens it, waits for an idle kernel and returns a ``LabNotebook`` that runs
  cells one at a time through the toolbar's run button.
- ``screenshots`` (per test): ``screenshots.save(page, "step")`` writes
  ``test-artifacts/screenshots/<test>/NN-step.png`` (``NBMEDIA_SCREENSHOTS`` overrides the
  folder); the folder is printed once at the end of the session.

Every test in this folder is marked ``browser`` (``-m "not browser"`` leaves them out).
Without ``/usr/bin/chromium`` (or Playwright) they skip, unless ``CI`` is set: then they fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

    from nbmedia.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(os.environ.get("NBMEDIA_SCREENSHOTS") or REPO / "test-artifacts" / "screenshots")
SERVER_START_TIMEOUT = 60.0
KERNEL_IDLE_TIMEOUT_MS = 60_000
CELL_TIMEOUT_MS = 120_000
VIEWPORT = {"width": 1280, "height": 1000}


LAB_SETTINGS = {
    # no request to the news feed, so no "news" notification to dismiss
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # every cell stays in the DOM, so cells can be found by index wherever the page scrolled
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under this folder ``browser``."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


def _require_chromium() -> None:
    """Skip without Chromium or Playwright on a developer machine; in CI that is an error."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (Debian package `chromium`; .ci/run installs it)"
    elif importlib.util.find_spec("playwright") is None:
        reason = "playwright is not installed (pip install -e '.[test]')"
    else:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def _safe_name(text: str) -> str:
    """``text`` as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterServer:
    """A running ``jupyter lab``: where it listens, its token and its root folder."""

    url: str
    token: str
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def api(self, method: str, path: str) -> httpx.Response:
        """One authenticated call to the server's REST API."""
        return httpx.request(
            method,
            f"{self.url}{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=10,
            trust_env=False,
        )

    def shutdown_kernels(self) -> None:
        """Stop every kernel (a finished test's kernel must not keep rendering)."""
        for session in self.api("GET", "/api/sessions").json():
            self.api("DELETE", f"/api/sessions/{session['id']}")


@pytest.fixture(scope="session")
def jupyter_server(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterServer]:
    """``jupyter lab`` on loopback with a random token; its kernels attach to ``sandbox``."""
    _require_chromium()  # no browser, no point in starting the server
    base = tmp_path_factory.mktemp("jupyter")
    root = base / "root"
    root.mkdir()
    settings = base / "lab-settings"
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY")  # a live key must not send the notebook to a real service
    }
    env.update(
        NBMEDIA_SANDBOX_URL=sandbox.url,
        IPYTHONDIR=str(base / "ipython"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        NO_PROXY="127.0.0.1,localhost",
    )
    token = secrets.token_hex(16)
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "jupyter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    server = JupyterServer(f"http://127.0.0.1:{port}", token, root, proc, log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({proc.returncode}):\n{log.read_text()}")
            try:
                if server.api("GET", f"/api/status?token={token}").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer in time:\n{log.read_text()}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (``playwright install`` is never needed)."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Screenshots:
    """Numbered PNGs of one test's steps, in one folder per test."""

    folder: Path
    count: int = 0
    saved: list[Path] = field(default_factory=list)

    def save(self, page: Page, step: str, *, show: Locator | None = None) -> Path:
        """Screenshot the page as ``NN-step.png`` (after scrolling ``show`` to the top)."""
        if show is not None:
            show.evaluate("e => e.scrollIntoView({block: 'start'})")
        self.count += 1
        path = self.folder / f"{self.count:02d}-{_safe_name(step)}.png"
        page.screenshot(path=str(path))
        self.saved.append(path)
        return path


_screenshot_folders: list[Path] = []


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    """Where this test's screenshots go (emptied first, so a folder shows one run)."""
    folder = SCREENSHOTS / _safe_name(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _screenshot_folders.append(folder)
    return Screenshots(folder)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the screenshot folder once per session, if any test saved screenshots there."""
    if _screenshot_folders:
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")


class LabNotebook:
    """One notebook open in JupyterLab; cells run one at a time with the toolbar button."""

    RUN_BUTTON = "jp-button[data-command='notebook:run-cell-and-select-next']"

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        self.cells = self.panel.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        """The cell at ``index`` (markdown cells count)."""
        return self.cells.nth(index)

    def output(self, index: int) -> Locator:
        """The output area of the cell at ``index``."""
        return self.cell(index).locator(".jp-Cell-outputArea")

    @property
    def active_index(self) -> int:
        """Index of the active cell, or -1."""
        return self.page.evaluate(
            """(sel) => [...document.querySelectorAll(sel)]
                .findIndex(c => c.classList.contains('jp-mod-active'))""",
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell",
        )

    def wait_idle(self, timeout_ms: int = KERNEL_IDLE_TIMEOUT_MS) -> None:
        """Wait for the status bar to read "… | Idle".

        A notebook without kernel metadata makes JupyterLab ask for a kernel first: the
        dialog's default (the notebook's own Python) is accepted.
        """
        idle = self.page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\|\s*Idle"))
        dialog = self.page.locator(".jp-Dialog", has_text="Select Kernel")
        deadline = time.monotonic() + timeout_ms / 1000
        while not idle.count():
            if dialog.count():
                dialog.locator("button.jp-mod-accept").click()
            if time.monotonic() > deadline:
                status = self.page.locator(".jp-StatusBar-panel").inner_text()
                raise TimeoutError(f"no idle kernel after {timeout_ms} ms; status bar: {status!r}")
            self.page.wait_for_timeout(100)

    def dismiss_news(self) -> None:
        """Answer "No" to the news notification if JupyterLab shows it."""
        button = self.page.locator(".jp-Notification-Toast-Content button", has_text="No")
        if button.count():
            button.first.click()

    def run_cell(self, index: int, timeout_ms: int = CELL_TIMEOUT_MS) -> Locator:
        """Select cell ``index``, run it with the toolbar button and wait until it finished."""
        if self.active_index != index:
            self.cell(index).locator(".jp-InputPrompt").click()
        cell = self.cell(index)
        is_code = "jp-CodeCell" in (cell.get_attribute("class") or "")
        before = cell.locator(".jp-InputArea-prompt").inner_text() if is_code else ""
        self.panel.locator(self.RUN_BUTTON).click()
        if is_code:
            prompt = cell.locator(".jp-InputArea-prompt")
            deadline = time.monotonic() + timeout_ms / 1000
            while True:
                text = prompt.inner_text()
                if re.search(r"\[\d+\]", text) and text != before:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"cell {index} still {text!r} after {timeout_ms} ms")
                self.page.wait_for_timeout(50)
            self.wait_idle()
        return cell

    def run_cells(self, start: int, stop: int) -> None:
        """Run cells ``start`` .. ``stop - 1`` in order."""
        for i in range(start, stop):
            self.run_cell(i)

    def tracebacks(self) -> list[str]:
        """Every error (with its traceback) shown in the notebook's outputs."""
        stderr = self.panel.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        return [t for t in stderr.all_inner_texts() if "Traceback" in t]


class Lab:
    """A fresh page on the JupyterLab server and this test's own folder in the server's root."""

    def __init__(self, server: JupyterServer, page: Page, folder: str) -> None:
        self.server = server
        self.page = page
        self.folder = folder
        self.path = server.root / folder
        self.path.mkdir(parents=True, exist_ok=True)

    def open(self, notebook: Path) -> LabNotebook:
        """Copy ``notebook`` into this test's folder, open it and wait for an idle kernel.

        The kernel's working folder is that one, so its ``media/`` and ``.nbmedia/`` ledger
        belong to this test alone.
        """
        shutil.copy(notebook, self.path / notebook.name)
        name = f"{self.folder}/{notebook.name}"
        # a workspace of its own, so the page does not reopen notebooks of earlier tests
        url = f"{self.server.url}/lab/workspaces/{self.folder}/tree/{name}"
        self.page.goto(f"{url}?token={self.server.token}")
        nb = LabNotebook(self.page, name)
        nb.cells.first.wait_for(timeout=KERNEL_IDLE_TIMEOUT_MS)
        nb.wait_idle()
        nb.dismiss_news()
        return nb


@pytest.fixture
def lab(
    jupyter_server: JupyterServer, browser: Browser, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """A new browser context on JupyterLab; its kernels are shut down afterwards."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        yield Lab(jupyter_server, page, _safe_name(request.node.name))
    finally:
        context.close()
        jupyter_server.shutdown_kernels()
