"""The CPU one kind of step takes on a busy loop, measured as it runs rather than estimated.

A coroutine on an event loop runs in slices, from one `await` that suspends it to the next,
with every other task's slices in between, so the process's CPU over its lifetime says
nothing of its own share. `Meter.wrap` drives a coroutine itself and adds up the thread CPU of
each of its slices only: the coroutine's own code and everything it calls until it suspends.
What the loop does on its behalf between slices (reading its socket into a buffer) is not
counted, so a meter errs low, and what it leaves is charged to the rest.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine, Generator
from typing import Any


class Meter:
    """Thread CPU seconds of the coroutines wrapped, and how many ran to their end."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.runs = 0
        self.on = True
        """Off: wrapped coroutines run unmeasured (say, outside the phase measured)."""

    def wrap(self, coro: Coroutine[Any, Any, Any]) -> _Metered:
        return _Metered(coro, self)


class _Metered:
    """An awaitable that runs `coro`, passing every future it waits on through to the task
    that awaits this (and every value or exception back), timing each slice."""

    def __init__(self, coro: Coroutine[Any, Any, Any], meter: Meter) -> None:
        self._coro = coro
        self._meter = meter

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        value: Any = None
        error: BaseException | None = None
        while True:
            began = time.thread_time()
            try:
                waited = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                self._add(began, ended=True)
                return stop.value
            except BaseException:
                self._add(began, ended=True)
                raise
            self._add(began)
            try:
                value, error = (yield waited), None
            except BaseException as exc:  # a cancel, say: into the coroutine, as await does
                value, error = None, exc

    def _add(self, began: float, *, ended: bool = False) -> None:
        meter = self._meter
        if meter.on:
            meter.cpu += time.thread_time() - began
            meter.runs += ended
