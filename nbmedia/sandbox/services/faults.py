"""Fault knobs, in one place for every provider.

``Faults`` holds the knobs (all off by default, settable at runtime from any thread);
``FaultMiddleware`` applies the request-level ones in front of a provider's API routes, asking
the provider only for its own error body. Job failures, webhook faults and slow downloads are
read by the job, webhook and file code respectively.

The probabilistic knobs draw from one RNG (``Faults.seed``): with a seed, the sequence of draws
is reproducible, though which request gets which draw still depends on the order requests
arrive in.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ErrorResponse = Callable[..., Response]
"""A provider's ``error(status, message, *, code=None, retry_after=None) -> Response``."""

DEFAULT_JOB_FAILURE_MESSAGE = "The request was rejected by the content policy (sandbox fault)."

MALFORMED_KINDS = ("empty", "truncated", "non_json", "json_list")
"""What ``malformed_rate`` may turn a 2xx JSON body into (see ``malformed_body``)."""
BAD_GATEWAY_PAGE = b"<html><body>502 Bad Gateway</body></html>"
"""The page a ``non_json`` malformed answer carries (as ``text/html``, status kept)."""
RATE_KNOBS = (
    "error_rate",
    "drop_rate",
    "rate_limit_rate",
    "malformed_rate",
    "truncated_download_rate",
    "html_download_rate",
)
"""The knobs that are a probability 0..1 (``True``/``False`` mean 1/0)."""


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
    - ``fail_next_requests(n, status)``, ``rate_limit_next(n, retry_after)``: the next n API
      requests are rejected before they are processed (so a retry is safe).
    - ``drop_after_receive_next(n)``: the next n API requests are processed (a job is created)
      and then the connection is closed without any response.
    - ``fail_next_jobs(n, code, message)``: the next n created jobs end ``failed``.
    - ``webhook_drop`` / ``webhook_duplicate`` / ``webhook_reorder``: probability (or bool) that
      a webhook delivery is skipped / sent twice / swapped with the next one.
    - ``download_delay``: seconds a file download is stretched over.

    Probabilities (0..1) drawn per API request (not ``/_sandbox`` control routes, not files):

    - ``error_rate``: answered with the provider's 500, before the request is processed.
    - ``rate_limit_rate``: answered 429 before it is processed, in the provider's own error body
      with ``retry_after = rate_limit_retry_after`` (int seconds, default 1) as
      ``rate_limit_next`` does (sync.so documents no ``Retry-After`` and sends none).
    - ``drop_rate``: processed (a create does create its job), then the connection is closed
      with no response, like ``drop_after_receive_next``.
    - ``malformed_rate``: a 2xx JSON answer, once the request was processed, has its body
      replaced by one of ``malformed_kinds`` (chosen at random; default all of
      ``MALFORMED_KINDS``): ``empty`` (no bytes), ``truncated`` (the first half of the real
      body), ``non_json`` (``BAD_GATEWAY_PAGE`` as ``text/html``), ``json_list`` (``[]``). The
      status is kept and ``Content-Length`` matches the new body.

    Probabilities drawn per file download (``GET`` of a stored output that would be served):

    - ``html_download_rate``: answered 200 ``text/html`` with a small error page instead.
    - ``truncated_download_rate``: announces the full ``Content-Length``, sends about half the
      bytes, then closes the connection.

    ``plan_limits`` (bool, default ``True``): a benchmark knob, not part of any provider's
    contract. ``False`` stops every provider from enforcing its per-key request rates (rpm) and
    concurrency limits (MercaDream's plan rpm and concurrent jobs, sync.so's rpm and plan
    concurrency, ViddyScribe's submissions in flight, processing slots and queue), so one key
    can keep a thousand jobs open. Validation, statuses, timing, webhooks, plan features (e.g.
    MercaDream's resolution cap) and every other fault are unchanged. ``reset()`` restores it.

    ``seed``: ``None`` (default) or an int that reseeds the RNG; ``reset()`` turns every other
    knob off and restarts a seeded RNG from its seed.
    """

    error_rate: float
    drop_rate: float
    rate_limit_rate: float
    rate_limit_retry_after: int
    malformed_rate: float
    malformed_kinds: list[str]
    truncated_download_rate: float
    html_download_rate: float
    plan_limits: bool

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._seed: int | None = None
        self._forced: list[_Forced] = []
        self._drops: list[str] = []
        self._job_failures: list[tuple[str, str]] = []
        self._knobs_off()

    def _knobs_off(self) -> None:
        self.latency: float = 0.0
        self.webhook_drop: float | bool = 0.0
        self.webhook_duplicate: float | bool = 0.0
        self.webhook_reorder: float | bool = 0.0
        self.download_delay: float = 0.0
        for name in RATE_KNOBS:
            setattr(self, name, 0.0)
        self.rate_limit_retry_after = 1
        self.malformed_kinds = list(MALFORMED_KINDS)
        self.plan_limits = True

    def reset(self) -> None:
        """Turn every knob off (``plan_limits`` back on) and forget pending one-shot faults (a
        seeded RNG restarts)."""
        with self._lock:
            self._knobs_off()
            self._forced.clear()
            self._drops.clear()
            self._job_failures.clear()
            if self._seed is not None:
                self._rng.seed(self._seed)

    def __setattr__(self, name: str, value: Any) -> None:
        """Checks the probabilistic knobs' values (a ``ValueError`` leaves the knob as it was)."""
        if name in RATE_KNOBS:
            value = _probability(name, value)
        elif name == "rate_limit_retry_after":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"rate_limit_retry_after must be an int >= 0, got {value!r}")
        elif name == "plan_limits":
            if not isinstance(value, bool):
                raise ValueError(f"plan_limits must be true or false, got {value!r}")
        elif name == "malformed_kinds":
            kinds = [value] if isinstance(value, str) else value
            if (
                not isinstance(kinds, (list, tuple))
                or not kinds
                or any(k not in MALFORMED_KINDS for k in kinds)
            ):
                raise ValueError(
                    f"malformed_kinds must be a non-empty list of {list(MALFORMED_KINDS)}, "
                    f"got {value!r}"
                )
            value = list(kinds)
        super().__setattr__(name, value)

    @property
    def seed(self) -> int | None:
        """The RNG's seed (``None``: unseeded). Setting it restarts the RNG from that seed."""
        return self._seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"seed must be an int or None, got {value!r}")
        with self._lock:
            self._seed = value
            self._rng.seed(value)

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
        if p <= 0:
            return False
        if p >= 1:
            return True
        with self._lock:
            return self._rng.random() < p

    def malformed_kind(self) -> str | None:
        """Called after a 2xx JSON answer was made: the ``malformed_kinds`` entry to apply."""
        if not self.chance(self.malformed_rate):
            return None
        kinds = list(self.malformed_kinds)
        with self._lock:
            return kinds[0] if len(kinds) == 1 else self._rng.choice(kinds)

    def download_fault(self) -> str | None:
        """Called before a file is served: ``"html"``, ``"truncated"`` or ``None``."""
        if self.chance(self.html_download_rate):
            return "html"
        if self.chance(self.truncated_download_rate):
            return "truncated"
        return None

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
        if self.chance(self.rate_limit_rate):
            return _Forced(429, int(self.rate_limit_retry_after))
        if self.chance(self.drop_rate):
            return "drop"
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
        if self.faults.malformed_rate:
            await self.app(scope, receive, _Malformer(self.faults, send))
        else:
            await self.app(scope, receive, send)


