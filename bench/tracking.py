"""`python -m bench tracking`: what following many open jobs costs a notebook kernel.

The sandbox runs in its own process (`python -m nbmedia.sandbox`), so its CPU is not billed to
the client, and the Studio is driven the way a kernel drives it: submitting, tracking and a
probe of the event loop all run on the AsyncStudio's loop, inside one `asyncio.run`.

Per provider (MercaDream speech and Mesh API video have a job list a tracker can sweep;
Vimmerse video has none, so each job is read on its own), with webhooks off and on: N jobs go
out as one `studio.batch` of a DataFrame (for video, plus a `compare` of one prompt across the
providers that make video) and are tracked until every job has ended. Each figure is printed
beside an "ideal 1 s loop" that GETs every open job once a second, computed from the same
jobs' lifetimes as the sandbox's audit records them (created_at → ended_at):

1. status requests per finished job: the sandbox's request log for that provider, status GETs
   and list calls (not creates, file downloads or control routes);
2. completion → listener latency: from the job's `ended_at` at the sandbox to the moment a
   listener on `studio.engine.listeners` first sees it ended (done, or progress 1.0 while its
   files download);
3. kernel CPU per status change: this process's CPU time while only tracking, less its idle
   rate (measured with the Studio open and no jobs; mostly the probe's wake-ups, ~2% of a
   core), divided by the listener calls in that time;
4. event-loop lag: how late a task sleeping 10 ms at a time wakes: idle, while submitting, and
   while only tracking.

Lifetimes of roughly 10-40 s come from the sandbox clock's speed and each kind's timing, with
requests that are cheap for the sandbox to render (its CPU competes with ours on a small
machine): MercaDream speech text is padded with spaces (the lifetime grows with the text's
length, the speech does not), Mesh API and Vimmerse reuse three prompts and three durations
(Mesh API with a fixed seed) so a render cache can serve them. The sandbox's plan limits are
lifted so that N jobs can be open at once on one key.
"""

from __future__ import annotations

import _thread
import argparse
import asyncio
import inspect
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PROMPTS = ("Neon rain on Tokyo streets", "A lighthouse in a storm", "Bees over a lavender field")
SEED = 7
"""Mesh API seed: the same prompt, duration and seed make the same render."""
RATE_LIMITS = {"mercadream": 1000}
"""Requests per minute of the sandbox key's plan (MercaDream Professional)."""
IDLE_S = 3.0
"""Seconds the loop is probed with the Studio open and no jobs, first in each scenario."""
SUBMIT_S = 300.0
"""Seconds after which creates still unanswered are left (reported as such): tracking starts."""
DEADLINE_S = 900.0
"""Seconds of tracking after which jobs still open are left unfinished (reported as such)."""
PROBE_S = 0.010
"""The probe's sleep: how late it wakes is the loop's lag."""
FROZEN_S = 120.0
"""Seconds without a turn of the loop after which the run is stopped (a step that never
yields would otherwise hang it for good): the stack it is stuck in is printed."""


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
    # (0.3 + 1 + len(text) / 2500) / 0.1: 13-33 s
    "mercadream": Scenario("mercadream", "speech", 0.1, True, lambda i, rng: {
        "text": f"Tracking benchmark, job {i}." + " " * rng.randrange(4950) + "End.",
        "format": "wav",
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


class SandboxProcess:
    """`python -m nbmedia.sandbox` as a child process, of the nbmedia this process imports."""

    def __init__(self, seed: int) -> None:
        import nbmedia
        from nbmedia.sandbox import Sandbox

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nbmedia.sandbox", "--port", "0", "--seed", str(seed)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            cwd=Path(nbmedia.__file__).resolve().parent.parent,
        )  # fmt: skip
        first = self.proc.stdout.readline() if self.proc.stdout else ""
        url = next((w for w in first.split() if w.startswith("http://")), None)
        if url is None:
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {first!r}")
        self.box = Sandbox.attach(url)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


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
    """CPU seconds per second with the Studio open and no jobs."""
    changes: int = 0
    lags: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
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
        """From a thread: a loop that has not turned for FROZEN_S is reported and interrupted."""
        while not stop.wait(1.0):
            if time.perf_counter() - self.woke > FROZEN_S:
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

    def listener(job: Any) -> None:
        nonlocal calls
        calls += 1
        if (job.done or job.progress == 1.0) and job.local_id not in seen:
            seen[job.local_id] = time.time()
        if job.done:
            finished.add(job.local_id)

    with tempfile.TemporaryDirectory(prefix="nbmedia-tracking-") as root:
        studio = nm.AsyncStudio(root, sandbox=box, **kwargs)
        probe = asyncio.get_running_loop().create_task(run.probe())
        stop = threading.Event()
        threading.Thread(target=run.watch, args=(stop,), daemon=True).start()
        receiver = None
        try:
            cpu = time.process_time()
            await asyncio.sleep(IDLE_S)
            run.idle_cpu = (time.process_time() - cpu) / IDLE_S
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
            while len(finished) < len(jobs) and time.perf_counter() - t < DEADLINE_S:
                await asyncio.sleep(0.1)
            run.cpu, run.changes = time.process_time() - cpu, calls - calls0
            run.track_s = time.perf_counter() - t
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
    _count(run, sc, [j for j in jobs if j.provider == sc.provider and j.id], seen, box)
    return run


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


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] if s else math.nan


