"""The pacer keeps a provider's reads few in flight, within a rate, and held after a 429."""

from __future__ import annotations

import asyncio
import time

from nbmedia.pacer import Bucket, Pacer


def test_reads_keep_to_the_rate_after_the_burst() -> None:
    pacer = Pacer(in_flight=4, per_minute=600)  # 10 a second, a burst of 20

    async def run() -> list[float]:
        stamps = []

        async def read() -> None:
            async with pacer:
                stamps.append(time.monotonic())

        await asyncio.gather(*(read() for _ in range(30)))
        return stamps

    stamps = asyncio.run(run())
    start = stamps[0]
    assert sum(t - start < 0.05 for t in stamps) == 20  # the burst
    assert stamps[-1] - start >= 0.9  # the other ten at 10 a second
    assert pacer.sent == 30


def test_a_hold_stops_every_read_until_it_lapses() -> None:
    pacer = Pacer(in_flight=16)
    pacer.hold(0.3)

    async def read() -> float:
        async with pacer:
            return time.monotonic()

    start = time.monotonic()
    assert asyncio.run(read()) - start >= 0.29
    assert pacer.held_for == 0.0


def test_in_flight_is_capped() -> None:
    pacer = Pacer(in_flight=3)
    inside = 0
    most = 0

    async def read() -> None:
        nonlocal inside, most
        async with pacer:
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.005)
            inside -= 1

    async def run() -> None:
        await asyncio.gather(*(read() for _ in range(20)))

    asyncio.run(run())
    assert most == 3


def test_a_waiting_write_goes_before_reads() -> None:
    bucket = Bucket(per_minute=60)  # one a second, a burst of two
    reads = Pacer(4, bucket=bucket)
    writes = Pacer(4, bucket=bucket, write=True)
    order: list[str] = []

    async def go(pacer: Pacer, name: str) -> None:
        async with pacer:
            order.append(name)

    async def run() -> None:
        await asyncio.gather(go(reads, "r1"), go(reads, "r2"), go(reads, "r3"), go(writes, "w"))

    asyncio.run(run())
    assert order[:2] == ["r1", "r2"] and order[2] == "w"  # the burst, then the write first
