"""``Idempotency-Key`` (sync.so's guide): the same key with the same body replays the first
answer; with another body it is 422; while the first request is still being handled, 409. A
request refused before a generation exists does not use up its key; keys last 24 hours."""

from __future__ import annotations

import threading
import time

from .contract import IDEMPOTENCY_TTL
from .errors import ApiError


class Idempotency:
    """Keys per API key: ``(key, idem)`` → the body's fingerprint and the generation id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], tuple[str, str, float]] = {}
        self._in_flight: set[tuple[str, str]] = set()

    def claim(self, key: str, idem: str, fingerprint: str) -> str | None:
        """The id of the generation a replay returns, or None after reserving ``idem``."""
        slot = (key, idem)
        with self._lock:
            now = time.time()
            for k in [k for k, v in self._known.items() if now - v[2] > IDEMPOTENCY_TTL]:
                del self._known[k]
            if slot in self._in_flight:
                raise ApiError(
                    409,
                    "A request with this Idempotency-Key is still being processed: retry later "
                    "with the same key.",
                    code="IDEMPOTENCY_REQUEST_IN_PROGRESS",
                )
            known = self._known.get(slot)
            if known is not None:
                if known[0] != fingerprint:
                    raise ApiError(
                        422,
                        "This Idempotency-Key was used with a different request body: reuse a "
                        "key only to retry the same request.",
                        code="IDEMPOTENCY_KEY_MISMATCH",
                    )
                return known[1]
            self._in_flight.add(slot)
            return None

    def settle(self, key: str, idem: str, fingerprint: str, gen_id: str | None) -> None:
        """Release the reservation; remember the key only if a generation was made."""
        with self._lock:
            self._in_flight.discard((key, idem))
            if gen_id is not None:
                self._known[(key, idem)] = (fingerprint, gen_id, time.time())
