"""`%load_ext nbmedia`: `%%nbmedia video|speech|music --provider NAME [--field value …]`.

The cell body is the prompt (or the text to speak); `%nbmedia jobs` shows the job table.
Field values are read as JSON when they parse (numbers, true/false, lists), else as text.
A line it cannot read raises `ValidationError` with the usage line as its note; loading the
extension makes IPython show nbmedia's errors as one line (`display.errors`).
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from .display.errors import show_errors_briefly
from .errors import ValidationError
from .providers import REGISTRY

TEXT_KINDS = tuple(dict.fromkeys(k for cls in REGISTRY.values() for k in cls.text_field))
"""Every kind whose prompt or text a cell body can be (from the providers' declarations)."""
USAGE = (
    f"usage: %%nbmedia {'|'.join(TEXT_KINDS)} [--provider NAME] [--field value ...]"
    "  (or %nbmedia jobs)"
)


def misuse(field: str, value: Any, rule: str) -> ValidationError:
    """A ValidationError for a magic line, with the usage line as its note (PEP 678)."""
    error = ValidationError("nbmedia", field, value, rule)
    if sys.version_info >= (3, 11):
        error.add_note(USAGE)
    else:  # the attribute 3.11's tracebacks print, and display.errors prints on 3.10 too
        error.__notes__ = [USAGE]
    return error


def parse_args(line: str) -> tuple[str, str | None, dict[str, Any]]:
    """`video --provider meshapi --duration 5` → ("video", "meshapi", {"duration": 5})."""
    words = shlex.split(line)
    if not words:
        raise misuse("magic", line, "needs a kind")
    kind, rest = words[0], words[1:]
    provider = None
    fields: dict[str, Any] = {}
    i = 0
    while i < len(rest):
        word = rest[i]
        if not word.startswith("--") or len(word) < 3:
            raise misuse("magic", word, "options are --field value")
        name = word[2:].replace("-", "_")
        if "=" in name:
            name, raw = name.split("=", 1)
            i += 1
        elif i + 1 < len(rest) and not rest[i + 1].startswith("--"):
            raw = rest[i + 1]
            i += 2
        else:
            raw = "true"  # a bare flag
            i += 1
        value = _value(raw)
        if name == "provider":
            provider = str(value)
        else:
            fields[name] = value
    return kind, provider, fields


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@magics_class
class NbmediaMagics(Magics):
    """The `%nbmedia` / `%%nbmedia` magic, bound to the notebook's Studio."""

    @line_cell_magic
    def nbmedia(self, line: str, cell: str | None = None) -> Any:
        from .studio import Studio

        studio = Studio.current()
        if cell is None:
            if line.strip() == "jobs":
                return studio.job_table()
            raise misuse("magic", line, "the line magic is `%nbmedia jobs`")
        kind, provider, fields = parse_args(line)
        if kind not in TEXT_KINDS:
            raise misuse("kind", kind, f"must be one of {', '.join(TEXT_KINDS)}")
        text = cell.strip()
        return studio.submit(provider or studio.default_provider(kind), kind, text, **fields)


def load(ipython: Any) -> None:
    ipython.register_magics(NbmediaMagics)
    show_errors_briefly(ipython)
