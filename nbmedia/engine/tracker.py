"""One asyncio task that decides what each open job needs next, and when.

The tracker holds a schedule, not job state: for every open job it knows its phase (searching,
following, downloading), when it is due and how often its last steps failed. Due jobs are handed
to the engine (`jobs.Engine`), which does the work and writes the result; each step runs in a
guard that contains every exception and backs the job off (growing to minutes), so nothing
ends in a hot loop. A job is worked on only while this Studio holds its lease in the ledger;
a job another Studio follows is watched (its row re-read) until that lease lapses.

Status checks are sweeps: per provider at most one in flight and, where the API has a list,
at most one per SWEEP_PERIOD, taking every job due by then (`schedule.next_interval` decides
when a job is due: often near its end, rarely when a verified webhook will say). Downloads and
searches run beside the sweeps, never inside them. Jobs on screen get a clock tick a second.
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
from ..models import Job, utcnow
from .ledger import Phase
from .schedule import Sample, next_interval

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
    webhook: bool = False
    """A verified webhook will tell when it ends: checks are only a safety net."""
    reread: bool = False
    """An unsigned callback said it changed: read it at the next sweep (once)."""
    sample: Sample | None = None
    """The previous reading of its progress (its pace estimates the end)."""
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
        self._next_sweep: dict[str, float] = {}
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

    def find(self, provider: str, id: str) -> Entry | None:
        """The open job of `provider` with provider id `id` (a webhook names it so)."""
        for entry in self._entries.values():
            if entry.job.id == id and entry.job.provider == provider:
                return entry
        return None

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

    def reread(self, entry: Entry) -> bool:
        """Reads the job at its provider's next sweep (an unsigned callback said it changed);
        False when a re-read is already pending (a duplicate callback)."""
        if entry.reread:
            return False
        entry.reread = True
        now = time.monotonic()
        entry.next_at = now
        provider = entry.job.provider  # callbacks a moment apart share one sweep
        self._next_sweep[provider] = min(self._next_sweep.get(provider, 0.0), now + C.REREAD_GATHER)
        self._poke()
        return True

    def succeeded_step(self, entry: Entry, *, grow: bool = True) -> None:
        """A step worked: reset failures; the next check when the schedule says (a growing
        interval outside the following phase)."""
        entry.failures = 0
        entry.last_error = None
        if entry.phase == Phase.FOLLOWING:
            job = entry.job
            now = utcnow()
            entry.interval = next_interval(
                job,
                entry.interval,
                listed=self._engine.listed(job.provider),
                webhook=entry.webhook,
                now=now,
                before=entry.sample,
            )
            if job.progress and (entry.sample is None or entry.sample[1] != job.progress):
                entry.sample = (now, job.progress)
        elif grow:
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
        for e in due:
            if not e.owned or e.busy:
                continue
            if e.phase == Phase.FOLLOWING:
                continue  # swept below
            elif e.phase == Phase.DOWNLOADING:
                self._spawn(e, engine.download(e))
            elif e.phase == Phase.SEARCHING:
                self._spawn(e, engine.search(e))
            elif e.phase == Phase.PLANNED:  # a batch row of a Studio that stopped
                self._spawn(e, engine.send_planned(e.job))
            elif e.phase == Phase.SENDING:  # taken over from a Studio that stopped mid-create
                self._spawn(e, engine.lost_answer(e.job, "the Studio sending it stopped"))
        for provider, entries in self._sweeps(now).items():
            self._polling.add(provider)
            for e in entries:
                e.busy = True
                e.reread = False
            task = engine.runner.create_task(self._poll(provider, entries))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if now >= self._next_tick:
            for e in self._entries.values():
                if e.job.on_screen:
                    e.job._tick()  # elapsed time moved; nothing else did
            self._next_tick = now + C.TICK
        return max(C.TURN_MIN, self._soonest() - time.monotonic())

    def _sweeps(self, now: float) -> dict[str, list[Entry]]:
        """The jobs each provider's next sweep reads: none while one is in flight; where the
        API has a list, at most one sweep per SWEEP_PERIOD, taking every job due by then."""
        sweeps: dict[str, list[Entry]] = {}
        for e in self._entries.values():
            if e.phase != Phase.FOLLOWING or e.busy or not e.owned:
                continue
            provider = e.job.provider
            if provider in self._polling:
                continue
            listed = self._engine.listed(provider)  # a dict lookup once known
            if listed and now < self._next_sweep.get(provider, 0.0):
                continue
            if e.next_at <= now + (C.SWEEP_GATHER if listed else 0.0):
                sweeps.setdefault(provider, []).append(e)
        for provider in sweeps:
            if self._engine.listed(provider):
                self._next_sweep[provider] = now + C.SWEEP_PERIOD
        return sweeps

    def _soonest(self) -> float:
        """When the loop has something to do next."""
        soonest = min(self._next_tick, self._next_beat)
        for e in self._entries.values():
            if e.busy:
                continue
            at = e.next_at
            if e.phase == Phase.FOLLOWING:
                if e.job.provider in self._polling:
                    continue  # its sweep ends with a poke
                if self._engine.listed(e.job.provider):
                    at = max(at - C.SWEEP_GATHER, self._next_sweep.get(e.job.provider, 0.0))
            soonest = min(soonest, at)
        return soonest

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
