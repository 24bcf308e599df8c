"""Creation stamps: epoch milliseconds that strictly increase, with a sequence number, so that
"newest first" and time-bounded lists never tie or skip an object made in the same millisecond."""

from __future__ import annotations

import threading
import time


class Stamps:
    """One counter per provider instance; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._seq = 0

    def next(self) -> tuple[int, int]:
        """``(created_ms, seq)``: now in ms (or one past the last stamp) and the next number."""
        with self._lock:
            self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
            self._seq += 1
            return self._last_ms, self._seq
