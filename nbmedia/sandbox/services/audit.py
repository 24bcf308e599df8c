"""What the sandbox created and served, for comparing with what a client believes (a chaos run).

``Sandbox.audit`` (also ``GET /_sandbox/audit``, ``AttachedSandbox.audit()``) is one JSON-able
snapshot:

- ``created``: one record per job any provider created, in creation order, whether or not its
  answer reached the client (a dropped or malformed answer still created the job); an
  idempotent replay adds to ``replays`` instead of making a second record. ``status`` and
  ``outputs`` are read live from the provider when the snapshot is taken (each provider
  registers a lookup), in the provider's own vocabulary; ``account`` is a digest of the key.
  ``ended_at`` is the wall time (epoch float seconds, not rounded) at which the job reached a
  terminal status on the sandbox (output ready, or failed), ``None`` before: the origin for
  completion-to-listener latencies, which providers' own timestamps give only to the second.
- ``served``: one record per download attempt on the file routes: what was sent, how much, and
  which fault (if any) cut it short or replaced it.

Thread-safe: providers record from the event loop and from worker threads.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("nbmedia.sandbox.audit")

Lookup = Callable[[str, Any], "dict[str, Any] | None"]
"""``lookup(job_id, ref) -> {"status": str, "outputs": [file names], "ended_at": float | None,
...}`` (``None``: unknown).
``ref`` is what the provider passed to ``Audit.created`` (e.g. a Vimmerse generation number)."""


def account(key: str) -> str:
    """The first 12 hex digits of the key's SHA-256: names an account without revealing it."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Created:
    provider: str
    id: str
    account: str
    kind: str
    created_at: str
    ref: Any = None
    replays: int = 0
    label: str | None = None


@dataclass
class _Served:
    provider: str
    name: str
    method: str
    status: int | None
    bytes_sent: int
    size: int | None
    complete: bool
    fault: str | None
    at: str = field(default_factory=lambda: _iso(time.time()))


class Audit:
    """Thread-safe record of created jobs and served files; ``audit()`` is ``snapshot()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._created: dict[tuple[str, str, Any], _Created] = {}
        self._served: list[_Served] = []
        self._lookups: dict[str, Lookup] = {}

    def register(self, provider: str, lookup: Lookup) -> None:
        """How to read the current status and outputs of one of `provider`'s jobs."""
        with self._lock:
            self._lookups[provider] = lookup

    def created(
        self,
        provider: str,
        job_id: str,
        key: str,
        kind: str,
        ref: Any = None,
        *,
        label: str | None = None,
    ) -> None:
        """A job was created (call once it is stored); the same (provider, id, ref) again is an
        idempotent replay and only counts in ``replays``. `label` is the request's own words
        (its prompt, text, instructions or output name) to tell jobs apart by."""
        slot = (provider, job_id, ref)
        with self._lock:
            known = self._created.get(slot)
            if known is not None:
                known.replays += 1
                return
            self._created[slot] = _Created(
                provider, job_id, account(key), kind, _iso(time.time()), ref, label=label
            )

    def served(self, **record: Any) -> None:
        """One download attempt (see ``_Served`` for the fields)."""
        with self._lock:
            self._served.append(_Served(**record))

    def clear(self) -> None:
        """Forget every record (the providers' lookups stay)."""
        with self._lock:
            self._created.clear()
            self._served.clear()

    def snapshot(self) -> dict[str, Any]:
        """``{"created": [...], "served": [...]}`` with each job's status read now."""
        with self._lock:
            created = list(self._created.values())
            served = list(self._served)
            lookups = dict(self._lookups)
        # Lookups run outside our lock: they take the providers' own locks.
        return {
            "created": [self._created_json(c, lookups.get(c.provider)) for c in created],
            "served": [
                {
                    "provider": s.provider,
                    "name": s.name,
                    "method": s.method,
                    "status": s.status,
                    "bytes_sent": s.bytes_sent,
                    "size": s.size,
                    "complete": s.complete,
                    "fault": s.fault,
                    "at": s.at,
                }
                for s in served
            ],
        }

    __call__ = snapshot

    @staticmethod
    def _created_json(c: _Created, lookup: Lookup | None) -> dict[str, Any]:
        live: dict[str, Any] | None = None
        if lookup is not None:
            try:
                live = lookup(c.id, c.ref)
            except Exception:  # an audit must not fail because one job is odd
                log.exception("audit lookup of %s %s failed", c.provider, c.id)
        out: dict[str, Any] = {
            "provider": c.provider,
            "id": c.id,
            "account": c.account,
            "kind": c.kind,
            "created_at": c.created_at,
            "replays": c.replays,
            "label": c.label,
            "status": None,
            "outputs": [],
            "ended_at": None,
        }
        if live:
            out.update(live)
        return out

    def __repr__(self) -> str:
        with self._lock:
            return f"<Audit {len(self._created)} created, {len(self._served)} served>"
