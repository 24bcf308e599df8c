"""One asyncio task that decides what each open job needs next, and when.

The tracker holds a schedule, not job state: for every open job it knows its phase (searching,
following, downloading), when it is due and how often its last steps failed. Due jobs are handed
to the engine (`jobs.Engine`), which does the work and writes the result; each step runs in a
guard that contains every exception and backs the job off (growing to minutes), so nothing
ends in a hot loop. A job is worked on only while this Studio holds its lease in the ledger;
a job another Studio follows is watched (its row re-read) until that lease lapses.

Status checks are sweeps: per provider at most one in flight and, where the API has a list,
at most one per SWEEP_PERIOD, taking every job due by then (`schedule.next_interval` decides
when a job is due: often near its end, rarely when a verified webhook will say); a job whose
schedule is the period itself rides every sweep of its provider, kept apart from the queue so
that a thousand of them cost no look each. Downloads and
searches run beside the sweeps, never inside them. Jobs on screen get a clock tick a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import operator
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import constants as C
from ..http import poll_backoff
from ..models import Job, utcnow
from .ledger import Phase
from .schedule import Sample, next_interval
from .wake import Wake

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
    replays: int | None = 0
    """Replays of a lost create without an answer; None once replaying cannot settle it."""
    webhook: bool = False
    """A verified webhook will tell when it ends: checks are only a safety net."""
    reread: bool = False
    """An unsigned callback said it changed: read it at the next sweep (once)."""
    sample: Sample | None = None
    """The previous reading of its progress (its pace estimates the end)."""
    last_error: BaseException | None = field(default=None, repr=False)
    marks: set[Entry] | None = field(default=None, repr=False)
    """Where a change of its schedule is noted (the tracker's): a turn looks again only at
    the jobs whose schedule changed, not at every open job."""
    token: int = field(default=0, repr=False)
    """Counts the tracker's looks at it: a place in the tracker's queue made at another count
    is stale."""
    riding: bool = field(default=False, repr=False)
    """It rides every sweep of its provider (the tracker's riders), out of the queue."""


def _marking(name: str) -> property:
    """An attribute of Entry whose every change is noted in its `marks` (read at C speed;
    only these three pay for a Python setter, not the counters and the `busy` flag a sweep
    sets by the hundred: a step that ends marks its job itself)."""
    slot = f"_{name}"

    def noted(self: Entry, value: object) -> None:
        state = self.__dict__
        state[slot] = value
        marks = state.get("marks")
        if marks is not None:
            marks.add(self)

    return property(operator.attrgetter(slot), noted)


_SCHEDULE = ("next_at", "phase", "owned")
"""What decides when a job's next step is due."""
for _name in _SCHEDULE:
    setattr(Entry, _name, _marking(_name))


class Tracker:
    """Follows open jobs on the Studio's loop; one task for all of them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._entries: dict[str, Entry] = {}
        self._polling: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: Wake | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_beat = 0.0
        self._next_tick = 0.0
        self._next_sweep: dict[str, float] = {}
        self._swept_at: dict[str, float] = {}
        """provider → when its last list sweep started."""
        self._stopped = False
        self._by_id: dict[tuple[str, str], str] = {}
        self._version = 0
        """Counts follows and drops: an index by provider id made at another count is stale."""
        self._indexed = -1
        self._marked: set[Entry] = set()
        """Entries whose schedule changed since the last turn."""
        self._queue: list[tuple[float, int, int, Entry]] = []
        """(when to look again, order, token, entry): a heap of the jobs looked at and not due
        yet, so a turn finds the due ones without a pass over every open job."""
        self._order = itertools.count()
        self._held: dict[str, list[Entry]] = {}
        """provider → jobs that fell due while its sweep was in flight (looked at again when
        it ends)."""
        self._riders: dict[str, dict[Entry, None]] = {}
        """provider → jobs its every sweep reads (a list; no estimate, no webhook, no failure):
        read where they are, neither looked at one by one nor moved when a sweep starts or
        ends (a thousand open jobs must not cost a thousand looks a second); one that changes
        or ends leaves them."""
        self._whole = True
        """The next turn passes over every open job (the first one)."""
        self._next_whole = 0.0

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
        """The open job of `provider` with provider id `id` (a webhook names it so): from an
        index by provider id, rebuilt on a miss once the open jobs have changed (a thousand
        webhooks must not each scan a thousand jobs)."""
        entry = self._entries.get(self._by_id.get((provider, id), ""))
        if entry is not None and entry.job.id == id and entry.job.provider == provider:
            return entry
        if self._indexed == self._version:
            return None  # nothing changed since the index was made: not an open job of ours
        self._indexed = self._version
        self._by_id = {
            (e.job.provider, e.job.id): local_id
            for local_id, e in self._entries.items()
            if e.job.id
        }
        entry = self._entries.get(self._by_id.get((provider, id), ""))
        return entry if entry is not None and entry.job.id == id else None

    # ---- the schedule (called by the engine) -------------------------------------------------
    def follow(self, job: Job, phase: str, *, delay: float | None = None, owned: bool = False):
        """Schedules `job` in `phase` (searching, following or downloading)."""
        if self._stopped:
            return
        self._version += 1
        entry = self._entries.get(job.local_id)
        wait = C.POLL_FIRST if delay is None else delay
        if entry is None:
            entry = Entry(job, phase, time.monotonic() + wait, owned=owned, marks=self._marked)
            self._entries[job.local_id] = entry
            self._marked.add(entry)
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
        """Stops scheduling `job` (it ended); a rider leaves its provider's riders."""
        self._version += 1
        entry = self._entries.pop(job.local_id, None)
        if entry is not None and entry.riding:
            entry.riding = False
            self._riders[job.provider].pop(entry, None)

    def sweeping(self, entry: Entry) -> bool:
        """A sweep in flight holds it: its own step (`busy`), or it rides its provider's."""
        return entry.busy or (entry.riding and entry.job.provider in self._polling)

    def reread(self, entry: Entry) -> bool:
        """Reads the job at its provider's next sweep (an unsigned callback said it changed);
        False when a re-read is already pending (a duplicate callback)."""
        if entry.reread:
            return False
        entry.reread = True
        now = time.monotonic()
        entry.next_at = now
        provider = entry.job.provider  # callbacks a moment apart share one sweep, and a
        # burst of them (a batch ending) is read by a sweep every REREAD_SPACING at most
        soonest = max(
            now + C.REREAD_GATHER, self._swept_at.get(provider, -math.inf) + C.REREAD_SPACING
        )
        self._next_sweep[provider] = min(self._next_sweep.get(provider, 0.0), soonest)
        self._poke()
        return True

    def succeeded_step(self, entry: Entry, *, grow: bool = True) -> None:
        """A step worked: reset failures; the next check when the schedule says (a growing
        interval outside the following phase)."""
        entry.failures = 0
        entry.last_error = None
        if entry.phase == Phase.FOLLOWING:
            job = entry.job
            now = utcnow() if job.progress or job.eta is not None else None
            entry.interval = next_interval(
                job,
                entry.interval,
                listed=self._engine.listed(job.provider),
                webhook=entry.webhook,
                now=now,
                before=entry.sample,
            )
            if job.progress and (entry.sample is None or entry.sample[1] != job.progress):
                entry.sample = (now or utcnow(), job.progress)
        elif grow:
            entry.interval = min(C.POLL_MAX, entry.interval * C.POLL_FACTOR)
        entry.next_at = time.monotonic() + entry.interval

    def swept_unchanged(self, entries: list[Entry], *, listed: bool) -> None:
        """A sweep read nothing new for `entries`: the step each one's schedule asks for,
        none for a job that rides every sweep of a list (its schedule would not move), nor
        for one settled meanwhile (a webhook, another step)."""
        step, open_, following = self.succeeded_step, self._entries, Phase.FOLLOWING
        for entry in entries:
            if listed and _rides(entry):
                continue
            if open_.get(entry.job.local_id) is entry and entry.phase == following:
                step(entry)

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
            self._wake = Wake(self._engine.runner.loop)
            self._task = self._engine.runner.create_task(self._run())
        self._poke()

    def _poke(self) -> None:
        wake, loop = self._wake, self._engine.runner.loop
        if wake is None or loop.is_closed():
            return
        if _on_loop(loop):
            wake.set()  # no wake-up write through the loop's pipe from its own thread
        else:  # set on the loop, after the clear of a turn that may not have seen this
            loop.call_soon_threadsafe(wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while self._entries and not self._stopped:
            began = time.monotonic()
            try:
                delay = self._turn()
            except Exception:  # a bug here must not stop every job: log it, go on
                log.exception("tracker turn failed")
                delay = 1.0
            self._wake.clear()
            await self._wake.wait(delay)
            rest = began + C.TURN_JOIN - time.monotonic()
            if rest > 0 and not self._stopped:
                await asyncio.sleep(rest)  # the pokes of a burst of finished steps: one turn

    def _turn(self) -> float:
        """One look at every open job, in one pass: what is due is started, and the time of
        the next thing to do is returned."""
        now = time.monotonic()
        engine = self._engine
        if now >= self._next_beat:
            engine.heartbeat()
            self._next_beat = now + C.LEASE_RENEW
        steps, unowned, sweeps, riding, soonest = self._scan(now)
        if unowned:
            got = engine.acquire([e.job for e in unowned])
            for e in unowned:
                if e.job.local_id in got:
                    e.owned = True
                    e.phase = engine.take_over(e.job)
                    steps.append(e)  # a FOLLOWING one joins the next sweep
                    soonest = now
                else:
                    self._spawn(e, engine.watch(e.job), watch=True)
        for e in steps:
            if e.phase == Phase.DONE:
                self._spawn(e, engine.watch(e.job), watch=True)
            elif e.phase == Phase.DOWNLOADING:
                self._spawn(e, engine.download(e))
            elif e.phase == Phase.SEARCHING:
                self._spawn(e, engine.search(e))
            elif e.phase == Phase.PLANNED:  # a batch row of a Studio that stopped
                self._spawn(e, engine.send_planned(e.job))
            elif e.phase == Phase.SENDING:  # taken over from a Studio that stopped mid-create
                self._spawn(e, engine.lost_answer(e.job, "the Studio sending it stopped"))
        for provider in {**sweeps, **riding}:
            if engine.listed(provider):
                self._next_sweep[provider] = now + C.SWEEP_PERIOD
                self._swept_at[provider] = now
            self._polling.add(provider)  # (what holds its riders, where they are)
            entries = sweeps.get(provider, [])
            for e in entries:
                e.busy = True
                e.reread = False
            riders = riding.get(provider, [])
            task = engine.runner.create_task(self._poll(provider, entries, riders))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if now >= self._next_tick:
            for e in self._entries.values():
                if e.job.on_screen:
                    e.job._tick()  # elapsed time moved; nothing else did
            self._next_tick = now + C.TICK
            engine.runner.tidy()
        return max(C.TURN_MIN, soonest - time.monotonic())

    def _scan(
        self, now: float
    ) -> tuple[list[Entry], list[Entry], dict[str, list[Entry]], dict[str, list[Entry]], float]:
        """The owned jobs due for a step of their own, the due jobs this Studio does not hold
        yet, the jobs each provider's sweep reads (those looked at, and its riders: read where
        they are, with no look at each), and when the loop has something to do next.

        A sweep: none while one of the provider is in flight; where the API has a list, at
        most one per SWEEP_PERIOD, taking every job due by then.

        A turn looks only at the jobs whose schedule changed (a webhook, a step that ended),
        those its queue says are due, and those that waited for a sweep that has ended: a
        thousand webhooks must not each cost a pass over a thousand jobs, nor must a thousand
        jobs falling due one by one. A pass over every open job comes once a WHOLE_PASS, a net
        for a change made behind the schedule's back."""
        entries = self._entries
        if self._whole or now >= self._next_whole:
            self._whole = False
            self._next_whole = now + C.WHOLE_PASS
            self._queue.clear()
            self._held.clear()
            for riders in self._riders.values():
                _unride(riders)
            candidates: Iterable[Entry] = list(entries.values())
        else:
            found = [e for e in self._marked if entries.get(e.job.local_id) is e]
            queue = self._queue
            while queue and queue[0][0] <= now:
                _, _, token, e = heapq.heappop(queue)
                if e.token == token and entries.get(e.job.local_id) is e:
                    found.append(e)
            candidates = dict.fromkeys(found)  # marked and due: looked at once
        self._marked.clear()
        steps: list[Entry] = []
        unowned: list[Entry] = []
        sweeps: dict[str, list[Entry]] = {}
        gates: dict[str, float | None] = {}  # provider → its next sweep (None: one in flight)
        later: list[tuple[float, int, int, Entry]] = []
        for e in candidates:
            e.token += 1  # its older places in the queue are stale
            if e.riding:  # its schedule changed: looked at alone from now on
                e.riding = False
                self._riders[e.job.provider].pop(e, None)
            if e.busy:
                continue  # marked again when its step ends
            at = e.next_at
            if e.phase == Phase.FOLLOWING and e.owned:
                provider = e.job.provider
                if provider not in gates:
                    gates[provider] = self._gate(provider)
                gate = gates[provider]
                if gate is None:  # its sweep in flight: looked at again when it ends
                    self._held.setdefault(provider, []).append(e)
                    continue
                if gate >= 0.0:  # a list: gathered, at the provider's pace
                    if now >= gate and at <= now + C.SWEEP_GATHER:
                        sweeps.setdefault(provider, []).append(e)
                        continue
                    at = _gathered_at(at, gate)
                elif at <= now:
                    sweeps.setdefault(provider, []).append(e)
                    continue
            elif at <= now:
                (steps if e.owned else unowned).append(e)
                continue
            later.append((at, next(self._order), e.token, e))
        self._requeue(later)
        soonest = self._queue[0][0] if self._queue else math.inf
        riding: dict[str, list[Entry]] = {}
        for provider, riders in self._riders.items():
            if not riders:
                continue
            gate = gates[provider] if provider in gates else self._gate(provider)
            if gate is None:
                continue  # its sweep in flight: the riders wait for the next one
            if now < gate:
                soonest = min(soonest, gate)
                continue
            riding[provider] = list(riders)  # they stay riders (a change has them looked at)
        return steps, unowned, sweeps, riding, min(soonest, self._next_whole, self._next_tick,
                                                   self._next_beat)  # fmt: skip

    def _requeue(self, later: list[tuple[float, int, int, Entry]]) -> None:
        """Puts the jobs looked at and not due into the queue; drops stale places from its
        head (and rebuilds it once they outnumber the open jobs)."""
        queue, entries = self._queue, self._entries
        if len(later) > len(queue):
            queue.extend(later)
            heapq.heapify(queue)
        else:
            for item in later:
                heapq.heappush(queue, item)

        def live(item: tuple[float, int, int, Entry]) -> bool:
            e = item[3]
            return e.token == item[2] and entries.get(e.job.local_id) is e

        while queue and not live(queue[0]):
            heapq.heappop(queue)
        if len(queue) > 2 * len(entries) + 64:
            self._queue = [item for item in queue if live(item)]
            heapq.heapify(self._queue)

    def _gate(self, provider: str) -> float | None:
        """None while a sweep of `provider` is in flight; else when its next sweep may start
        (-1.0: any time, it has no list)."""
        if provider in self._polling:
            return None
        if self._engine.listed(provider):
            return self._next_sweep.get(provider, 0.0)
        return -1.0

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
            self._marked.add(entry)  # its step ended: looked at next turn
            self._poke()

    async def _poll(self, provider: str, entries: list[Entry], riders: list[Entry]) -> None:
        try:
            await self._engine.poll(provider, entries, riders)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # its riders too back off (and are looked at alone)
            self._engine.poll_failed(provider, entries + riders, exc)
        finally:
            self._sweep_ended(provider, entries)

    def _sweep_ended(self, provider: str, entries: list[Entry]) -> None:
        """The provider's sweep of `entries` is over: they go back into the queue at the time
        their state now says, where the next turn's look would put them (a sweep of hundreds
        must not cost hundreds of looks more), or become riders; the jobs that fell due while
        it was in flight are looked at next turn. Its riders stay where they are (a rider the
        sweep had news of was marked, and is looked at alone)."""
        self._polling.discard(provider)
        gate = self._gate(provider)
        listed = gate is not None and gate >= 0.0
        riders = self._riders.setdefault(provider, {}) if listed else {}
        open_, following, order = self._entries, Phase.FOLLOWING, self._order
        later = []
        for e in entries:
            e.busy = False
            if open_.get(e.job.local_id) is not e:
                continue
            e.token += 1
            if listed and e.phase == following and e.owned:
                if _rides(e) and not e.reread:  # (a callback during the sweep: read again)
                    e.riding = True
                    riders[e] = None
                    continue
                at = _gathered_at(e.next_at, gate)  # type: ignore[arg-type]
            else:
                at = e.next_at
            later.append((at, next(order), e.token, e))
        self._requeue(later)
        # what changed while they were busy (the sweep's own answers, a webhook) is in the
        # state the queue read above: their marks are spent
        self._marked.difference_update(entries)
        self._marked.update(self._held.pop(provider, ()))
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


def _gathered_at(at: float, gate: float) -> float:
    """When a followed job of a provider with a list, due at `at`, is taken by a sweep: the
    first one that may start (`gate`) and gathers it (SWEEP_GATHER ahead of its time)."""
    return max(at - C.SWEEP_GATHER, gate)


def _unride(riders: dict[Entry, None]) -> list[Entry]:
    """Takes every rider out (they are looked at, or swept, as themselves again)."""
    taken = list(riders)
    for e in taken:
        e.riding = False
    riders.clear()
    return taken


def _rides(e: Entry) -> bool:
    """Its schedule is its provider's sweep period, whatever the sweep reads: it rides them."""
    return (
        e.interval == C.SWEEP_PERIOD
        and not e.failures
        and e.last_error is None  # a step that worked since its last failure has cleared it
        and not e.webhook
        and e.job.eta is None
        and not e.job.progress
    )


def _retry_after(exc: BaseException) -> bool:
    value = getattr(exc, "retry_after", None)
    return isinstance(value, (int, float)) and 0 <= value <= C.RETRY_AFTER_MAX


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
