"""One scenario: N jobs of one provider submitted and tracked on the Studio's loop, and what
the sandbox's request log and audit say about them."""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import copy
import dataclasses
import inspect
import math
import random
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .metered import Meter

PROMPTS = ("Neon rain on Tokyo streets", "A lighthouse in a storm", "Bees over a lavender field")
SEED = 7
"""Mesh API seed: the same prompt, duration and seed make the same render."""
RATE_LIMITS = {"mercadream": 1000}
"""Requests per minute of the sandbox key's plan (MercaDream Professional)."""
IDLE_S = 3.0
"""Seconds the loop is probed with the Studio open and no jobs: before the jobs are sent, and
again once the last has ended. The idle rate taken off the tracking is the mean of the two:
this machine's speed drifts by a tenth from one minute to the next, and the rate of one window
alone, 45 s from the middle of the tracking, moved its CPU per change by ±0.1 ms."""
SUBMIT_S = 300.0
"""Seconds after which creates still unanswered are left (reported as such): tracking starts."""
DEADLINE_S = 900.0
"""Seconds of tracking after which jobs still open are left unfinished (reported as such)."""
GET_SAMPLE = 100
"""Status GETs made one at a time after the run to learn what one costs (the baseline)."""
FILE_SAMPLE = 100
"""Downloads made again after the run to learn what the meter does not see of one."""
PROBE_S = 0.010
"""The probe's sleep: how late it wakes is the loop's lag."""
FROZEN_S = 120.0
"""Seconds without a turn of the loop after which the run is stopped (a step that never
yields would otherwise hang it for good): the stack it is stuck in is printed."""
STALL_S = 0.03
"""A loop that has not turned for this long is in a stall: where it is stuck is noted."""
STALL_DEPTH = 8
"""Frames kept of a stall's stack."""


@dataclass(frozen=True)
class Scenario:
    provider: str
    kind: str
    speed: float
    """The sandbox clock's speed that gives this kind lifetimes of roughly 10-40 s."""
    lists: bool
    """The API has a job list, so many open jobs can be read in a few calls."""
    row: Callable[[int, random.Random], dict[str, Any]]


SCENARIOS = {
    # (0.5 + 2.5 + duration / 40) / 0.25: 13.5, 15 or 18 s. Video, not speech: MercaDream
    # documents webhook_url on /generate only, so only its video jobs can be followed by webhooks
    "mercadream": Scenario("mercadream", "video", 0.25, True, lambda i, rng: {
        "prompt": PROMPTS[i % 3], "duration": rng.choice((15, 30, 60)), "resolution": "720p",
    }),
    # (1 + 4 + duration / 2) / 0.3: 23, 30 or 37 s
    "meshapi": Scenario("meshapi", "video", 0.3, True, lambda i, rng: {
        "prompt": PROMPTS[i % 3], "duration": rng.choice((4, 8, 12)), "resolution": "480p",
        "seed": SEED,
    }),
    # (1 + 5 + duration / 4) / 0.25: 25, 28 or 34 s
    "vimmerse": Scenario("vimmerse", "video", 0.25, False, lambda i, rng: {
        "prompt": PROMPTS[i % 3], "duration": rng.choice((1, 4, 10)),
    }),
}  # fmt: skip
COMPARE = {  # one prompt at every provider that makes video, each within its own limits
    "mercadream": {"duration": 15, "resolution": "720p"},
    "meshapi": {"duration": 4, "resolution": "480p", "seed": SEED},
    "vimmerse": {"duration": 1},
}


@dataclass
class Run:
    """What one scenario measured."""

    title: str
    n: int
    speed: float
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)
    jobs: int = 0
    """The provider's jobs: the batch's rows and, for video, the compare's one."""
    ended: int = 0
    wall: float = 0.0
    submit_s: float = 0.0
    track_s: float = 0.0
    lifetimes: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    list_calls: int = 0
    job_gets: int = 0
    cpu: float = 0.0
    idle_cpu: float = 0.0
    """CPU seconds per second with the Studio open and no jobs: the mean of `idle_before` and
    `idle_after` (the windows on either side of the tracking)."""
    idle_before: float = 0.0
    idle_after: float = 0.0
    changes: int = 0
    files: int = 0
    """Downloads (a job's files) the Studio finished while tracking."""
    file_cpu: float = 0.0
    """CPU seconds one download took, on average, measured as they ran (`metered.Meter`)."""
    file_ratio: float = 1.0
    """A download's whole CPU over what the meter sees of it (`_file_ratio`)."""
    get_cpu: float = 0.0
    """CPU seconds one status GET takes, the ideal loop's unit, measured in the same run: CPU
    figures of runs on machines (or moments) of different speed compare through it."""
    lags: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stalls: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """Per phase, where the loop was stuck STALL_S into each stall, and how often."""
    phase: str = "idle"
    woke: float = field(default_factory=time.perf_counter)

    async def probe(self) -> None:
        """Sleeps 10 ms at a time on the Studio's loop; records how late it wakes, by phase."""
        while True:
            start = time.perf_counter()
            await asyncio.sleep(PROBE_S)
            self.woke = time.perf_counter()
            self.lags[self.phase].append(max(0.0, self.woke - start - PROBE_S))

    def watch(self, stop: threading.Event) -> None:
        """From a thread: a loop that has not turned for FROZEN_S is reported and interrupted;
        where it was stuck STALL_S into each stall is kept (`--stalls` prints them)."""
        caught = 0.0  # the wake-up of the stall already caught
        while not stop.wait(STALL_S / 4):
            late = time.perf_counter() - self.woke
            if late > STALL_S and self.woke != caught:
                caught = self.woke
                frame = sys._current_frames().get(threading.main_thread().ident or 0)
                if frame is not None:
                    where = traceback.format_stack(frame)[-STALL_DEPTH:]
                    self.stalls[self.phase]["".join(where)] += 1
            if late > FROZEN_S:
                frame = sys._current_frames()[threading.main_thread().ident or 0]
                stack = "".join(traceback.format_stack(frame)[-6:])
                print(f"== {self.title}: the Studio's loop has not turned for {FROZEN_S:.0f} s "
                      f"while {self.phase}; the run stops. It is stuck in:\n{stack}", flush=True)  # fmt: skip
                _thread.interrupt_main()
                return


