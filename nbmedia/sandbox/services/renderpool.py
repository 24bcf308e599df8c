"""The render threads of one sandbox, and how stopping the sandbox cancels their work.

A render runs ffmpeg into the file store. Deleting the store under a running ffmpeg made it
fail ("Unable to re-open … output file") and each provider log the failure with a traceback.
Now ``stop()`` first marks the pool stopping, kills the ffmpeg processes its renders started,
and waits (briefly) for the render threads to come back before the store goes: the render
raises ``RenderCancelled``, a ``BaseException`` that a provider's ``except Exception`` does not
log, and the pool drops it quietly.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable
from typing import Any

from .media._ffmpeg import CancelScope, RenderCancelled

STOP_TIMEOUT = 5.0
"""Wall seconds ``stop`` waits for running renders to come back after their ffmpeg is killed."""


class RenderPool:
    """A thread pool for renders (``submit`` as on an executor); ``stop`` cancels them."""

    def __init__(self, workers: int, *, name: str = "sandbox-render") -> None:
        self._pool = cf.ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._scope = CancelScope()
        self._lock = threading.Lock()
        self._running: set[cf.Future[Any]] = set()

    @property
    def stopping(self) -> bool:
        return self._scope.cancelled

    @property
    def active(self) -> int:
        """Renders submitted and not yet finished (queued or running)."""
        with self._lock:
            return len(self._running)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if self.stopping:  # the sandbox is stopping: nothing new starts
            future: cf.Future[Any] = cf.Future()
            future.cancel()
            return future
        future = self._pool.submit(self._run, fn, args, kwargs)
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._done)
        return future

    def _run(self, fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        try:
            with self._scope.entered():
                return fn(*args, **kwargs)
        except RenderCancelled:
            return None  # the sandbox is stopping: nobody waits for this render any more

    def _done(self, future: cf.Future[Any]) -> None:
        with self._lock:
            self._running.discard(future)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Cancel queued renders, kill running ffmpeg, and wait up to `timeout` s for the
        render threads to return. Safe to call twice."""
        self._scope.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = list(self._running)
        cf.wait(running, timeout=timeout)
