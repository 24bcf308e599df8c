"""JobProgress: status, progress bar, elapsed time and why it waits; then the player or the error.

The widget form of a job, for views that are widgets themselves (the form's results); a job
displayed on its own is a mime bundle (jobview), which is what a saved notebook keeps. It listens
to the job (fed by the Studio's tracker); it never polls.
"""

from __future__ import annotations

import html

import ipywidgets as W
from IPython.display import HTML

from ..models import Job, JobStatus
from .jobview import error_html, shown_progress, status_parts
from .jobview import seconds_text as seconds_text  # the job table uses it from here
from .players import job_player_html

BAR_STYLE = {
    JobStatus.QUEUED: "info",
    JobStatus.RUNNING: "info",
    JobStatus.SUCCEEDED: "success",
    JobStatus.FAILED: "danger",
    JobStatus.CANCELLED: "warning",
    JobStatus.EXPIRED: "warning",
    JobStatus.UNCONFIRMED: "warning",
}


class JobProgress(W.VBox):
    """Live view of one job; ends in the inline player or in the provider's code and message."""

    def __init__(self, job: Job, *, show_prompt: bool = True, **kwargs: object) -> None:
        self.job = job
        title = f"<b>{html.escape(job.provider)}</b> · {html.escape(job.kind)}"
        if show_prompt and job.prompt:
            prompt = job.prompt if len(job.prompt) <= 90 else job.prompt[:87] + "…"
            title += f" · <i>{html.escape(prompt)}</i>"
        self.header = W.HTML(title)
        self.bar = W.FloatProgress(value=0.0, min=0.0, max=1.0, layout=W.Layout(width="100%"))
        self.label = W.HTML()
        self.player = W.Output()
        self.bar.add_class("nbmedia-bar")
        self.label.add_class("nbmedia-label")
        self.player.add_class("nbmedia-player")
        self._shown_player = False
        super().__init__([self.header, self.bar, self.label, self.player], **kwargs)
        self.add_class("nbmedia-job")
        stops = [job.on_change(self._render), job.on_tick(self._render)]  # ticks: elapsed time
        self._unsubscribe = lambda: [stop() for stop in stops]
        self._render(job)

    def _render(self, job: Job) -> None:
        status = job.status
        for s in JobStatus:
            self.remove_class(f"nbmedia-status-{s.value}")
        self.add_class(f"nbmedia-status-{status.value}")
        self.bar.bar_style = BAR_STYLE[status]
        progress = shown_progress(job)  # moved on between reports along the expected end
        if status is JobStatus.SUCCEEDED:
            self.bar.value = 1.0
        elif progress is not None:
            self.bar.value = float(progress)
        parts = [html.escape(p) for p in status_parts(job)]
        parts[0] = f"<span class='nbmedia-status'>{parts[0]}</span>"
        self.label.value = " · ".join(parts) + error_html(job)
        if status is JobStatus.SUCCEEDED and not self._shown_player and job.path is not None:
            self._shown_player = True
            self.player.append_display_data(HTML(job_player_html(job)))
        if job.done and (self._shown_player or status is not JobStatus.SUCCEEDED):
            self._unsubscribe()

    def close(self) -> None:
        self._unsubscribe()
        super().close()
