"""`bench.tracking.metered`: a coroutine's own CPU on a loop shared with busier tasks."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.tracking.metered import Meter


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def _step(burns: int, result: str) -> str:
    for _ in range(burns):
        _burn(0.01)
        await asyncio.sleep(0.02)  # others run here: not ours
    return result


def test_only_the_coroutines_own_slices_are_counted() -> None:
    async def main() -> tuple[str, Meter]:
        meter = Meter()

        async def busy() -> None:  # 0.2 s of CPU in the gaps of the metered one
            for _ in range(20):
                _burn(0.01)
                await asyncio.sleep(0)

        other = asyncio.create_task(busy())
        got = await meter.wrap(_step(3, "done"))
        await other
        return got, meter

    got, meter = asyncio.run(main())
    assert got == "done" and meter.runs == 1
    assert 0.025 <= meter.cpu < 0.1  # its 30 ms, not the other's 200


def test_exceptions_and_cancels_pass_through_and_a_meter_off_counts_nothing() -> None:
    async def fails() -> None:
        await asyncio.sleep(0)
        raise ValueError("bad")

    async def main() -> Meter:
        meter = Meter()
        with pytest.raises(ValueError, match="bad"):
            await meter.wrap(fails())
        task = asyncio.ensure_future(meter.wrap(asyncio.sleep(10)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        meter.on = False
        await meter.wrap(_step(2, "x"))
        return meter

    meter = asyncio.run(main())
    assert meter.runs == 2 and meter.cpu < 0.01
