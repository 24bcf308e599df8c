"""A comparison: one column per provider for the same prompt (progress, then player, time, cost)
and a 👍/👎 per result that the Studio stores in the ledger (the leaderboard reads them).

Shown as a grid of job bundles updated in place (what the notebook keeps, the ratings given
included) above a row of rating buttons (the one part that needs a widget)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as W

from ..models import Job
from .jobview import job_html, job_text
from .live import Bundle, LiveView
from .progress import JobProgress
from .snapshot import Snapshotted

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
            icon="thumbs-up", tooltip="rate up", value=current == 1, layout=W.Layout(width="48px")
        )
        self.down = W.ToggleButton(
            icon="thumbs-down",
            tooltip="rate down",
            value=current == -1,
            layout=W.Layout(width="48px"),
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


RATING_TEXT = {1: "rated up", -1: "rated down"}
"""Words, not emoji: many machines have no colour-emoji font."""


def compare_bundle(comparison: Comparison, *, stopped: bool = False) -> Bundle:
    """The prompt, then one column per provider: its job (player once done) and its rating."""
    columns = []
    lines = [f"Prompt: {comparison.prompt}"]
    for job in comparison.jobs.values():
        rating = RATING_TEXT.get(comparison.rating(job) or 0, "")
        columns.append(
            "<div class='nbmedia-compare-column' style='flex:1 1 0;min-width:220px'>"
            f"{job_html(job, show_prompt=False, stopped=stopped)}"
            f"<div class='nbmedia-rating'>{rating}</div></div>"
        )
        lines.append(job_text(job, stopped=stopped) + (f" · {rating}" if rating else ""))
    body = (
        f"<div class='nbmedia-compare'><b>Prompt:</b> <i>{html.escape(comparison.prompt)}</i>"
        f"<div style='display:flex;gap:12px;align-items:flex-start'>{''.join(columns)}</div></div>"
    )
    return {"text/plain": "\n".join(lines), "text/html": body}


class RatingsRow(Snapshotted, W.HBox):
    """A 👍/👎 pair per provider under the grid; saved as the ratings given."""

    def __init__(self, comparison: Comparison, rate: Callable[[Job, int | None], None]) -> None:
        self.comparison = comparison
        self.buttons = {
            p: RatingButtons(j, rate, comparison.rating(j)) for p, j in comparison.jobs.items()
        }
        super().__init__(
            [W.VBox([W.HTML(f"<b>{html.escape(p)}</b>"), b]) for p, b in self.buttons.items()],
            layout=W.Layout(gap="12px"),
        )
        self.add_class("nbmedia-ratings")

    def snapshot(self) -> Bundle:
        given = [
            f"{p} {RATING_TEXT[b.rating]}" for p, b in self.buttons.items() if b.rating is not None
        ]
        text = "ratings: " + (", ".join(given) or "none yet")
        return {"text/plain": text, "text/html": f"<div>{html.escape(text)}</div>"}


def show_comparison(comparison: Comparison) -> LiveView:
    """The grid, kept current until every column ends, and the rating buttons under it."""
    from IPython.display import display

    view = LiveView(
        comparison.jobs.values(),
        lambda stopped: compare_bundle(comparison, stopped=stopped),
        ticks=False,  # a redraw reloads the players of the columns already finished
    )

    def rate(job: Job, rating: int | None) -> None:
        comparison.rate(job, rating)
        view.refresh()  # the saved grid shows the rating too
        row.snapshot_changed()

    row = RatingsRow(comparison, rate)
    row.owner = next((job._hooks for job in comparison.jobs.values()), None)  # their Studio
    display(row)
    view.refresh_each_cell()  # ratings given from code (studio.rate) reach the saved grid
    return view
