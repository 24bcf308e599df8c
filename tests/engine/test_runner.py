"""The Studio's loop runner: cancelled timers do not pile up in a loop nest-asyncio2 patched
(its `_run_once` never clears them, as asyncio's own does)."""

from __future__ import annotations

import asyncio

from nbmedia.engine.runner import LoopRunner


def test_tidy_clears_cancelled_timers_and_the_live_ones_still_fire_in_order() -> None:
    async def main() -> tuple[int, int, list[int]]:
        runner = LoopRunner()  # inside a running loop: bound to it, and patched
        loop = runner.loop
        fired: list[int] = []
        dead = [loop.call_later(60, fired.append, -1) for _ in range(300)]
        for i in range(20):
            loop.call_later(0.01 * (i % 7), fired.append, i)
        for handle in dead:
            handle.cancel()
        before = len(loop._scheduled)  # type: ignore[attr-defined]
        runner.tidy()
        after = len(loop._scheduled)  # type: ignore[attr-defined]
        await asyncio.sleep(0.2)
        return before, after, fired

    before, after, fired = asyncio.run(main())
    assert before >= 320 and after <= 21  # the live ones (and the loop's own, if any)
    order = sorted(range(20), key=lambda i: (i % 7, i))
    assert fired == order  # every live timer fired once, in time order


def test_tidy_leaves_a_heap_that_is_mostly_live() -> None:
    async def main() -> tuple[int, int]:
        runner = LoopRunner()
        loop = runner.loop
        handles = [loop.call_later(60, print) for _ in range(300)]
        for handle in handles[:100]:  # a third cancelled: asyncio's rule keeps them
            handle.cancel()
        before = len(loop._scheduled)  # type: ignore[attr-defined]
        runner.tidy()
        kept = len(loop._scheduled)  # type: ignore[attr-defined]
        for handle in handles:
            handle.cancel()
        return before, kept

    before, kept = asyncio.run(main())
    assert kept == before
