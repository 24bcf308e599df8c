"""CompareGrid: one column per provider for the same prompt: progress, then player, time, cost,
and a 👍/👎 per result that the Studio stores in the ledger (the leaderboard reads them)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as W

from ..models import Job
from .progress import JobProgress

if TYPE_CHECKING:
    from ..lib.comparison import Comparison


class RatingButtons(W.HBox):
    """👍 / 👎 for one result; clicking the chosen one again clears the rating."""

    def __init__(
        self, job: Job, rate: Callable[[Job, int | None], None], current: int | None
    ) -> None:
        self.job = job
        self._rate = rate
        self.up = W.ToggleButton(
            description="👍", value=current == 1, layout=W.Layout(width="48px")
        )
        self.down = W.ToggleButton(
            description="👎", value=current == -1, layout=W.Layout(width="48px")
        )
        self.up.add_class("nbmedia-rate-up")
        self.down.add_class("nbmedia-rate-down")
        super().__init__([self.up, self.down])
        self.up.observe(lambda ch: self._set(1 if ch["new"] else None, self.down), "value")
        self.down.observe(lambda ch: self._set(-1 if ch["new"] else None, self.up), "value")

    def _set(self, rating: int | None, other: W.ToggleButton) -> None:
        if rating is not None and other.value:
            other.value = False  # its observer would clear the rating: set ours after
        self._rate(self.job, rating)

    @property
    def rating(self) -> int | None:
        return 1 if self.up.value else (-1 if self.down.value else None)


class CompareGrid(W.VBox):
    """The jobs of a Comparison side by side; each column is a live JobProgress and a rating."""

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self.columns: dict[str, JobProgress] = {}
        self.ratings: dict[str, RatingButtons] = {}
        boxes = []
        for provider, job in comparison.jobs.items():
            progress = JobProgress(job, show_prompt=False)
            rating = RatingButtons(job, comparison.rate, comparison.rating(job))
            self.columns[provider] = progress
            self.ratings[provider] = rating
            box = W.VBox([progress, rating], layout=W.Layout(flex="1 1 0", min_width="220px"))
            box.add_class("nbmedia-compare-column")
            boxes.append(box)
        header = W.HTML(f"<b>Prompt:</b> <i>{html.escape(comparison.prompt)}</i>")
        grid = W.HBox(boxes, layout=W.Layout(width="100%", align_items="flex-start"))
        super().__init__([header, grid])
        self.add_class("nbmedia-compare")
