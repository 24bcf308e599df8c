"""Webhook delivery from a small pool of worker threads: one slow receiver never holds up the
others, and the events of one job still leave in the order they happened.

A provider module builds the exact body bytes and headers (it owns its payload and signature
scheme); this module only delivers them: an httpx sync client, a short timeout, a couple of
retries, and the ``webhook_drop`` / ``webhook_duplicate`` / ``webhook_reorder`` faults.

Ordering: deliveries with the same ``Delivery.key`` (the job id; the URL when no key is given)
form one queue, and at most one worker holds a key's queue at a time, so they are sent one
after the other in the order ``send`` was called. Different keys are sent concurrently.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import httpx

from .faults import Faults

TIMEOUT = 3.0
RETRY_DELAYS = (0.2, 0.5)
"""Pauses before the 2nd and 3rd attempt after a connection error or a non-2xx answer."""
REORDER_HOLD = 1.0
"""How long a delivery held back for reordering waits for its job's next one (seconds)."""
WORKERS = 16
"""Deliveries in flight at once (each worker sends one job's deliveries at a time)."""
CLOSE_TIMEOUT = 5.0
"""Seconds ``close()`` waits for the queued deliveries to go out."""


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
    key: str | None = None
    """What orders deliveries (the job id): the same key is sent in ``send`` order."""

    @property
    def lane(self) -> str:
        return f"{self.provider}/{self.key}" if self.key is not None else f"url:{self.url}"


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
    """Queues deliveries by lane (job) and sends them from ``WORKERS`` threads."""

    def __init__(self, faults: Faults, workers: int = WORKERS) -> None:
        self.faults = faults
        self.log: list[DeliveryRecord] = []
        self._lock = threading.Condition()
        self._lanes: dict[str, deque[Delivery]] = {}
        """Lanes with deliveries waiting or being sent; a lane is in ``_ready`` or held by
        exactly one worker while it is here."""
        self._ready: queue.Queue[str | None] = queue.Queue()
        self._client = httpx.Client(
            timeout=TIMEOUT,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=workers * 2, max_keepalive_connections=workers),
        )
        self._threads = [
            threading.Thread(target=self._run, name=f"sandbox-webhooks-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def send(self, delivery: Delivery) -> None:
        """Queue a delivery; returns at once."""
        lane = delivery.lane
        with self._lock:
            waiting = self._lanes.get(lane)
            if waiting is not None:
                waiting.append(delivery)
                self._lock.notify_all()  # a worker may be holding one back for reordering
                return
            self._lanes[lane] = deque([delivery])
        self._ready.put(lane)

    def close(self) -> None:
        """Send what is queued (for up to ``CLOSE_TIMEOUT`` s), then stop the workers."""
        for _ in self._threads:
            self._ready.put(None)
        deadline = time.monotonic() + CLOSE_TIMEOUT
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._client.close()

    def _run(self) -> None:
        while (lane := self._ready.get()) is not None:
            self._drain(lane)

    def _drain(self, lane: str) -> None:
        """Send the lane's deliveries in order until it is empty, then release it."""
        while (d := self._next(lane)) is not None:
            if self.faults.chance(self.faults.webhook_reorder):
                later = self._next(lane, wait=REORDER_HOLD)
                if later is not None:
                    self._deliver(later)
            self._deliver(d)

    def _next(self, lane: str, *, wait: float = 0.0) -> Delivery | None:
        """The lane's next delivery; ``None`` (and the lane released) when it has none.

        With ``wait``, waits that long for one and never releases the lane.
        """
        with self._lock:
            waiting = self._lanes[lane]
            if wait:
                self._lock.wait_for(lambda: bool(waiting), timeout=wait)
                return waiting.popleft() if waiting else None
            if waiting:
                return waiting.popleft()
            del self._lanes[lane]
            return None

    def _deliver(self, d: Delivery) -> None:
        record = DeliveryRecord(d.provider, d.url, d.event, d.body)
        with self._lock:
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
