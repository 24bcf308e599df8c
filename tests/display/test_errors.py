"""In a real kernel, a user's mistake shows one line; a bug keeps its whole traceback."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from nbmedia.magic import TEXT_KINDS, USAGE
from nbmedia.providers import REGISTRY
from nbmedia.sandbox import Sandbox

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(300)]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RAISES = {"tags": ["raises-exception"]}

CELLS: dict[str, tuple[str, dict]] = {  # label: (source, metadata), run in this order
    # another extension's handler, installed first, must keep working
    "earlier handler": (
        "get_ipython().set_custom_exc(\n"
        "    (KeyError,), lambda shell, etype, value, tb, tb_offset=None: print('earlier', value)\n"
        ")",
        {},
    ),
    "studio": (
        "import nbmedia as nm\n"
        "from nbmedia.sandbox import Sandbox\n"
        "studio = nm.Studio(sandbox=Sandbox.attach({url!r}))",
        {},
    ),
    "bad value": ('studio.generate("Neon rain", provider="mercadream", duration=45)', RAISES),
    "unknown provider": ('studio.generate("Neon rain", provider="mercadrem")', RAISES),
    "missing key": ('nm.Studio(sandbox=False).speech("Hello there", provider="syncso")', RAISES),
    "load_ext": ("%load_ext nbmedia", {}),
    "bad option": ("%%nbmedia video provider=meshapi\nA lighthouse at dusk", RAISES),
    "bad kind": ("%%nbmedia dance\nA lighthouse at dusk", RAISES),
    "second studio": ("nm.Studio(sandbox=Sandbox.attach({url!r})).close()", {}),
    "registered": ("get_ipython().custom_exceptions", {}),
    "earlier's own": ('raise KeyError("k")', RAISES),
    # real bugs inside nbmedia: a patched internal raises
    "patch studio": ("studio.provider = lambda name: 1 / 0", {}),
    "studio bug": ('studio.speech("Hello there", provider="mercadream")', RAISES),
    "patch magic": ("import nbmedia.magic\nnbmedia.magic._value = lambda raw: 1 / 0", {}),
    "magic bug": ("%%nbmedia video --duration 5\nA lighthouse at dusk", RAISES),
    # no tag: the mistake fails the cell, so "run all" stops here
    "untagged": ('del studio.provider\nstudio.generate("Neon rain", provider="mercadrem")', {}),
    "after": ("never = True", {}),
}


def run(tmp_path: Path, sandbox: Sandbox) -> dict[str, nbformat.NotebookNode]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source.format(url=sandbox.url), metadata=meta)
        for source, meta in CELLS.values()
    ]
    client = NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with pytest.raises(CellExecutionError, match="mercadrem"):
        client.execute()
    return dict(zip(CELLS, nb.cells, strict=True))


def error_of(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    [error] = [o for o in cell.outputs if o.output_type == "error"]
    return error


def test_mistakes_show_one_line_and_bugs_their_traceback(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for cls in REGISTRY.values():  # the kernel inherits the environment: no real key, ever
        monkeypatch.delenv(cls.key_env, raising=False)
    cells = run(tmp_path, sandbox)

    bad_value = error_of(cells["bad value"])
    assert bad_value.ename == "ValidationError"
    assert bad_value.traceback == [
        "ValidationError: mercadream: duration=45 is invalid: must be one of 15, 30, 60 or 120"
    ]

    unknown = error_of(cells["unknown provider"])
    providers = ", ".join(REGISTRY)
    assert unknown.traceback == [
        f"ValidationError: nbmedia: provider='mercadrem' is invalid: must be one of {providers}"
    ]

    [no_key] = error_of(cells["missing key"]).traceback
    assert no_key.startswith("AuthError: syncso 401 no_api_key: ") and "SYNC_API_KEY" in no_key

    assert error_of(cells["bad option"]).traceback == [
        "ValidationError: nbmedia: magic='provider=meshapi' is invalid: options are --field value",
        USAGE,
    ]
    kinds = ", ".join(TEXT_KINDS)
    assert error_of(cells["bad kind"]).traceback == [
        f"ValidationError: nbmedia: kind='dance' is invalid: must be one of {kinds}",
        USAGE,
    ]

    # registered once, in front of the earlier handler, which still gets its own exceptions
    registered = cells["registered"].outputs[0].data["text/plain"]
    assert registered == "(nbmedia.errors.NbmediaError, KeyError)"
    stream = [o.text for o in cells["earlier's own"].outputs if o.output_type == "stream"]
    assert stream == ["earlier 'k'\n"]

    for bug, frame in (("studio bug", "studio.py"), ("magic bug", "magic.py")):
        error = error_of(cells[bug])
        text = ANSI.sub("", "\n".join(error.traceback))
        assert error.ename == "ZeroDivisionError"
        assert len(error.traceback) > 3 and frame in text and "1 / 0" in text, text

    assert error_of(cells["untagged"]).traceback == unknown.traceback
    assert not cells["after"].outputs and cells["after"].execution_count is None
