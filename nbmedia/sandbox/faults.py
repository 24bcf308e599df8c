"""Fault knobs, in one place for every provider.

``Faults`` holds the knobs (all off by default, settable at runtime from any thread);
``FaultMiddleware`` applies the request-level ones in front of a provider's API routes, asking
the provider only for its own error body. Job failures, webhook faults and slow downloads are
read by the job, webhook and file code respectively.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

ErrorResponse = Callable[..., Response]
"""A provider's ``error(status, message, *, code=None, retry_after=None) -> Response``."""

DEFAULT_JOB_FAILURE_MESSAGE = "The request was rejected by the content policy (sandbox fault)."


class DropConnection(Exception):
    """Raised after a request was processed: the outermost layer closes the connection."""


@dataclass(frozen=True)
class _Forced:
    status: int
    retry_after: int | None = None
    path: str = ""
    """Only requests whose path contains this take the fault (all when empty)."""


class Faults:
    """Knobs a test or a notebook turns to see how a client copes; all off by default.

    - ``latency``: seconds added before every API response.
    - ``error_rate``: fraction (0..1) of API requests answered with the provider's 500.
    - ``fail_next_requests(n, status)``, ``rate_limit_next(n, retry_after)``: the next n API
      requests are rejected before they are processed (so a retry is safe).
    - ``drop_after_receive_next(n)``: the next n API requests are processed (a job is created)
      and then the connection is closed without any response.
    - ``fail_next_jobs(n, code, message)``: the next n created jobs end ``failed``.
    - ``webhook_drop`` / ``webhook_duplicate`` / ``webhook_reorder``: probability (or bool) that
      a webhook delivery is skipped / sent twice / swapped with the next one.
    - ``download_delay``: seconds a file download is stretched over.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random()
        self.latency: float = 0.0
        self.error_rate: float = 0.0
        self.webhook_drop: float | bool = 0.0
        self.webhook_duplicate: float | bool = 0.0
        self.webhook_reorder: float | bool = 0.0
        self.download_delay: float = 0.0
        self._forced: list[_Forced] = []
        self._drops: list[str] = []
        self._job_failures: list[tuple[str, str]] = []

    def reset(self) -> None:
        """Turn every knob off and forget pending one-shot faults."""
        with self._lock:
            self.latency = self.error_rate = self.download_delay = 0.0
            self.webhook_drop = self.webhook_duplicate = self.webhook_reorder = 0.0
            self._forced.clear()
            self._drops.clear()
            self._job_failures.clear()

    def fail_next_requests(self, n: int = 1, status: int = 503, path: str = "") -> None:
        if not 500 <= status <= 599:
            raise ValueError(f"status must be a 5xx, got {status}")
        with self._lock:
            self._forced.extend(_Forced(status, path=path) for _ in range(n))

    def rate_limit_next(self, n: int = 1, retry_after: int = 1, path: str = "") -> None:
        with self._lock:
            self._forced.extend(_Forced(429, int(retry_after), path) for _ in range(n))

    def fail_next_jobs(
        self,
        n: int = 1,
        code: str = "content_policy_violation",
        message: str = DEFAULT_JOB_FAILURE_MESSAGE,
    ) -> None:
        with self._lock:
            self._job_failures.extend((code, message) for _ in range(n))

    def drop_after_receive_next(self, n: int = 1, path: str = "") -> None:
        """Only requests whose path contains `path` count (all when empty), so background
        polls cannot take a drop meant for one create."""
        with self._lock:
            self._drops.extend(path for _ in range(n))

    def take_job_failure(self) -> tuple[str, str] | None:
        """Called by a provider when it creates a job: the (code, message) it must fail with."""
        with self._lock:
            return self._job_failures.pop(0) if self._job_failures else None

    def chance(self, knob: float | bool) -> bool:
        """True with probability ``knob`` (``True``/``False`` mean always/never)."""
        p = float(knob)
        return p > 0 and (p >= 1 or self._rng.random() < p)

    def _take_request_fault(self, path: str = "") -> _Forced | str | None:
        with self._lock:
            for i, wanted in enumerate(self._drops):
                if wanted in path:
                    del self._drops[i]
                    return "drop"
            for i, forced in enumerate(self._forced):
                if forced.path in path:
                    return self._forced.pop(i)
        if self.chance(self.error_rate):
            return _Forced(500)
        return None


class FaultMiddleware:
    """Applies request-level faults in front of one provider's API routes (not its files)."""

    def __init__(self, app: ASGIApp, *, faults: Faults, error: ErrorResponse) -> None:
        self.app = app
        self.faults = faults
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        fault = self.faults._take_request_fault(scope.get("path", ""))
        if fault == "drop":
            await self.app(scope, receive, _swallow)
            raise DropConnection
        if isinstance(fault, _Forced):
            message = (
                "Too many requests (sandbox fault)."
                if fault.status == 429
                else "The service failed to answer (sandbox fault)."
            )
            response = self.error(fault.status, message, retry_after=fault.retry_after)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _swallow(message: object) -> None:
    """A ``send`` that discards the response of a request whose connection will be dropped."""