async def scenario(sc: Scenario, n: int, box: Any, webhooks: bool, speed: float) -> Run:
    """N jobs of one provider (and a compare) submitted, then tracked until every one ended."""
    import pandas as pd

    import nbmedia as nm

    run = Run(f"{sc.provider} {sc.kind}, webhooks {'on' if webhooks else 'off'}", n, speed)
    if webhooks and not hasattr(nm.AsyncStudio, "receive_webhooks"):
        run.skipped = "this Studio has no receive_webhooks() yet"
        return run
    started = time.perf_counter()
    box.speed = speed
    box.audit.clear()
    box.request_log.clear()
    rng = random.Random(n)
    rows = pd.DataFrame(
        [{"provider": sc.provider, "kind": sc.kind, **sc.row(i, rng)} for i in range(n)]
    )
    kwargs: dict[str, Any] = {"rate_limits": RATE_LIMITS}
    if "rate_limits" not in inspect.signature(nm.AsyncStudio).parameters:
        kwargs = {}
        run.notes.append("this Studio takes no rate_limits=: the plan's rate was not passed")
    seen: dict[str, float] = {}  # local id → when a listener first saw the job ended
    finished: set[str] = set()
    calls = 0
    expected = math.inf  # the jobs to track, once all are made
    ended = asyncio.Event()  # set by the listener: the bench does not poll for the end

    def listener(job: Any) -> None:
        nonlocal calls
        calls += 1
        if (job.done or job.progress == 1.0) and job.local_id not in seen:
            seen[job.local_id] = time.time()
        if job.done:
            finished.add(job.local_id)
            if len(finished) >= expected:
                ended.set()

    with tempfile.TemporaryDirectory(prefix="nbmedia-tracking-") as root:
        studio = nm.AsyncStudio(root, sandbox=box, **kwargs)
        files = _meter_downloads(studio)
        probe = asyncio.get_running_loop().create_task(run.probe())
        stop = threading.Event()
        threading.Thread(target=run.watch, args=(stop,), daemon=True).start()
        receiver = None
        try:
            run.idle_before = run.idle_cpu = await _idle_rate()
            if webhooks:
                receiver = await _maybe(studio.receive_webhooks(port=0))
            studio.engine.listeners.append(listener)
            run.phase, t = "submitting", time.perf_counter()
            batch = await studio.batch(rows, limits={sc.provider: n + 1})
            jobs = list(batch.jobs)
            if sc.kind == "video":
                compared = await studio.compare(
                    f"{PROMPTS[0]} (compared)", list(COMPARE), per_provider=COMPARE
                )
                jobs += compared.jobs.values()
            while batch.sent + len(batch.errors) < n and time.perf_counter() - t < SUBMIT_S:
                await asyncio.sleep(0.05)
            unsent = n - batch.sent - len(batch.errors)
            run.submit_s = time.perf_counter() - t
            run.phase, t, cpu, calls0 = "tracking", time.perf_counter(), time.process_time(), calls
            files.on = True
            # woken by the last job's end, not a poll: ten wake-ups a second of the bench's
            # own would be charged to the Studio (each costs this VM ~0.25 ms of CPU)
            expected = len(jobs)
            if len(finished) < expected:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ended.wait(), DEADLINE_S)
            run.cpu, run.changes = time.process_time() - cpu, calls - calls0
            files.on = False
            run.files = files.runs
            run.file_cpu = files.cpu / files.runs if files.runs else 0.0
            run.track_s = time.perf_counter() - t
            run.phase = "idle after"  # the lag goals' baseline stays the idle loop before
            run.idle_after = await _idle_rate()
            run.idle_cpu = (run.idle_before + run.idle_after) / 2
            # counted before the baselines below add their own requests
            _count(run, sc, [j for j in jobs if j.provider == sc.provider and j.id], seen, box)
            run.phase = "measuring a GET"
            await _get_cost(run, studio, sc, jobs)
            run.phase = "measuring the files"
            await _file_ratio(run, studio, jobs, files)
        finally:
            stop.set()
            probe.cancel()
            if receiver is not None:
                await _maybe(receiver.stop())
            await studio.aclose()
    run.wall = time.perf_counter() - started
    if unsent:
        run.notes.append(f"{unsent} of {n} creates still unanswered after {SUBMIT_S:.0f} s")
    if batch.errors:
        first = next(iter(batch.errors.values()))
        run.notes.append(f"{len(batch.errors)} creates refused, the first: {first}")
    if len(finished) < len(jobs):
        run.notes.append(f"{len(jobs) - len(finished)} jobs still open after {DEADLINE_S:.0f} s")
    return run


