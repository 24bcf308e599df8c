"""Who may call and how much at once: the ``X-API-Key`` gate, a team's plan and allocation,
and the submissions a team may have in validation at the same time."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from starlette.requests import Request

from ..kit.gates import header_key, plan_for
from ..services.faults import Faults
from .contract import (
    AUTH_HEADER,
    CONCURRENCY_RETRY_AFTER,
    DEFAULT_PLAN,
    EXHAUSTED_MARKER,
    KEY,
    PLAN_MARKERS,
    PLANS,
    SUBMISSIONS_IN_FLIGHT,
    Plan,
)
from .errors import ApiError


def authorize(request: Request) -> str:
    """The caller's key, which is also its team; 401 without a well-formed one."""
    key = header_key(request, AUTH_HEADER)
    if not key:
        raise ApiError("unauthorized", f"Missing {AUTH_HEADER} header: send your vsk_ key.")
    if not KEY.match(key):
        raise ApiError("unauthorized", "Invalid API key: ViddyScribe keys look like vsk_...")
    return key


def plan_of(team: str) -> Plan:
    return PLANS[plan_for(team, PLAN_MARKERS, DEFAULT_PLAN)]


def check_allocation(team: str) -> None:
    """429 ``plan_limit_exceeded`` (no ``retry_after``: waiting does not help) for a team
    whose allocation is used up."""
    if EXHAUSTED_MARKER in team:
        raise ApiError(
            "plan_limit_exceeded",
            "The current team allocation has been exhausted; contact support to extend it.",
        )


class Submissions:
    """Upload and generation requests of each team being read and checked right now."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}

    @contextlib.contextmanager
    def hold(self, team: str) -> Iterator[None]:
        """Hold one of the team's validation slots while a request is read and checked."""
        with self._lock:
            limited = self.faults.plan_limits
            if limited and self._in_flight.get(team, 0) >= SUBMISSIONS_IN_FLIGHT:
                raise ApiError(
                    "concurrency_limit_exceeded",
                    f"Too many concurrent submissions are being validated for this team "
                    f"(at most {SUBMISSIONS_IN_FLIGHT}); retry after a short delay.",
                    retry_after=CONCURRENCY_RETRY_AFTER,
                )
            self._in_flight[team] = self._in_flight.get(team, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[team] -= 1
