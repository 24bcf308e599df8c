"""One asyncio task that decides what each open job needs next, and when.

The tracker holds a schedule, not job state: for every open job it knows its phase (searching,
following, downloading), when it is due and how often its last steps failed. Due jobs are handed
to the engine (`jobs.Engine`), which does the work and writes the result; each step runs in a
guard that contains every exception and backs the job off (growing to minutes), so nothing
ends in a hot loop. A job is worked on only while this Studio holds its lease in the ledger;
a job another Studio follows is watched (its row re-read) until that lease lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import constants as C
from ..http import poll_backoff
from ..models import Job
from .ledger import Phase

if TYPE_CHECKING:
    from .jobs import Engine

log = logging.getLogger("nbmedia.tracker")


@dataclass(eq=False)
class Entry:
    """The schedule of one open job."""

    job: Job
    phase: str
    next_at: float
    interval: float = C.POLL_FIRST
    failures: int = 0
    busy: bool = False
    owned: bool = False
    searches: int = 0
    last_error: BaseException | None = field(default=None, repr=False)


class Tracker:
    """Follows open jobs on the Studio's loop; one task for all of them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._entries: dict[str, Entry] = {}
        self._polling: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_beat = 0.0
        self._next_tick = 0.0
        self._stopped = False

    def __repr__(self) -> str:
        return f"<Tracker open={len(self._entries)}>"

    @property
    def open_jobs(self) -> list[Job]:
        return [e.job for e in self._entries.values()]

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def entry(self, job: Job) -> Entry | None:
        return self._entries.get(job.local_id)

    # ---- the schedule (called by the engine) -------------------------------------------------
    def follow(self, job: Job, phase: str, *, delay: float | None = None, owned: bool = False):
        """Schedules `job` in `phase` (searching, following or downloading)."""
        if self._stopped:
            return
        entry = self._entries.get(job.local_id)
        wait = C.POLL_FIRST if delay is None else delay
        if entry is None:
            entry = Entry(job, phase, time.monotonic() + wait, owned=owned)
            self._entries[job.local_id] = entry
        else:
            if entry.phase != phase:
                entry.failures = 0
                entry.interval = C.POLL_FIRST
            entry.phase = phase
            entry.next_at = (
                min(entry.next_at, time.monotonic() + wait)
                if entry.busy
                else (time.monotonic() + wait)
            )
            entry.owned = entry.owned or owned
        self._ensure_task()

    def drop(self, job: Job) -> None:
        """Stops scheduling `job` (it ended)."""
        self._entries.pop(job.local_id, None)

    def poll_soon(self, job: Job) -> None:
        """Checks `job` at the next turn of the loop (a webhook said something happened)."""
        entry = self._entries.get(job.local_id)
        if entry is not None:
            entry.next_at = time.monotonic()
            self._poke()

    def succeeded_step(self, entry: Entry, *, grow: bool = True) -> None:
        """A step worked: reset failures, next check after a growing interval."""
        entry.failures = 0
        entry.last_error = None
        if grow:
            entry.interval = min(C.POLL_MAX, entry.interval * C.POLL_FACTOR)
        entry.next_at = time.monotonic() + entry.interval

    def failed_step(self, entry: Entry, exc: BaseException) -> float:
        """A step failed: back off (growing to minutes); returns the delay chosen."""
        entry.failures += 1
        entry.last_error = exc
        delay = exc.retry_after if _retry_after(exc) else poll_backoff(entry.failures)
        entry.next_at = time.monotonic() + delay
        return delay

    # ---- the loop ----------------------------------------------------------------------------
    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = self._engine.runner.create_task(self._run())
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None and not self._engine.runner.loop.is_closed():
            self._engine.runner.loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while self._entries and not self._stopped:
            try:
                delay = self._turn()
            except Exception:  # a bug here must not stop every job: log it, go on
                log.exception("tracker turn failed")
                delay = 1.0
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _turn(self) -> float:
        now = time.monotonic()
        engine = self._engine
        if now >= self._next_beat:
            engine.heartbeat()
            self._next_beat = now + C.LEASE_RENEW
        due = [e for e in self._entries.values() if not e.busy and e.next_at <= now]
        unowned = [e for e in due if not e.owned]
        if unowned:
            got = engine.acquire([e.job for e in unowned])
            for e in unowned:
                if e.job.local_id in got:
                    e.owned = True
                    e.phase = engine.take_over(e.job)
                if not e.owned or e.phase == Phase.DONE:
                    self._spawn(e, engine.watch(e.job), watch=True)
        polls: dict[str, list[Entry]] = {}
        for e in due:
            if not e.owned or e.busy:
                continue
            if e.phase == Phase.FOLLOWING:
                polls.setdefault(e.job.provider, []).append(e)
            elif e.phase == Phase.DOWNLOADING:
                self._spawn(e, engine.download(e))
            elif e.phase == Phase.SEARCHING:
                self._spawn(e, engine.search(e))
            elif e.phase == Phase.PLANNED:  # a batch row of a Studio that stopped
                self._spawn(e, engine.send_planned(e.job))
            elif e.phase == Phase.SENDING:  # taken over from a Studio that stopped mid-create
                self._spawn(e, engine.lost_answer(e.job, "the Studio sending it stopped"))
        for provider, entries in polls.items():
            if provider in self._polling:
                continue
            self._polling.add(provider)
            for e in entries:
                e.busy = True
            task = engine.runner.create_task(self._poll(provider, entries))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if now >= self._next_tick:
            for e in self._entries.values():
                e.job._emit()  # clock tick for elapsed time
            self._next_tick = now + C.TICK
        waiting = [e.next_at for e in self._entries.values() if not e.busy]
        soonest = min([*waiting, self._next_tick, self._next_beat])
        return max(0.02, soonest - time.monotonic())

    def _spawn(self, entry: Entry, step: Awaitable[None], *, watch: bool = False) -> None:
        entry.busy = True
        task = self._engine.runner.create_task(self._guard(entry, step, watch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, entry: Entry, step: Awaitable[None], watch: bool) -> None:
        try:
            await step
            if watch:
                entry.next_at = time.monotonic() + C.WATCH_INTERVAL
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # contained: the job backs off and says why
            self._engine.step_failed(entry, exc)
        finally:
            entry.busy = False
            self._poke()

    async def _poll(self, provider: str, entries: list[Entry]) -> None:
        try:
            await self._engine.poll(provider, entries)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._engine.poll_failed(provider, entries, exc)
        finally:
            self._polling.discard(provider)
            for e in entries:
                e.busy = False
            self._poke()

    # ---- stopping ----------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stops at once (sync): the loop task and every step in flight."""
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        self.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


def _retry_after(exc: BaseException) -> bool:
    value = getattr(exc, "retry_after", None)
    return isinstance(value, (int, float)) and 0 <= value <= C.RETRY_AFTER_MAX
