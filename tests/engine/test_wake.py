"""The tracker's wait: a poke ends it at once, otherwise its delay does, and a poke made
before the wait began is not lost."""

from __future__ import annotations

import asyncio
import time

from nbmedia.engine.wake import Wake


def test_a_wait_ends_after_its_delay_when_nothing_sets_it() -> None:
    async def main() -> tuple[bool, float]:
        wake = Wake(asyncio.get_running_loop())
        began = time.monotonic()
        was_set = await wake.wait(0.2)
        return was_set, time.monotonic() - began

    was_set, waited = asyncio.run(main())
    assert not was_set and 0.19 <= waited < 2.0


def test_a_set_ends_a_wait_under_way_and_leaves_no_live_timer() -> None:
    async def main() -> tuple[bool, float, int]:
        loop = asyncio.get_running_loop()
        wake = Wake(loop)
        loop.call_later(0.05, wake.set)
        began = time.monotonic()
        was_set = await wake.wait(30)
        live = sum(1 for h in loop._scheduled if not h.cancelled())  # type: ignore[attr-defined]
        return was_set, time.monotonic() - began, live

    was_set, waited, live = asyncio.run(main())
    assert was_set and waited < 5 and live == 0


def test_a_set_before_the_wait_is_kept_until_cleared() -> None:
    async def main() -> list[bool]:
        wake = Wake(asyncio.get_running_loop())
        wake.set()
        seen = [await wake.wait(30), await wake.wait(30)]  # both at once
        wake.clear()
        seen.append(await wake.wait(0.01))
        return seen

    assert asyncio.run(main()) == [True, True, False]


def test_a_cancelled_wait_takes_its_timer_with_it() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        wake = Wake(loop)
        task = loop.create_task(wake.wait(30))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        wake.set()  # no waiter left: nothing to settle
        return sum(1 for h in loop._scheduled if not h.cancelled())  # type: ignore[attr-defined]

    assert asyncio.run(main()) == 0
