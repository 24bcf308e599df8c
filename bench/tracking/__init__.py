"""`python -m bench tracking`: what following many open jobs costs a notebook kernel.

The sandbox runs in its own process (`python -m nbmedia.sandbox`), so its CPU is not billed to
the client, and the Studio is driven the way a kernel drives it: submitting, tracking and a
probe of the event loop all run on the AsyncStudio's loop, inside one `asyncio.run`.

Per provider (MercaDream and Mesh API video have a job list a tracker can sweep;
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
   rate (measured with the Studio open and no jobs, 3 s before the jobs are sent and 3 s
   after the last has ended, and the two averaged; mostly the probe's wake-ups and the stall
   watcher, ~5% of a core) and the files' downloads (their own slices of CPU, measured as they ran:
   `metered.Meter`), divided by the listener calls in that time (the bench waits for the last
   job's end on an event its listener sets, so no wake-up of its own is charged); also in units
   of one status GET of the ideal loop measured in the same run, since this machine's speed
   varies by tens of percent from one minute to the next;
4. event-loop lag: how late a task sleeping 10 ms at a time wakes: idle, while submitting, and
   while only tracking.

Lifetimes of roughly 10-40 s come from the sandbox clock's speed and each kind's timing, with
requests that are cheap for the sandbox to render (its CPU competes with ours on a small
machine): every provider reuses three prompts and three durations (Mesh API with a fixed
seed) so a render cache can serve them. MercaDream runs video jobs: it documents `webhook_url`
on /generate only, so its speech jobs could not be followed by webhooks. The sandbox's plan limits are
lifted so that N jobs can be open at once on one key.

Where the machine has two cores or more (and `--no-pin` is not given), the sandbox process and
what it starts (its ffmpeg renders) keep to the last core and this process to the others: a
real provider renders on its own machines, and a kernel's loop lag should not be the sandbox's
renders taking its core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from .report import report, stalls
from .scenario import SCENARIOS, scenario


class SandboxProcess:
    """`python -m nbmedia.sandbox` as a child process, of the nbmedia this process imports."""

    def __init__(self, seed: int, cores: set[int] | None = None) -> None:
        import nbmedia
        from nbmedia.sandbox import Sandbox

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nbmedia.sandbox", "--port", "0", "--seed", str(seed)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            cwd=Path(nbmedia.__file__).resolve().parent.parent,
            # every thread and render it starts inherits this
            preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
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


async def run_all(args: argparse.Namespace, box: Any) -> int:
    """Every scenario asked for, one after the other on one loop; a crash ends only its own."""
    crashed = 0
    for name in args.providers:
        for webhooks in {"off": [False], "on": [True], "both": [False, True]}[args.webhooks]:
            sc = SCENARIOS[name]
            try:
                run = await scenario(sc, args.n, box, webhooks, args.speed or sc.speed)
                print(report(run, sc, webhooks), flush=True)
                if args.stalls:
                    print(stalls(run), flush=True)
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
    parser.add_argument("--stalls", action="store_true",
                        help="print where the loop was stuck in each stall over 30 ms")  # fmt: skip
    parser.add_argument("--no-pin", action="store_true",
                        help="let the sandbox and the client share every core")  # fmt: skip
    args = parser.parse_args(argv)
    unknown = set(args.providers) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown providers {sorted(unknown)}: choose from {', '.join(SCENARIOS)}")
    # SIGTERM unwinds like Ctrl-C: each Studio closes and the sandbox process is stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
    pin = not args.no_pin and len(cores) >= 2
    sandbox = SandboxProcess(args.seed, {cores[-1]} if pin else None)
    try:
        sandbox.box.faults.plan_limits = False
        pinned = ""
        if pin:
            for task in Path("/proc/self/task").iterdir():  # this process's threads, all
                os.sched_setaffinity(int(task.name), set(cores[:-1]))
            pinned = f", on core {cores[-1]}; the client on {','.join(map(str, cores[:-1]))}"
        print(
            f"nbmedia tracking benchmark · {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} · "
            f"{os.cpu_count()} cores · N={args.n} · speed {args.speed or 'per kind'} · the "
            f"sandbox in its own process (pid {sandbox.proc.pid}{pinned}), plan limits lifted "
            "· ideal: 1 + lifetime status GETs per job, latency uniform 0-1 s",
            flush=True,
        )
        return asyncio.run(run_all(args, sandbox.box))
    except KeyboardInterrupt:
        print("interrupted: the Studio closed, the sandbox stopped", file=sys.stderr)
        return 130
    finally:
        sandbox.stop()
