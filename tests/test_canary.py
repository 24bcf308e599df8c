"""A canary key per provider, used as a live key against the sandbox through successes, 401s,
5xx, rate limits, dropped answers and validation errors: afterwards every artefact a key could
leak into is searched for it (reprs, exception texts and tracebacks, DEBUG logs with httpx and
httpcore, the ledger and its WAL, `jobs()` in every format, widget states, the export folder)."""

from __future__ import annotations

import io
import json
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

import nbmedia as nm
from nbmedia.providers import REGISTRY
from nbmedia.sandbox import Sandbox
from nbmedia.sandbox.services.media.video import render_video
from tests.mediacheck import tone

pytestmark = pytest.mark.timeout(300)

CANARIES = {
    "mercadream": "mk_test_canaryMD7c41f0e2",
    "meshapi": "rsk_canaryMESH93b2aa17",
    "syncso": "canarySYNC51aa0c3d",
    "viddyscribe": "vsk_canaryVS0d7e66b1",
    "vimmerse": "canaryVIMe8124f90",
}
LIVE_CANARY = "mk_live_canaryLIVE5e0b"
"""A MercaDream live key: the sandbox answers 401 invalid_api_key to it."""


def _leaks(text: str) -> list[str]:
    return [k for k in (*CANARIES.values(), LIVE_CANARY) if k in text]


def _files_text(root: Path) -> str:
    """Every file under `root`, as text (bytes decoded leniently: the ledger, its WAL)."""
    return "\n".join(
        p.read_bytes().decode("latin-1") for p in sorted(root.rglob("*")) if p.is_file()
    )


def test_no_key_appears_anywhere_after_successes_and_failures(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in REGISTRY:
        monkeypatch.setenv(f"NBMEDIA_{name.upper()}_BASE_URL", sandbox.base_url(name))
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.DEBUG)
    root_logger = logging.getLogger()
    old_level = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.DEBUG)  # nbmedia, httpx and httpcore at their chattiest
    shown: list[str] = []
    media = tmp_path / "inputs"
    media.mkdir()
    video = render_video(media / "talk.mp4", text="Talk", duration=2, fps=12, width=160, height=120)
    audio = tone(media / "voice.wav", 1.0, 8000)
    studio = nm.Studio(tmp_path / "studio", keys=CANARIES, sandbox=False)
    try:
        shown.append(repr(studio))
        shown.append(studio._repr_html_())
        jobs = [
            studio.speech("A canary sings.", format="wav"),
            studio.generate("A canary", provider="meshapi", duration=4),
            studio.generate("A canary", provider="vimmerse", duration=5),
            studio.lipsync(str(video), audio=str(audio)),
            studio.describe(str(video), format="vtt"),
        ]
        for job in jobs:
            job.wait(timeout=180)
            shown += [repr(job), str(job.request), json.dumps(job.raw, default=str)]
        errors: list[BaseException] = []

        def provoke(call: Any) -> None:
            try:
                call()
            except Exception as exc:  # what the user would see: text and traceback
                errors.append(exc)

        provoke(lambda: studio.speech("   "))  # a validation error
        sandbox.faults.fail_next_requests(6, status=503, path="/mercadream/")
        provoke(lambda: studio.speech("Through 5xx.", format="wav").wait(timeout=120))
        sandbox.faults.rate_limit_next(2, retry_after=1, path="/meshapi/")
        provoke(lambda: studio.generate("Rate limited", provider="meshapi", duration=4).wait(180))
        sandbox.faults.drop_after_receive_next(1, path="/vimmerse/")
        provoke(lambda: studio.generate("Dropped", provider="vimmerse", duration=5).wait(180))
        sandbox.faults.reset()
        live = nm.Studio(tmp_path / "live", keys={"mercadream": LIVE_CANARY}, sandbox=False)
        try:
            provoke(lambda: live.speech("Refused."))  # 401 invalid_api_key
            shown.append(repr(live))
        finally:
            live.close()
        assert any(isinstance(e, nm.ProviderError) and e.http_status == 401 for e in errors)
        for exc in errors:
            shown.append(str(exc))
            shown.append("".join(traceback.format_exception(exc)))
        frame = studio.jobs()
        shown += [
            repr(frame),
            frame.to_csv(),
            frame.to_json(date_format="iso"),
            frame.to_html(),
            json.dumps(frame.to_dict(), default=str),
        ]
        table = studio.job_table()
        shown.append(json.dumps(_widget_states(table), default=str))
        studio.export(tmp_path / "export")
    finally:
        studio.close()
        sandbox.faults.reset()
        root_logger.removeHandler(handler)
        root_logger.setLevel(old_level)
    debug = log.getvalue()
    assert "httpx" in debug or "httpcore" in debug, "the DEBUG log caught no HTTP traffic"
    found = {
        "shown": _leaks("\n".join(shown)),
        "DEBUG log": _leaks(debug),
        "ledger, WAL, media": _leaks(_files_text(tmp_path / "studio")),
        "export": _leaks(_files_text(tmp_path / "export")),
    }
    assert (tmp_path / "export").is_dir() and any((tmp_path / "export").iterdir())
    assert not any(found.values()), found


def _widget_states(widget: Any) -> list[dict[str, Any]]:
    """The state of a widget and of every widget under it, as the front end would get it."""
    import ipywidgets as W

    states, todo, seen = [], [widget], set()
    while todo:
        w = todo.pop()
        if id(w) in seen or not isinstance(w, W.Widget):
            continue
        seen.add(id(w))
        states.append(w.get_state())
        todo += list(getattr(w, "children", ()))
    return states


@pytest.mark.notebook
def test_no_key_in_a_notebook_executed_and_saved(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys from the environment, as people set them: the saved notebook (outputs, the
    Studio's repr, a form's and a table's widget state, the job's player) holds none."""
    import nbformat
    from nbclient import NotebookClient

    for name, cls in REGISTRY.items():
        monkeypatch.setenv(f"NBMEDIA_{name.upper()}_BASE_URL", sandbox.base_url(name))
        monkeypatch.setenv(cls.key_env, CANARIES[name])
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(c)
        for c in (
            "import nbmedia as nm\nstudio = nm.Studio()\nstudio",
            "job = studio.speech('A canary in a notebook.', format='wav')\njob.wait(120)\njob",
            "studio.form('mercadream', 'speech')",
            "studio.job_table()",
            "studio.jobs()",
            "studio.close()",
        )
    ]
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    saved = path.read_text()
    assert "<audio" in saved and "application/vnd.jupyter.widget-state+json" in saved
    assert not _leaks(saved)
    assert not _leaks(_files_text(tmp_path / ".nbmedia"))