async def _idle_rate() -> float:
    """Process CPU seconds per second over IDLE_S of the loop with nothing to do but the
    probe's wake-ups (and the stall watcher's thread)."""
    cpu = time.process_time()
    await asyncio.sleep(IDLE_S)
    return (time.process_time() - cpu) / IDLE_S


def _count(run: Run, sc: Scenario, jobs: list[Any], seen: dict[str, float], box: Any) -> None:
    """Requests, lifetimes and latencies of the provider's jobs, from the sandbox's records."""
    run.jobs = len(jobs)
    ids = {j.id for j in jobs}
    for r in box.request_log.snapshot():
        if r.provider == sc.provider and r.method == "GET" and "/files/" not in r.path:
            if r.path.rstrip("/").rsplit("/", 1)[-1] in ids:
                run.job_gets += 1
            else:
                run.list_calls += 1
    audit = {(c["provider"], c["id"]): c for c in box.audit()["created"]}
    for job in jobs:
        made = audit.get((sc.provider, job.id), {})
        if job.local_id in seen and made.get("ended_at") is not None:
            run.ended += 1
            created = datetime.fromisoformat(made["created_at"].replace("Z", "+00:00"))
            run.lifetimes.append(made["ended_at"] - created.timestamp())
            run.latencies.append(seen[job.local_id] - made["ended_at"])


def _meter_downloads(studio: Any) -> Meter:
    """The CPU the Studio's downloads take, slice by slice as they run (off until the
    tracking starts): the files' share of the tracking CPU, which is not status work."""
    meter = Meter()
    meter.on = False
    downloads = studio.engine.downloads
    fetch = downloads.fetch
    downloads.fetch = lambda *args, **kwargs: meter.wrap(fetch(*args, **kwargs))
    return meter


async def _get_cost(run: Run, studio: Any, sc: Scenario, jobs: list[Any]) -> None:
    """The baseline: CPU of one status GET as the ideal loop makes it (one job, one request, one
    at a time), on copies of the provider's finished jobs so that nothing the Studio holds moves."""
    mine = [j for j in jobs if j.provider == sc.provider and j.id]
    if not mine:
        return
    client = studio.provider(sc.provider)
    sample = [copy.copy(mine[i % len(mine)]) for i in range(GET_SAMPLE)]
    await client.refresh(sample[0])  # a connection made before the clock starts
    cpu = time.process_time()
    for job in sample:
        await client.refresh(job)
    run.get_cpu = (time.process_time() - cpu) / len(sample)


async def _file_ratio(run: Run, studio: Any, jobs: list[Any], meter: Meter) -> None:
    """The loop's work for a download (reading its socket, stepping its task) falls between
    the meter's slices, and would be charged to the tracking. It is measured as a ratio:
    FILE_SAMPLE downloads again, alone on the loop and as many at once as the Studio runs,
    their process CPU (less the idle loop's) over what the meter saw of them. Both halves come
    from the same second, so the machine's speed cancels out (the absolute cost of a file,
    estimated this way, moved ×2 from one minute to the next)."""
    import nbmedia.constants as NC

    done = [j for j in jobs if j.outputs and all(o.path for o in j.outputs)]
    if not done:
        return
    fetch = studio.engine.downloads.fetch  # the metered one
    queue = [done[i % len(done)] for i in range(FILE_SAMPLE)]

    async def worker() -> None:
        while queue:
            job = queue.pop()
            again = copy.copy(job)
            again.outputs = [dataclasses.replace(o, path=None) for o in job.outputs]
            await fetch(again, studio.provider(job.provider).api, overwrite=True)

    meter.on, metered, runs = True, meter.cpu, meter.runs
    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(NC.DOWNLOADS_IN_FLIGHT)))
    whole = time.process_time() - cpu - run.idle_cpu * (time.perf_counter() - began)
    seen = meter.cpu - metered
    meter.on = False
    meter.cpu, meter.runs = metered, runs
    if seen > 0:
        run.file_ratio = max(1.0, whole / seen)


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