class _Malformer:
    """A ``send`` that may replace a 2xx JSON response's body (the ``malformed_rate`` fault).

    The response start is held back until the whole body is known, since the replacement
    changes ``Content-Length`` (and, for ``non_json``, ``Content-Type``).
    """

    def __init__(self, faults: Faults, send: Send) -> None:
        self.faults = faults
        self.send = send
        self.start: Message | None = None
        self.kind: str | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", []))
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if 200 <= message["status"] < 300 and ctype == b"application/json":
                self.kind = self.faults.malformed_kind()
            if self.kind is None:
                await self.send(message)
            else:
                self.start = message
            return
        if self.kind is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        assert self.start is not None
        body, ctype = malformed_body(self.kind, b"".join(self.chunks))
        kept = [
            (k, v)
            for k, v in self.start.get("headers", [])
            if k.lower() not in (b"content-length", b"content-type")
        ]
        headers = [*kept, (b"content-length", str(len(body)).encode()), (b"content-type", ctype)]
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})


def malformed_body(kind: str, body: bytes) -> tuple[bytes, bytes]:
    """The replacement body and its ``Content-Type`` for one of ``MALFORMED_KINDS``."""
    if kind == "empty":
        return b"", b"application/json"
    if kind == "truncated":
        return body[: len(body) // 2], b"application/json"
    if kind == "non_json":
        return BAD_GATEWAY_PAGE, b"text/html; charset=utf-8"
    if kind == "json_list":
        return b"[]", b"application/json"
    raise ValueError(f"unknown malformed kind {kind!r}")


def _probability(name: str, value: Any) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a probability from 0 to 1, got {value!r}") from None
    if not 0 <= p <= 1:
        raise ValueError(f"{name} must be a probability from 0 to 1, got {value!r}")
    return p


async def _swallow(message: object) -> None:
    """A ``send`` that discards the response of a request whose connection will be dropped."""
