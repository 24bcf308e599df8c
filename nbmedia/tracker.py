"""One asyncio task that follows every open job and tells every listener.

Each job has its own next-poll time with backoff (fast at first, slower later); jobs of one
provider that are due together are refreshed in one batch (one list call where the API has one);
a webhook settles a job at once. Widgets and `await job` only listen: nothing polls per widget.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import constants as C
from .errors import JobFailed, JobTimeout, NbmediaError, ProviderError, RateLimited, UnknownStatus
from .http import backoff
from .ledger import Ledger
from .media import MediaStore
from .models import Job, JobStatus, utcnow
from .providers.base import Provider
from .runner import LoopRunner

log = logging.getLogger("nbmedia.tracker")

TICK = 1.0
"""Seconds between clock ticks sent to open jobs' listeners (elapsed time), no network."""


@dataclass
class _Schedule:
    next_at: float
    interval: float
    failures: int = 0


class Tracker:
    """Follows open jobs on the studio's loop; one task for all of them."""

    def __init__(
        self,
        runner: LoopRunner,
        providers: Callable[[str], Provider],
        ledger: Ledger,
        media: MediaStore,
    ) -> None:
        self._runner = runner
        self._provider = providers
        self._ledger = ledger
        self._media = media
        self._open: dict[str, Job] = {}
        self._schedule: dict[str, _Schedule] = {}
        self._waiters: dict[str, list[asyncio.Future[Job]]] = {}
        self._busy: set[str] = set()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._polls: set[asyncio.Task[None]] = set()
        self.listeners: list[Callable[[Job], None]] = []
        """Called on every change of any job (the job table); not on clock ticks."""

    def __repr__(self) -> str:
        return f"<Tracker open={len(self._open)}>"

    @property
    def open_jobs(self) -> list[Job]:
        return list(self._open.values())

    # ---- following jobs ----------------------------------------------------------------------
    def track(self, job: Job) -> None:
        """Starts following `job` until it ends."""
        if job.done:
            return
        self._open[job.local_id] = job
        self._schedule[job.local_id] = _Schedule(time.monotonic() + C.POLL_FIRST, C.POLL_FIRST)
        self._ensure_task()

    def poll_soon(self, job: Job) -> None:
        """Polls `job` at the next turn of the loop (a webhook said something happened)."""
        sched = self._schedule.get(job.local_id)
        if sched is not None:
            sched.next_at = time.monotonic()
            sched.interval = C.POLL_FIRST
            self._poke()

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = self._runner.create_task(self._run())
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._runner.loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while self._open:
            now = time.monotonic()
            due: dict[str, list[Job]] = {}
            for local_id, job in list(self._open.items()):
                if self._schedule[local_id].next_at <= now and job.provider not in self._busy:
                    due.setdefault(job.provider, []).append(job)
            for provider, jobs in due.items():
                self._busy.add(provider)
                task = self._runner.create_task(self._poll(provider, jobs))
                self._polls.add(task)
                task.add_done_callback(self._polls.discard)
            for job in self._open.values():
                job._emit()  # clock tick for elapsed time
            next_at = min((s.next_at for s in self._schedule.values()), default=now + TICK)
            delay = max(0.05, min(TICK, next_at - time.monotonic()))
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _poll(self, provider_name: str, jobs: list[Job]) -> None:
        provider = self._provider(provider_name)
        try:
            # The provider reads into copies: a job turns succeeded only once its files are here.
            shadows = [dataclasses.replace(j) for j in jobs]
            try:
                await provider.refresh_many(shadows)
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else C.POLL_MAX
                for job in jobs:
                    self._postpone(job, wait, f"rate-limited, retrying in {wait:.0f} s")
                return
            except UnknownStatus as exc:
                for job in jobs:
                    await self._finish(
                        job, JobStatus.FAILED, {"code": "unknown_status", "message": str(exc)}
                    )
                return
            except (ProviderError, NbmediaError) as exc:
                for job in jobs:
                    sched = self._schedule.get(job.local_id)
                    if sched is None:
                        continue
                    sched.failures += 1
                    if (
                        isinstance(exc, ProviderError)
                        and exc.http_status in (401, 403, 404)
                        and sched.failures >= 3
                    ):
                        await self._finish(
                            job,
                            JobStatus.FAILED,
                            {"code": exc.code or str(exc.http_status), "message": exc.message},
                        )
                    else:
                        delay = backoff(sched.failures) + C.POLL_FIRST
                        self._postpone(
                            job, delay, f"status check failed ({exc}), retrying in {delay:.0f} s"
                        )
                return
            for job, shadow in zip(jobs, shadows, strict=True):
                if job.local_id not in self._open:
                    continue
                sched = self._schedule[job.local_id]
                sched.failures = 0
                if shadow.done:
                    await self._settle(job, shadow, provider)
                    continue
                sched.interval = min(C.POLL_MAX, sched.interval * C.POLL_FACTOR)
                sched.next_at = time.monotonic() + sched.interval
                moved = (shadow.status, shadow.progress) != (job.status, job.progress)
                _merge(shadow, job)
                job.note = None
                if moved:
                    job.updated_at = utcnow()
                    self._ledger.record(job)
                    self.changed(job)
        finally:
            self._busy.discard(provider_name)
            self._poke()

    def changed(self, job: Job) -> None:
        job._emit()
        for listener in list(self.listeners):
            try:
                listener(job)
            except Exception:
                log.exception("tracker listener failed")

    def _postpone(self, job: Job, delay: float, note: str) -> None:
        sched = self._schedule.get(job.local_id)
        if sched is not None:
            sched.next_at = time.monotonic() + delay
        job.note = note
        self.changed(job)

    async def _settle(self, job: Job, final: Job, provider: Provider) -> None:
        """A job reached a terminal state: fetch its files at once, then tell everyone.

        `final` holds the provider's terminal state; `job` (what listeners and waiters see) takes
        it only after the download, so a succeeded job always has its files.
        """
        final.updated_at = utcnow()
        final.note = None
        if final.status is JobStatus.SUCCEEDED:
            if final.completed_at is None:
                final.completed_at = final.updated_at
            self._ledger.record(final)  # the links first: if the download fails, they are kept
            job.note = "downloading outputs"
            job.progress = 1.0
            self.changed(job)
            try:
                try:
                    await self._media.download(final, provider.api)
                except ProviderError as exc:
                    if exc.http_status not in (401, 403, 404, 410):
                        raise
                    # the signed links expired: a fresh read gives new ones
                    await provider.refresh(final)
                    await self._media.download(final, provider.api)
            except NbmediaError as exc:
                final.note = f"download failed: {exc}"
                log.warning("%s job %s: download failed: %s", job.provider, job.id, exc)
        _merge(final, job)
        self._ledger.record(job)
        self._close(job)

    async def _finish(self, job: Job, status: JobStatus, error: dict[str, str | None]) -> None:
        job.status = status
        job.error = error
        job.updated_at = utcnow()
        self._ledger.record(job)
        self._close(job)

    def _close(self, job: Job) -> None:
        self._open.pop(job.local_id, None)
        self._schedule.pop(job.local_id, None)
        self.changed(job)
        for fut in self._waiters.pop(job.local_id, []):
            if not fut.done():
                fut.set_result(job)

    # ---- waiting -----------------------------------------------------------------------------
    async def wait(self, job: Job, timeout: float | None = None) -> Job:
        """The finished job; raises JobFailed or JobTimeout (the job keeps running)."""
        if not job.done:
            if job.local_id not in self._open:
                self.track(job)
            fut: asyncio.Future[Job] = self._runner.loop.create_future()
            self._waiters.setdefault(job.local_id, []).append(fut)
            self._poke()
            try:
                await asyncio.wait_for(asyncio.shield(fut), timeout)
            except asyncio.TimeoutError:
                raise JobTimeout(job, timeout or 0.0) from None
            finally:
                waiters = self._waiters.get(job.local_id, [])
                if fut in waiters:
                    waiters.remove(fut)
        if job.status is not JobStatus.SUCCEEDED:
            raise JobFailed(job)
        return job

    def cancel(self) -> None:
        """Stops following jobs at once (sync): the loop task and every poll in flight."""
        for task in list(self._polls):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
        for futures in self._waiters.values():
            for fut in futures:
                fut.cancel()

    async def stop(self) -> None:
        for task in list(self._polls):
            task.cancel()
        if self._polls:
            await asyncio.gather(*self._polls, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


SHARED_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(Job)
    if not f.name.startswith("_") and f.name not in ("local_id", "provider", "kind", "request")
)


def _merge(src: Job, dst: Job) -> None:
    """Copies the provider-side state of `src` onto `dst` (the job everyone holds)."""
    for name in SHARED_FIELDS:
        setattr(dst, name, getattr(src, name))
