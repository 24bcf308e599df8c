"""Batch refresh vs one GET per job, against the sandbox over real HTTP.

The tracker refreshes all due jobs of a provider with one list call where the API has one;
this measures what that buys against the baseline of polling each job on its own.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time

import nbmedia as nm
from nbmedia import sandbox as sandbox_mod
from nbmedia.providers.base import Provider

JOBS = 20  # the sandbox key is on the Professional plan: 20 concurrent jobs
ROUNDS = 15


def _time(fn, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> None:
    box = sandbox_mod.start(speed=0.05)  # jobs stay open for the whole benchmark
    with tempfile.TemporaryDirectory() as root:
        studio = nm.Studio(root=root, sandbox=box)
        jobs = [studio.speech(f"benchmark job {i}", format="wav") for i in range(JOBS)]
        provider = studio.provider("mercadream")
        run = studio.engine.runner.run

        def baseline() -> None:
            run(Provider.refresh_many(provider, jobs))  # one GET per job, concurrently

        def batched() -> None:
            run(provider.refresh_many(jobs))  # one list call

        base = _time(baseline, ROUNDS)
        fast = _time(batched, ROUNDS)
        print(
            f"refresh {JOBS} open jobs: one GET each {base * 1000:.1f} ms, "
            f"one list call {fast * 1000:.1f} ms, ratio {base / fast:.1f}x"
        )
        studio.close()
    box.stop()
    asyncio.set_event_loop(None)


if __name__ == "__main__":
    main()
