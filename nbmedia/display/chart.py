"""Chart: a matplotlib Figure that shows itself as a PNG where it is made.

A Figure made outside pyplot is not shown by a cell that ends in an assignment (or in
`ax.set_yscale(...)`), so charts never reached the saved notebook. A Chart displays itself when
drawn; shown again from the same cell it replaces its image (a change made after drawing
shows), from a later cell it shows anew. The PNG is saved in the notebook like any image.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from matplotlib.figure import Figure

DPI = 96


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


class Chart(Figure):
    """A Figure with a title for its text form and a `show()` that displays it once per cell."""

    def __init__(self, *args: Any, label: str = "chart", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = label
        self._handle: Any = None
        self._cell: int | None = None

    def png(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=DPI)
        return buf.getvalue()

    def bundle(self) -> dict[str, str]:
        return {
            "image/png": base64.b64encode(self.png()).decode(),
            "text/plain": f"<{self.label}>",
        }

    def show(self) -> None:
        """Displays the chart in the running cell (nothing outside IPython)."""
        shell = _shell()
        if shell is None:
            return
        from IPython.display import display

        if self._handle is not None and self._cell == shell.execution_count:
            self._handle.update(self.bundle(), raw=True)
            return
        self._handle = display(self.bundle(), raw=True, display_id=True)
        self._cell = shell.execution_count

    def _ipython_display_(self) -> None:
        self.show()
