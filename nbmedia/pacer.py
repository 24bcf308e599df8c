"""Keeps one provider's requests within its plan: a few in flight, a steady rate, creates
first, and a pause for all of them when the API says 429.

A thousand open jobs must not become a thousand requests at once (httpx's pool spends more CPU
assigning them than sending them) nor a burst that trips the plan's per-minute limit and
starves the creates. Every request of a provider goes through one of its two pacers (reads:
status GETs and list calls; writes: creates, updates, uploads), which share one token bucket
for the key's rate; a waiting write goes before any read.
"""

from __future__ import annotations

import asyncio
import time

from . import constants as C


class Bucket:
    """The key's rate: `per_minute` requests a minute (None: no limit), with a couple of
    seconds of burst; `hold(s)` stops every request for `s` seconds (a Retry-After is for the
    whole key, not for the one request that got it)."""

    def __init__(self, per_minute: float | None = None) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0 if per_minute else None
        self._burst = max(1.0, (self._rate or 0.0) * C.RATE_BURST_S)
        self._tokens = self._burst
        self._stamp = time.monotonic()
        self._hold_until = 0.0
        self.writes_waiting = 0

    def hold(self, seconds: float) -> None:
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    @property
    def held_for(self) -> float:
        return max(0.0, self._hold_until - time.monotonic())

    def take(self, *, write: bool) -> float:
        """Takes a token if one is there (returns 0) or says how long to wait for one; a read
        waits while a write does (creates go first)."""
        now = time.monotonic()
        wait = self._hold_until - now
        if self._rate is None:
            return max(0.0, wait)
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if wait > 0:
            return wait
        if not write and self.writes_waiting:
            return 1.0 / self._rate
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate


class Pacer:
    """At most `in_flight` requests of one kind at once, each after a token of the shared
    `bucket` (its own bucket at `per_minute` when none is given)."""

    def __init__(
        self,
        in_flight: int = C.READS_IN_FLIGHT,
        per_minute: float | None = None,
        *,
        bucket: Bucket | None = None,
        write: bool = False,
    ) -> None:
        self.in_flight = max(1, in_flight)
        self.bucket = bucket or Bucket(per_minute)
        self.write = write
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sent = 0
        """Requests let through so far (for benchmarks and tests)."""

    def __repr__(self) -> str:
        rate = self.bucket.per_minute
        shown = f"{rate:g}/min" if rate else "no rate limit"
        return f"<Pacer {'writes' if self.write else 'reads'}, {self.in_flight} in flight, {shown}>"

    def hold(self, seconds: float) -> None:
        """No request of the key leaves for `seconds` (a 429's Retry-After)."""
        self.bucket.hold(seconds)

    @property
    def held_for(self) -> float:
        return self.bucket.held_for

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots = asyncio.Semaphore(self.in_flight)
            self._loop = loop
        return self._slots

    async def __aenter__(self) -> Pacer:
        await self._semaphore().acquire()
        if self.write:
            self.bucket.writes_waiting += 1
        try:
            while (wait := self.bucket.take(write=self.write)) > 0:
                await asyncio.sleep(wait)
        except BaseException:
            self._semaphore().release()
            raise
        finally:
            if self.write:
                self.bucket.writes_waiting -= 1
        self.sent += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._semaphore().release()
