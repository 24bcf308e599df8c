"""BatchProgress: one bar for a whole batch, counts per status and per provider."""

from __future__ import annotations

import html
from collections import Counter
from typing import TYPE_CHECKING

import ipywidgets as W

from ..models import Job

if TYPE_CHECKING:
    from ..lib.batch import Batch


class BatchProgress(W.VBox):
    """Listens to every job of the batch; never polls."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.bar = W.FloatProgress(min=0.0, max=1.0, layout=W.Layout(width="100%"))
        self.label = W.HTML()
        super().__init__([W.HTML(f"<b>batch</b> · {len(batch.jobs)} jobs"), self.bar, self.label])
        self.add_class("nbmedia-batch")
        self._unsubscribe = [job.on_change(self._render) for job in batch.jobs]
        self._render(None)

    def _render(self, _job: Job | None) -> None:
        jobs = self.batch.jobs
        done = sum(j.done for j in jobs)
        self.bar.value = done / len(jobs) if jobs else 1.0
        self.bar.bar_style = "success" if done == len(jobs) else "info"
        by_status = Counter(j.status.value for j in jobs if j.id)
        waiting = len(jobs) - sum(by_status.values())
        per_provider = Counter(j.provider for j in jobs if j.done)
        totals = Counter(j.provider for j in jobs)
        parts = [f"{done}/{len(jobs)} finished"]
        parts += [f"{n} {s}" for s, n in sorted(by_status.items())]
        if waiting:
            parts.append(f"{waiting} not sent yet")
        provs = ", ".join(
            f"{html.escape(p)} {per_provider[p]}/{n}" for p, n in sorted(totals.items())
        )
        self.label.value = " · ".join(parts) + f"<br><small>{provs}</small>"
        if done == len(jobs):
            for stop in self._unsubscribe:
                stop()
            self._unsubscribe = []
