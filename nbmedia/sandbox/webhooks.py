"""Webhook delivery from one background worker, so events leave in the order they happened.

A provider module builds the exact body bytes and headers (it owns its payload and signature
scheme); this module only delivers them: an httpx sync client, a short timeout, a couple of
retries, and the ``webhook_drop`` / ``webhook_duplicate`` / ``webhook_reorder`` faults.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import httpx

from .faults import Faults

TIMEOUT = 3.0
RETRY_DELAYS = (0.2, 0.5)
"""Pauses before the 2nd and 3rd attempt after a connection error or a non-2xx answer."""
REORDER_HOLD = 1.0
"""How long a delivery held back for reordering waits for a successor (seconds)."""


@dataclass(frozen=True)
class Delivery:
    provider: str
    url: str
    event: str
    body: bytes
    headers: dict[str, str]
    timeout: float = TIMEOUT
    retries: bool = True
    """``False``: one attempt only (for APIs whose callbacks are fire-and-forget)."""


@dataclass
class DeliveryRecord:
    """What happened to one delivery (for tests and notebooks: ``sandbox.webhook_log``)."""

    provider: str
    url: str
    event: str
    body: bytes
    timestamp: float = field(default_factory=time.time)
    attempts: int = 0
    status: int | None = None
    outcome: str = "pending"
    """``delivered``, ``failed`` (gave up), ``dropped`` (fault) or ``pending``."""


class WebhookSender:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.log: list[DeliveryRecord] = []
        self._log_lock = threading.Lock()
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._client = httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
        self._thread.start()

    def send(self, delivery: Delivery) -> None:
        """Queue a delivery; returns at once."""
        self._queue.put(delivery)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._client.close()

    def _run(self) -> None:
        held: Delivery | None = None
        while True:
            try:
                item = self._queue.get(timeout=REORDER_HOLD if held else None)
            except queue.Empty:
                assert held is not None
                self._deliver(held)
                held = None
                continue
            if item is None:
                if held is not None:
                    self._deliver(held)
                return
            if held is None and self.faults.chance(self.faults.webhook_reorder):
                held = item
                continue
            self._deliver(item)
            if held is not None:
                self._deliver(held)
                held = None

    def _deliver(self, d: Delivery) -> None:
        record = DeliveryRecord(d.provider, d.url, d.event, d.body)
        with self._log_lock:
            self.log.append(record)
        if self.faults.chance(self.faults.webhook_drop):
            record.outcome = "dropped"
            return
        copies = 2 if self.faults.chance(self.faults.webhook_duplicate) else 1
        for _ in range(copies):
            self._post(d, record)

    def _post(self, d: Delivery, record: DeliveryRecord) -> None:
        delays = RETRY_DELAYS if d.retries else ()
        for attempt, pause in enumerate((0.0, *delays)):
            if pause:
                time.sleep(pause)
            record.attempts += 1
            try:
                r = self._client.post(d.url, content=d.body, headers=d.headers, timeout=d.timeout)
            except httpx.HTTPError:
                record.status = None
            else:
                record.status = r.status_code
                if r.is_success:
                    record.outcome = "delivered"
                    return
            if attempt == len(delays):
                record.outcome = "failed"
