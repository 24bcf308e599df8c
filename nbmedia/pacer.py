"""Keeps one provider's status reads within its plan: a few in flight, a steady rate, and a
pause for all of them when the API says 429.

A thousand open jobs must not become a thousand requests at once (httpx's pool spends more CPU
assigning them than sending them) nor a burst that trips the plan's per-minute limit and
starves the creates. Every status GET and list call of a provider goes through its pacer.
"""

from __future__ import annotations

import asyncio
import time

from . import constants as C


class Pacer:
    """At most `in_flight` reads at once and `per_minute` a minute (a token bucket with a
    couple of seconds of burst); `hold(s)` stops every read of the provider for `s` seconds
    (a Retry-After is for the whole key, not for the one request that got it)."""

    def __init__(self, in_flight: int = C.READS_IN_FLIGHT, per_minute: float | None = None):
        self.in_flight = max(1, in_flight)
        self.per_minute = per_minute
        self._rate = per_minute / 60.0 if per_minute else None
        self._burst = max(1.0, (self._rate or 0.0) * C.READS_BURST_S)
        self._tokens = self._burst
        self._stamp = time.monotonic()
        self._hold_until = 0.0
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sent = 0
        """Reads let through so far (for benchmarks and tests)."""

    def __repr__(self) -> str:
        rate = f"{self.per_minute:g}/min" if self.per_minute else "no rate limit"
        return f"<Pacer {self.in_flight} in flight, {rate}>"

    def hold(self, seconds: float) -> None:
        """No read leaves for `seconds` (a 429's Retry-After)."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    @property
    def held_for(self) -> float:
        return max(0.0, self._hold_until - time.monotonic())

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots = asyncio.Semaphore(self.in_flight)
            self._loop = loop
        return self._slots

    def _take(self) -> float:
        """Takes a token if one is there (returns 0) or says how long until one is."""
        now = time.monotonic()
        wait = self._hold_until - now
        if self._rate is None:
            return max(0.0, wait)
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if wait > 0:
            return wait
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate

    async def __aenter__(self) -> Pacer:
        await self._semaphore().acquire()
        try:
            while (wait := self._take()) > 0:
                await asyncio.sleep(wait)
        except BaseException:
            self._semaphore().release()
            raise
        self.sent += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._semaphore().release()
