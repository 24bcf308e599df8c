"""Who is calling and what they may do: the ``x-api-key`` (any non-empty key is valid), its
plan and credit (read from markers in the key), the per-key rate windows and the plan's
concurrency. ``faults.plan_limits = False`` lifts rates and concurrency."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from ..kit.gates import header_key, plan_for
from ..kit.rates import RateWindows
from ..services.faults import Faults
from .contract import (
    AUTH_HEADER,
    DEFAULT_PLAN,
    NO_CREDIT_MARKER,
    PLAN_MARKERS,
    PLANS,
    RATE_LIMITS,
    RATE_WINDOW,
    Plan,
)
from .errors import ApiError


def plan_id(key: str) -> str:
    """The id (``PLANS`` key) of the plan a key is on."""
    return plan_for(key, PLAN_MARKERS, DEFAULT_PLAN)


def plan_of(key: str) -> Plan:
    return PLANS[plan_id(key)]


def has_credit(key: str) -> bool:
    return NO_CREDIT_MARKER not in key


class Gate:
    """Authentication and the per-key rate windows (``create`` or ``other`` routes)."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rates = RateWindows(RATE_WINDOW)

    def authorize(self, request: Request, bucket: str) -> str:
        """The caller's key: 401 without one, 429 past the bucket's rate (no Retry-After)."""
        key = header_key(request, AUTH_HEADER)
        if not key:
            raise ApiError(401, "Unauthorized: send your API key in the x-api-key header.")
        if not self.faults.plan_limits:
            return key
        limit = RATE_LIMITS[bucket]
        if self._rates.hit((key, bucket), limit) is not None:
            raise ApiError(
                429, f"ThrottlerException: Too Many Requests (limit {limit} requests per minute)."
            )
        return key

    def for_bucket(self, bucket: str) -> Callable[[Request], str]:
        """``authorize`` for one bucket, as ``kit.routing.gated`` takes it."""
        return lambda request: self.authorize(request, bucket)

    def check_credit_and_concurrency(self, key: str, active: Callable[[], int]) -> None:
        """402 without credit; 429 once the key's plan runs ``active()`` generations already."""
        if not has_credit(key):
            raise ApiError(
                402,
                "Insufficient credits: add credits or upgrade your plan to start a generation.",
            )
        if not self.faults.plan_limits:
            return
        plan, running = plan_of(key), active()
        if running >= plan.concurrency:
            raise ApiError(
                429,
                f"Concurrency limit reached: the {plan.name} plan runs {plan.concurrency} "
                f"generation{'s' if plan.concurrency > 1 else ''} at a time "
                f"({running} pending or processing).",
            )
