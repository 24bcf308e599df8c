"""A one-line text progress bar for `job.wait()` in a terminal (a script, not a notebook)."""

from __future__ import annotations

import sys
from typing import TextIO

from ..models import Job

WIDTH = 24


class TextProgress:
    """Redraws `provider/kind [#####-----] 40% running 12 s` on one line as the job changes."""

    def __init__(self, job: Job, stream: TextIO | None = None) -> None:
        self.job = job
        self.stream = stream or sys.stderr
        self._last = ""
        stops = [job.on_change(self.render), job.on_tick(self.render)]  # ticks: elapsed time
        self._unsubscribe = lambda: [stop() for stop in stops]
        self.render(job)

    def line(self, job: Job) -> str:
        frac = 1.0 if job.status.value == "succeeded" else (job.progress or 0.0)
        filled = int(round(frac * WIDTH))
        bar = "#" * filled + "-" * (WIDTH - filled)
        text = f"{job.provider}/{job.kind} [{bar}] {frac:4.0%} {job.status.value} {job.elapsed_s:.0f} s"
        if job.note:
            text += f" · {job.note}"
        if job.done and job.error and job.status.value != "succeeded":
            text += f" · {job.error.get('code')}: {job.error.get('message') or ''}".rstrip()
        return text

    def render(self, job: Job) -> None:
        text = self.line(job)
        if text != self._last:
            pad = max(0, len(self._last) - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._last = text
        if job.done:
            self.close()

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
            self.stream.write("\n")
            self.stream.flush()
