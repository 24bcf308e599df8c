"""What the tracker's turn waits on: a poke, or its delay, whichever comes first.

`asyncio.wait_for(event.wait(), delay)` makes a task for `Event.wait`, a timeout and their
callbacks on every wait, and the tracker waits ten times a second with a thousand jobs open:
this is one future and one timer a wait.
"""

from __future__ import annotations

import asyncio


class Wake:
    """An `asyncio.Event` for one waiter, whose wait ends after `delay` if nothing sets it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<Wake {'set' if self._set else 'clear'}>"

    def set(self) -> None:
        """Ends the wait under way, or the next one at once (until `clear`); on the loop."""
        self._set = True
        _settle(self._waiter)

    def clear(self) -> None:
        self._set = False

    async def wait(self, delay: float) -> bool:
        """Until set or `delay` seconds have passed; whether it was set."""
        if not self._set:
            waiter = self._loop.create_future()
            self._waiter = waiter
            timer = self._loop.call_later(delay, _settle, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        return self._set


def _settle(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
