"""The one event loop a Studio's async work runs on, and a way to call it from sync code.

In a Jupyter kernel that is the kernel's own loop, so the tracker keeps running while the
kernel is idle; a sync call made from a cell re-enters it through nest-asyncio2 (which ipykernel
itself uses), so nothing raises "cannot be called from a running event loop". In a plain script
the Studio owns a loop and runs it whenever a call needs it.
"""

from __future__ import annotations

import asyncio
import heapq
import threading
from asyncio import base_events
from collections.abc import Coroutine
from typing import Any, TypeVar

import nest_asyncio2

T = TypeVar("T")


class LoopRunner:
    """Binds to the running loop if there is one (a kernel), else owns a new one (a script)."""

    def __init__(self) -> None:
        try:
            self.loop = asyncio.get_running_loop()
            self.owned = False
        except RuntimeError:
            self.loop = asyncio.new_event_loop()
            self.owned = True
        self._thread = threading.get_ident()
        self._patched = False
        if not self.owned:
            # patch now, not at the first nested run: a loop patched while its own _run_once is
            # on the stack can pop from an empty ready queue
            self._patch()

    def __repr__(self) -> str:
        return f"<LoopRunner owned={self.owned}>"

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Runs `coro` to completion on the bound loop, from sync code: re-entering the loop
        from its own thread, or handing the work over from another thread."""
        if self.loop.is_closed():
            coro.close()
            raise RuntimeError("this Studio has been closed")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if threading.get_ident() != self._thread and self.loop.is_running():
            # ipykernel 7 runs widget callbacks on its shell-channel thread: hand the work to
            # the Studio's loop (the kernel's) and wait for it here
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result()
        if running is not None and running is not self.loop:
            coro.close()
            raise RuntimeError(
                "this Studio was created on another event loop; create it inside this one"
            )
        if running is self.loop or self.loop.is_running():
            self._patch()
        return self.loop.run_until_complete(coro)

    def _patch(self) -> None:
        if not self._patched:
            nest_asyncio2.apply(self.loop)
            self._patched = True

    def tidy(self) -> None:
        """Clears the cancelled timers out of a loop nest-asyncio2 patched, by asyncio's own
        rule (over 100 timers, at least half cancelled). Its `_run_once` never does: every
        HTTP read's timeout stays in the timer heap until its deadline, cancelled, so a
        thousand downloads left thousands there, each with its context, making every timer
        dearer to set and a full garbage collection longer. Called once a second."""
        loop = self.loop
        scheduled = getattr(loop, "_scheduled", None)
        if not self._patched or not isinstance(scheduled, list):
            return  # an unpatched asyncio loop clears its own
        if len(scheduled) <= base_events._MIN_SCHEDULED_TIMER_HANDLES:
            return
        live = [h for h in scheduled if not h._cancelled]
        if len(live) > len(scheduled) * (1 - base_events._MIN_CANCELLED_TIMER_HANDLES_FRACTION):
            return
        for handle in scheduled:
            if handle._cancelled:
                handle._scheduled = False
        heapq.heapify(live)
        scheduled[:] = live  # in place: a `_run_once` under way holds this list
        loop._timer_cancelled_count = 0  # type: ignore[attr-defined]

    def create_task(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        return self.loop.create_task(coro)

    def cancel_pending(self) -> None:
        """Cancels every task of an owned loop that is not running now (a batch not yet
        started stays unstarted: its rows stay planned for the next Studio)."""
        if self.owned and not self.loop.is_closed() and not self.loop.is_running():
            for task in asyncio.all_tasks(self.loop):
                task.cancel()

    def close(self) -> None:
        if self.owned and not self.loop.is_closed() and not self.loop.is_running():
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()
