"""The pacer keeps a provider's reads few in flight, within a rate, and held after a 429."""

from __future__ import annotations

import asyncio
import time

from nbmedia.pacer import Bucket, Pacer


def test_reads_keep_to_the_rate_after_the_burst() -> None:
    pacer = Pacer(in_flight=4, per_minute=20)  # a burst of 20 (a minute's), then one in 3 s

    async def run() -> list[float]:
        stamps = []

        async def read() -> None:
            async with pacer:
                stamps.append(time.monotonic())

        await asyncio.gather(*(read() for _ in range(21)))
        return stamps

    stamps = asyncio.run(run())
    start = stamps[0]
    assert sum(t - start < 0.05 for t in stamps) == 20  # the burst
    assert stamps[-1] - start >= 2.9  # the next when a token is back
    assert pacer.sent == 21


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
    bucket = Bucket(per_minute=60)
    bucket._tokens = 1.0  # one token left
    bucket.writes_waiting = 1  # and a create waiting for it
    assert bucket.take(write=False) > 0  # the read waits
    assert bucket.take(write=True) == 0.0  # the create takes it
    bucket.writes_waiting = 0
    assert bucket.take(write=False) > 0  # no token left: the next in about a second
