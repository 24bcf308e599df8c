"""CompareGrid: one column per provider for the same prompt: progress, then player, time, cost."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as W

from .progress import JobProgress

if TYPE_CHECKING:
    from ..comparison import Comparison


class CompareGrid(W.VBox):
    """The jobs of a Comparison side by side; each column is a live JobProgress."""

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self.columns = {
            provider: JobProgress(
                job, show_prompt=False, layout=W.Layout(flex="1 1 0", min_width="220px")
            )
            for provider, job in comparison.jobs.items()
        }
        header = W.HTML(f"<b>Prompt:</b> <i>{html.escape(comparison.prompt)}</i>")
        grid = W.HBox(
            list(self.columns.values()), layout=W.Layout(width="100%", align_items="flex-start")
        )
        super().__init__([header, grid])
        self.add_class("nbmedia-compare")
