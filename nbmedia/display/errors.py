"""In IPython, an nbmedia error shows as one line, not as a stack of nbmedia's internals.

Every `NbmediaError` reports a condition whose message already says everything the user can act
on: a request that breaks a rule (`ValidationError`: a bad field value, an unknown provider name,
a bad `%%nbmedia` line), a missing or refused key, the provider's own error code and message, a
job that failed, timed out or is unconfirmed, a download that cannot be saved. The frames inside
nbmedia that raised it help nobody reading the notebook, so the cell shows
`ValidationError: nbmedia: provider='mercadrem' is invalid: must be one of …`, plus the
exception's notes (the magic's usage line). It is still an `error` output, so the cell counts as
failed and "run all" stops; `%tb` prints the whole stack when it is wanted.

Any other exception is a bug (in nbmedia or in the notebook) and keeps IPython's full traceback.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from ..errors import NbmediaError

BRIEF = (NbmediaError,)
"""The exception classes shown as one line."""


def brief_traceback(error: BaseException) -> list[str]:
    """`Type: message`, then one line per note (PEP 678 `__notes__`)."""
    return [f"{type(error).__name__}: {error}", *map(str, getattr(error, "__notes__", ()))]


def show_errors_briefly(shell: Any = None) -> None:
    """Makes `shell` (the running IPython, by default) show nbmedia errors as one line.

    Idempotent, and a no-op outside IPython. A custom handler already installed (another
    extension's) keeps receiving every other exception it asked for.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
    if shell is None or NbmediaError in shell.custom_exceptions:
        return
    earlier_types: tuple[type[BaseException], ...] = shell.custom_exceptions
    earlier = shell.CustomTB

    def handler(
        shell: Any,
        etype: type[BaseException],
        value: BaseException,
        tb: TracebackType | None,
        tb_offset: int | None = None,
    ) -> list[str] | None:
        if not isinstance(value, BRIEF):
            return earlier(etype, value, tb, tb_offset=tb_offset)
        shell._get_exc_info((etype, value, tb))  # keeps sys.last_* for %tb and %debug
        lines = brief_traceback(value)
        shell._showtraceback(etype, value, lines)
        return lines

    shell.set_custom_exc(BRIEF + earlier_types, handler)
