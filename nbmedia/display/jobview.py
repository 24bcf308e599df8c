"""What a job looks like as a mime bundle: HTML (title, status line, bar, then the player or the
error) and one readable text line.

Plain HTML rather than a widget, so that a saved notebook, nbconvert and nbviewer show the same
as the live page; well under 1 KB a job, so a notebook of many players stays small. Players point
at the files by relative path with `src` on the `<video>`/`<audio>` element (JupyterLab's
sanitizer keeps it there, not on a `<source>` child).
"""

from __future__ import annotations

import datetime as dt
import html
import math

from ..models import Job, JobStatus, cost_text, utcnow
from .live import Bundle, LiveView
from .players import job_player_html

STOPPED = "stopped following — a new Studio resumes it"
"""Shown on a job left open when its Studio closed (it keeps running at the provider)."""

WHAT_TO_DO = {
    JobStatus.UNCONFIRMED: (
        "The create may have reached the provider (and may be billed) but its answer was lost "
        "and this provider cannot be searched: look for it on the provider's dashboard and, if "
        "it is there, <code>studio.attach(job, provider_id)</code> follows and downloads it."
    ),
}
"""What the user can do about a job that ended in this state."""

STATUS_COLOUR = {
    JobStatus.SUCCEEDED: "#2e7d32",
    JobStatus.FAILED: "#c62828",
    JobStatus.CANCELLED: "#ef6c00",
    JobStatus.EXPIRED: "#ef6c00",
    JobStatus.UNCONFIRMED: "#ef6c00",
}


def seconds_text(value: float) -> str:
    """0.4 s, 7.3 s, 42 s, 3 min 20 s: one decimal while it is short."""
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def number(value: float | None) -> float | None:
    """None for a missing number (None or NaN), so neither is ever shown."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def time_left(job: Job, now: dt.datetime | None = None) -> float | None:
    """Seconds until the job is expected to end: the provider's estimate (`eta`), else how long
    jobs like it took here (`expected_s`); None when neither is known or the job has ended."""
    if job.done:
        return None
    now = now or utcnow()
    if job.eta is not None:
        return max(0.0, (job.eta - now).total_seconds())
    if job.expected_s is not None:
        return max(0.0, job.expected_s - job.elapsed_s)
    return None


def shown_progress(job: Job, now: dt.datetime | None = None) -> float | None:
    """The provider's percentage, moved on between its reports along the expected end (the
    bar is drawn again every second): a 3 s job is not two or three jumps. Never 100 % before
    the provider says the job ended; None where the provider gives no percentage."""
    progress = number(job.progress)
    if progress is None or job.done:
        return progress
    left = time_left(job, now)
    if left is None:
        return progress
    elapsed = job.elapsed_s
    along = elapsed / (elapsed + left) if elapsed + left > 0 else 0.0
    return max(progress, min(along, 0.99))


def left_text(left: float) -> str:
    """about 12 s left, about 3 min 20 s left (whole seconds: a countdown, not a timer)."""
    if left < 1:
        return "ending any moment"
    return f"about {seconds_text(left) if left >= 120 else f'{round(left)} s'} left"


def status_parts(job: Job, *, stopped: bool = False) -> list[str]:
    """status · 32 % · 7.3 s · about 12 s left · 12 compute units · id · note, as text pieces."""
    now = utcnow()
    progress = shown_progress(job, now)
    parts = [job.status.value]
    if progress is not None and not job.done:
        parts.append(f"{progress:.0%}")
    parts.append(seconds_text(job.elapsed_s))
    left = None if stopped else time_left(job, now)
    if left is not None:
        parts.append(left_text(left))
    cost = cost_text(job.cost, job.cost_unit)
    if cost is not None:
        parts.append(cost)
    elif job.done:
        parts.append("cost —")  # the provider reports none
    if job.id:
        parts.append(job.id)
    if stopped and not job.done:
        parts.append(STOPPED)
    elif job.note and not job.done:
        parts.append(job.note)
    return parts


def job_text(job: Job, *, stopped: bool = False) -> str:
    """One line: `mercadream video · succeeded · 8.2 s · 3 compute units · id → media/….mp4`."""
    line = f"{job.provider} {job.kind} · " + " · ".join(status_parts(job, stopped=stopped))
    if job.path is not None:
        line += f" → {job.path.as_posix()}"
    if job.error and job.status is not JobStatus.SUCCEEDED:
        line += f" · {job.error.get('code') or job.status.value}: {job.error.get('message') or ''}"
    return line.rstrip(": ")


def bar_html(job: Job, *, stopped: bool = False) -> str:
    """A <progress>: its value while the provider gives one, indeterminate while it does not
    (an animated bar, not an empty grey one); none once the job has ended."""
    if job.done:
        return ""
    progress = shown_progress(job)
    style = ' style="width:100%;height:8px"'
    if progress is None and not stopped:
        return f"<progress class='nbmedia-bar'{style}></progress>"
    return f"<progress class='nbmedia-bar' max='1' value='{progress or 0:.3f}'{style}></progress>"


def job_html(job: Job, *, show_prompt: bool = True, stopped: bool = False) -> str:
    """The title, the status line and the bar, then the player (or the error)."""
    title = f"<b>{html.escape(job.provider)}</b> · {html.escape(job.kind)}"
    if show_prompt and job.prompt:
        prompt = job.prompt if len(job.prompt) <= 90 else job.prompt[:87] + "…"
        title += f" · <i>{html.escape(prompt)}</i>"
    parts = [  # an id is one word: it never breaks over two lines (a narrow grid column)
        f"<span class='nbmedia-id' style='white-space:nowrap'>{html.escape(p)}</span>"
        if p == job.id
        else html.escape(p)
        for p in status_parts(job, stopped=stopped)
    ]
    colour = STATUS_COLOUR.get(job.status)
    style = f" style='color:{colour};font-weight:bold'" if colour else ""
    parts[0] = f"<span class='nbmedia-status'{style}>{parts[0]}</span>"
    state = "stopped" if stopped and not job.done else job.status.value
    body = (
        f"<div class='nbmedia-job nbmedia-status-{state}'><div>{title}</div>"
        f"<div class='nbmedia-label' style='color:#555;font-size:0.9em'>{' · '.join(parts)}</div>"
        f"{bar_html(job, stopped=stopped)}"
    )
    body += error_html(job)
    if job.status is JobStatus.SUCCEEDED and job.path is not None:
        body += job_player_html(job)
    return body + "</div>"


def error_html(job: Job) -> str:
    """The provider's code and message of a job that did not succeed, and what to do about it."""
    out = ""
    if job.error and job.status is not JobStatus.SUCCEEDED:
        code = html.escape(str(job.error.get("code") or job.status.value))
        msg = html.escape(str(job.error.get("message") or ""))
        out += f"<div class='nbmedia-error' style='color:#c62828'><b>{code}</b> {msg}</div>"
    if job.status in WHAT_TO_DO:
        out += f"<div class='nbmedia-todo'>{WHAT_TO_DO[job.status]}</div>"
    return out


def job_bundle(job: Job, *, stopped: bool = False) -> Bundle:
    return {
        "text/plain": job_text(job, stopped=stopped),
        "text/html": job_html(job, stopped=stopped),
    }


def show_job(job: Job) -> LiveView:
    """Displays `job` in the current cell and keeps that output current until it ends."""
    return LiveView([job], lambda stopped: job_bundle(job, stopped=stopped))