def report(run: Run, sc: Scenario, webhooks: bool) -> str:
    """The scenario's figures beside the ideal 1 s loop's, its goals and whether they are met."""
    if run.skipped:
        return f"== {run.title}: skipped ({run.skipped})"
    life = run.lifetimes or [math.nan]
    status = (run.list_calls + run.job_gets) / max(1, run.ended)
    ideal = 1 + sum(life) / len(life)
    ratio = ideal / status if status else math.inf
    need = 50 if sc.lists else 4
    lat, lat_goal = run.latencies, 1.5 if sc.lists else 5.0
    cpu = max(0.0, run.cpu - run.idle_cpu * run.track_s)
    per_change = cpu / run.changes * 1000 if run.changes else math.nan
    idle = pct(run.lags["idle"], 0.99) * 1000
    row = "{:<36}{:<24}{:<18}{:<24}{}".format
    lines = [
        f"== {run.title} · speed {run.speed:g} · {run.jobs} jobs"
        + (" (one from the compare)" if run.jobs > run.n else "")
        + f", {run.ended} ended · lifetimes {min(life):.1f}-{max(life):.1f} s "
        f"(mean {sum(life) / len(life):.1f}) · wall {run.wall:.0f} s "
        f"(submitting {run.submit_s:.1f} s, tracking {run.track_s:.1f} s)",
        row("", "nbmedia", "ideal 1 s loop", "goal", "met"),
        row("status requests per finished job", f"{status:.2f}", f"{ideal:.1f}",
            "≤ 1.1" if webhooks else f"ideal/nbmedia ≥ ×{need}",
            _met(status <= 1.1 if webhooks else ratio >= need)),
        row("  ideal/nbmedia", f"×{ratio:.1f}" if status else "∞ (none)", "", "", ""),
        row("  list calls, per-job GETs", f"{run.list_calls}, {run.job_gets}", "", "", ""),
        row("completion → listener p50/p95/max",
            "/".join(f"{pct(lat, q):.2f}" for q in (0.5, 0.95, 1.0)) + " s",
            "0.50/0.95/1.00 s", f"p95 ≤ {lat_goal:g} s", _met(pct(lat, 0.95) <= lat_goal)),
        row("kernel CPU per status change", f"{per_change:.2f} ms", "", "≤ 1 ms",
            _met(per_change <= 1.0)),
        row("  CPU − idle CPU, listener calls",
            f"{run.cpu:.1f} − {run.idle_cpu * run.track_s:.1f} s, {run.changes}", "", "", ""),
    ]  # fmt: skip
    for phase in ("idle", "submitting", "tracking"):
        lags = run.lags[phase]
        p99, top = pct(lags, 0.99) * 1000, max(lags, default=math.nan) * 1000
        goal, met = ("", "") if phase == "idle" else ("p99 ≤ idle + 50 ms", _met(p99 <= idle + 50))
        lines.append(row(f"loop lag p99/max, {phase}", f"{p99:.1f}/{top:.0f} ms", "", goal, met))
    return "\n".join(lines + [f"  note: {note}" for note in run.notes])


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


async def run_all(args: argparse.Namespace, box: Any) -> int:
    crashed = 0
    for name in args.providers:
        for webhooks in {"off": [False], "on": [True], "both": [False, True]}[args.webhooks]:
            sc = SCENARIOS[name]
            try:
                run = await scenario(sc, args.n, box, webhooks, args.speed or sc.speed)
                print(report(run, sc, webhooks), flush=True)
            except Exception:
                crashed += 1
                print(f"== {name}, webhooks {'on' if webhooks else 'off'}: crashed", flush=True)
                traceback.print_exc()
    return 1 if crashed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench tracking", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--n", type=int, default=1000, help="jobs per scenario")
    parser.add_argument("--providers", type=lambda s: s.split(","), default=list(SCENARIOS),
                        help=f"comma-separated, of {','.join(SCENARIOS)}")  # fmt: skip
    parser.add_argument("--webhooks", choices=["on", "off", "both"], default="both")
    parser.add_argument("--speed", type=float, help="the sandbox clock's (default: per kind)")
    parser.add_argument("--seed", type=int, default=1, help="the sandbox's fault seed")
    args = parser.parse_args(argv)
    unknown = set(args.providers) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown providers {sorted(unknown)}: choose from {', '.join(SCENARIOS)}")
    # SIGTERM unwinds like Ctrl-C: each Studio closes and the sandbox process is stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sandbox = SandboxProcess(args.seed)
    try:
        sandbox.box.faults.plan_limits = False
        print(
            f"nbmedia tracking benchmark · {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} · "
            f"{os.cpu_count()} cores · N={args.n} · speed {args.speed or 'per kind'} · the "
            f"sandbox in its own process (pid {sandbox.proc.pid}), plan limits lifted · ideal: "
            "1 + lifetime status GETs per job, latency uniform 0-1 s",
            flush=True,
        )
        return asyncio.run(run_all(args, sandbox.box))
    except KeyboardInterrupt:
        print("interrupted: the Studio closed, the sandbox stopped", file=sys.stderr)
        return 130
    finally:
        sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
