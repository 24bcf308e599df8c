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

CELLS: list[tuple[str, dict]] = [
    # another extension's handler, installed first, must keep working
    (
        "get_ipython().set_custom_exc(\n"
        "    (KeyError,), lambda shell, etype, value, tb, tb_offset=None: print('earlier', value)\n"
        ")",
        {},
    ),
    (
        "import nbmedia as nm\n"
        "from nbmedia.sandbox import Sandbox\n"
        "studio = nm.Studio(sandbox=Sandbox.attach({url!r}))",
        {},
    ),
    ('studio.generate("Neon rain", provider="mercadream", duration=45)', RAISES),
    ('studio.generate("Neon rain", provider="mercadrem")', RAISES),
    ("%load_ext nbmedia", {}),
    ("%%nbmedia video provider=meshapi\nA lighthouse at dusk", RAISES),
    ("%%nbmedia dance\nA lighthouse at dusk", RAISES),
    ("nm.Studio(sandbox=Sandbox.attach({url!r})).close()  # a second Studio", {}),
    ("get_ipython().custom_exceptions", {}),
    ('raise KeyError("k")', RAISES),
    # real bugs inside nbmedia: a patched internal raises
    ("studio.provider = lambda name: 1 / 0", {}),
    ('studio.speech("Hello there", provider="mercadream")', RAISES),
    ("import nbmedia.magic\nnbmedia.magic._value = lambda raw: 1 / 0", {}),
    ("%%nbmedia video --duration 5\nA lighthouse at dusk", RAISES),
    # no tag: the mistake fails the cell, so "run all" stops here
    ('del studio.provider\nstudio.generate("Neon rain", provider="mercadrem")', {}),
    ("never = True", {}),
]


def run(tmp_path: Path, sandbox: Sandbox) -> list[nbformat.NotebookNode]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source.format(url=sandbox.url), metadata=meta)
        for source, meta in CELLS
    ]
    client = NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with pytest.raises(CellExecutionError, match="mercadrem"):
        client.execute()
    return nb.cells


def error_of(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    [error] = [o for o in cell.outputs if o.output_type == "error"]
    return error


def test_mistakes_show_one_line_and_bugs_their_traceback(tmp_path: Path, sandbox: Sandbox) -> None:
    cells = run(tmp_path, sandbox)

    bad_value = error_of(cells[2])
    assert bad_value.ename == "ValidationError"
    assert bad_value.traceback == [
        "ValidationError: mercadream: duration=45 is invalid: must be one of 15, 30, 60 or 120"
    ]

    unknown = error_of(cells[3])
    providers = ", ".join(REGISTRY)
    assert unknown.traceback == [
        f"ValidationError: nbmedia: provider='mercadrem' is invalid: must be one of {providers}"
    ]

    assert error_of(cells[5]).traceback == [
        "ValidationError: nbmedia: magic='provider=meshapi' is invalid: options are --field value",
        USAGE,
    ]
    kinds = ", ".join(TEXT_KINDS)
    assert error_of(cells[6]).traceback == [
        f"ValidationError: nbmedia: kind='dance' is invalid: must be one of {kinds}",
        USAGE,
    ]

    # registered once, in front of the earlier handler, which still gets its own exceptions
    assert cells[8].outputs[0].data["text/plain"] == "(nbmedia.errors.NbmediaError, KeyError)"
    assert [o.text for o in cells[9].outputs if o.output_type == "stream"] == ["earlier 'k'\n"]

    for bug, frame in ((cells[11], "studio.py"), (cells[13], "magic.py")):
        error = error_of(bug)
        text = ANSI.sub("", "\n".join(error.traceback))
        assert error.ename == "ZeroDivisionError"
        assert len(error.traceback) > 3 and frame in text and "1 / 0" in text, text

    assert error_of(cells[14]).traceback == unknown.traceback
    assert not cells[15].outputs and cells[15].execution_count is None
