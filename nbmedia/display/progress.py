"""JobProgress: status, progress bar, elapsed time and why it waits; then the player or the error.

It listens to the job (fed by the Studio's tracker); it never polls.
"""

from __future__ import annotations

import html

import ipywidgets as W
from IPython.display import HTML

from ..models import Job, JobStatus
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
WHAT_TO_DO = {
    JobStatus.UNCONFIRMED: (
        "The create may have reached the provider (and may be billed) but its answer was lost "
        "and this provider cannot be searched: look for it on the provider's dashboard and, if "
        "it is there, <code>studio.attach(job, provider_id)</code> follows and downloads it."
    ),
}
"""What the user can do about a job that ended in this state."""


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
        if status is JobStatus.SUCCEEDED:
            self.bar.value = 1.0
        elif job.progress is not None:
            self.bar.value = float(job.progress)
        parts = [f"<span class='nbmedia-status'>{status.value}</span>"]
        if job.progress is not None and not job.done:
            parts.append(f"{job.progress:.0%}")
        parts.append(f"<span class='nbmedia-elapsed'>{seconds_text(job.elapsed_s)}</span>")
        if job.cost is not None:
            parts.append(f"cost {job.cost:g}")
        elif job.done:
            parts.append("cost —")  # the provider reports none
        if job.id:
            parts.append(f"<code>{html.escape(job.id)}</code>")
        if job.note:
            parts.append(f"<span class='nbmedia-note'>{html.escape(job.note)}</span>")
        text = " · ".join(parts)
        if job.error and status is not JobStatus.SUCCEEDED:
            code = html.escape(str(job.error.get("code") or status.value))
            msg = html.escape(str(job.error.get("message") or ""))
            text += f"<div class='nbmedia-error' style='color:#c62828'><b>{code}</b> {msg}</div>"
        if status in WHAT_TO_DO:
            text += f"<div class='nbmedia-todo'>{WHAT_TO_DO[status]}</div>"
        self.label.value = text
        if status is JobStatus.SUCCEEDED and not self._shown_player and job.path is not None:
            self._shown_player = True
            self.player.append_display_data(HTML(job_player_html(job)))
        if job.done and (self._shown_player or status is not JobStatus.SUCCEEDED):
            self._unsubscribe()

    def close(self) -> None:
        self._unsubscribe()
        super().close()


def seconds_text(value: float) -> str:
    """0.4 s, 7.3 s, 42 s: one decimal while it is short."""
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"
