"""Per-key request limits: a sliding window of the last ``window`` seconds per bucket."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Hashable


class RateWindows:
    """Counts requests per bucket (a key, or a key and a route group); thread-safe."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._hits: dict[Hashable, deque[float]] = {}

    def hit(self, bucket: Hashable, limit: int) -> int | None:
        """Count one request, or, when `limit` are already in the window, count nothing and
        return the whole seconds (at least 1) until one leaves it."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(bucket, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= limit:
                return max(1, math.ceil(hits[0] + self.window - now)) if hits else 1
            hits.append(now)
        return None
