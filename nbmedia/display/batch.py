"""A batch's progress: one bar for the whole batch, counts per status and per provider; as a
mime bundle updated in place (what a notebook shows and keeps) or as a widget."""

from __future__ import annotations

import html
from collections import Counter
from typing import TYPE_CHECKING

import ipywidgets as W

from ..models import Job
from .jobview import STOPPED
from .live import Bundle, LiveView

if TYPE_CHECKING:
    from ..lib.batch import Batch


def batch_counts(batch: Batch) -> tuple[float, str, str]:
    """How much of the batch has finished, its counts per status, and per provider (text)."""
    jobs = batch.jobs
    done = sum(j.done for j in jobs)
    by_status = Counter(j.status.value for j in jobs if j.id)
    waiting = len(jobs) - sum(by_status.values())
    per_provider = Counter(j.provider for j in jobs if j.done)
    totals = Counter(j.provider for j in jobs)
    parts = [f"{done}/{len(jobs)} finished"]
    parts += [f"{n} {s}" for s, n in sorted(by_status.items())]
    if waiting:
        parts.append(f"{waiting} not sent yet")
    provs = ", ".join(f"{p} {per_provider[p]}/{n}" for p, n in sorted(totals.items()))
    return (done / len(jobs) if jobs else 1.0), " · ".join(parts), provs


def counts_html(summary: str, per_provider: str) -> str:
    return f"{html.escape(summary)}<br><small>{html.escape(per_provider)}</small>"


def batch_bundle(batch: Batch, *, stopped: bool = False) -> Bundle:
    """One bar for the whole batch and its counts, as HTML and text (what the notebook keeps)."""
    fraction, summary, per_provider = batch_counts(batch)
    finished = fraction >= 1.0
    bar = (
        ""
        if finished
        else f"<progress max='1' value='{fraction:.3f}' style='width:100%;height:8px'></progress>"
    )
    note = f"<div>{STOPPED}</div>" if stopped and not finished else ""
    body = (
        f"<div class='nbmedia-batch'><b>batch</b> · {len(batch.jobs)} jobs{bar}"
        f"<div class='nbmedia-label'>{counts_html(summary, per_provider)}</div>{note}</div>"
    )
    text = f"batch of {len(batch.jobs)} jobs: {summary} ({per_provider})"
    return {"text/plain": text + (f" · {STOPPED}" if note else ""), "text/html": body}


def show_batch(batch: Batch) -> LiveView:
    """Displays the batch's progress in the current cell, kept current until every row ends."""
    return LiveView(batch.jobs, lambda stopped: batch_bundle(batch, stopped=stopped))


class BatchProgress(W.VBox):
    """The widget form (one bar, counts); listens to every job of the batch, never polls."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.bar = W.FloatProgress(min=0.0, max=1.0, layout=W.Layout(width="100%"))
        self.label = W.HTML()
        super().__init__([W.HTML(f"<b>batch</b> · {len(batch.jobs)} jobs"), self.bar, self.label])
        self.add_class("nbmedia-batch")
        self._unsubscribe = [job.on_change(self._render) for job in batch.jobs]
        self._render(None)

    def _render(self, _job: Job | None) -> None:
        fraction, summary, per_provider = batch_counts(self.batch)
        self.label.value = counts_html(summary, per_provider)
        self.bar.value = fraction
        self.bar.bar_style = "success" if fraction >= 1.0 else "info"
        if fraction >= 1.0:
            for stop in self._unsubscribe:
                stop()
            self._unsubscribe = []
