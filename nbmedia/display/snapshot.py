"""Widgets that leave a static HTML view of their last state in the saved notebook.

A widget's output holds a view of a model that lives in the kernel: after the kernel is gone
it is "model not found". So beside the widget view each output carries HTML and text of the
widget's state (what nbconvert and nbviewer show when no widget state was saved), refreshed as
the state changes, from the start of the next cell (never while the user works in it).

JupyterLab draws the widget view over the HTML beside it, even when its model is gone
(jupyterlab#15361), so when the Studio a widget acts through closes (`studio.close()`, or the
kernel shutting down: the Studio closes at exit and the kernel still sends that) the output
keeps the snapshot alone: a notebook saved from then on reopens with it.
"""

from __future__ import annotations

import weakref
from typing import Any

from .live import Bundle, LiveOutput

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Snapshotted:
    """Mixin for an ipywidgets widget; subclasses say what their state looks like."""

    _snapshot_output: LiveOutput | None = None
    owner: object | None = None
    """What the widget acts through (its Studio's hooks): once that closes, see `freeze`."""

    def snapshot(self) -> Bundle:
        """The state as {"text/plain": …, "text/html": …}."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **_kwargs: Any) -> Bundle:
        # the widget's own text form is the repr of its whole tree: the snapshot's replaces it
        view = {"version_major": 2, "version_minor": 0, "model_id": self._model_id}  # type: ignore[attr-defined]
        return {WIDGET_VIEW: view, **self.snapshot()}

    def _ipython_display_(self) -> None:
        self._snapshot_output = LiveOutput(self._repr_mimebundle_())
        _shown.add(self)

    def snapshot_changed(self, *_args: Any) -> None:
        """The state changed: the saved view follows at the next cell."""
        if self._snapshot_output is not None:
            self._snapshot_output.update_later(self._repr_mimebundle_())

    def freeze(self) -> None:
        """The widget can do nothing more: its output becomes the snapshot alone, and the
        widget is closed."""
        _shown.discard(self)
        if self._snapshot_output is not None:
            self._snapshot_output.update(self.snapshot())
        self.close()  # type: ignore[attr-defined]


_shown: weakref.WeakSet[Snapshotted] = weakref.WeakSet()


def freeze_owned(owner: object) -> None:
    """`owner` closed: every widget shown that acts through it keeps only its snapshot."""
    for widget in list(_shown):
        if widget.owner is owner:
            widget.freeze()
