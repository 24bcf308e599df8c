"""Batches (SDK ``batch``): each line becomes an ordinary generation at once; the batch's
status, metrics and results file follow its generations, and its webhook fires once at the end.
Scale and Enterprise only; a key may run ``BATCH_CONCURRENCY`` batches at once."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request

from ..kit.env import Env
from ..kit.helpers import iso_ms, parse_iso
from ..kit.stamps import Stamps
from ..services.webhooks import Delivery
from .contract import (
    BATCH_CONCURRENCY,
    BATCH_PLANS,
    BATCH_STATUSES,
    NAME,
    REJECTED,
    TERMINAL_STATUSES,
)
from .errors import ApiError, Problems
from .gate import has_credit, plan_id, plan_of
from .generations import Generation, Generations, status_of
from .signing import batch_webhook
from .spec import Spec

ENDED = ("COMPLETED", "FAILED")


@dataclass
class Batch:
    id: str
    key: str
    seq: int
    created_ms: int
    webhook_url: str | None
    rows: list[tuple[str, Generation]]
    """(request_id, generation) in file order."""
    notified: bool = False


def batch_status(stages: list[str]) -> str:
    """A batch's status from its generations' (ours: COMPLETED once every one has ended, FAILED
    if every one failed; PROCESSING once any has started; JOBS_CREATED before)."""
    ended = [s for s in stages if s in TERMINAL_STATUSES]
    if len(ended) == len(stages):
        return "COMPLETED" if "COMPLETED" in stages else "FAILED"
    if any(s != "PENDING" for s in stages):
        return "PROCESSING"
    return "JOBS_CREATED"


class Batches:
    """Every batch of one sandbox, by id; told by ``generations`` when one of theirs ends."""

    def __init__(self, env: Env, stamps: Stamps, generations: Generations) -> None:
        self.env = env
        self.stamps = stamps
        self.generations = generations
        generations.on_end = self._generation_ended
        self._lock = threading.Lock()
        self._batches: dict[str, Batch] = {}

    def check_allowed(self, key: str) -> None:
        """402 ``plan_upgrade_required`` below Scale; 402 without credit."""
        if plan_id(key) not in BATCH_PLANS:
            raise ApiError(
                402,
                f"The Batch API is available only on the Scale and Enterprise plans (this key "
                f"is on {plan_of(key).name}).",
                error_code="plan_upgrade_required",
            )
        if not has_credit(key):
            raise ApiError(402, "Insufficient credits: add credits to start a batch.")

    def check_concurrency(self, key: str) -> None:
        """429 ``concurrency_limit_reached`` once the key runs its plan's batches already."""
        if not self.env.faults.plan_limits:
            return
        limit = BATCH_CONCURRENCY[plan_id(key)]
        with self._lock:
            mine = [b for b in self._batches.values() if b.key == key]
        running = [b for b in mine if self.json(b)["status"] not in ENDED]
        if len(running) >= limit:
            raise ApiError(
                429,
                "Batch concurrency limit reached. Please wait for an existing batch to complete "
                f"or upgrade your plan ({len(running)} of {limit} running).",
                error_code="concurrency_limit_reached",
            )

    def start(
        self, key: str, rows: list[tuple[str, Spec, Path, list[str]]], webhook_url: str | None
    ) -> Batch:
        """A batch whose lines (request_id, spec, scratch, unreachable) become generations."""
        created, seq = self.stamps.next()
        batch = Batch(f"batch_{uuid.uuid4().hex}", key, seq, created, webhook_url, [])
        with self._lock:
            self._batches[batch.id] = batch
        for request_id, spec, scratch, unreachable in rows:
            gen = self.generations.create(key, spec, scratch, unreachable, batch_id=batch.id)
            batch.rows.append((request_id, gen))
        self._changed(batch)  # a batch whose generations all failed at once ends here
        return batch

    def get(self, key: str, batch_id: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or batch.key != key:
            raise ApiError(404, f"Batch with id {batch_id} not found", error_code="batch_not_found")
        return batch

    def json(self, batch: Batch, *, status: str | None = None) -> dict[str, Any]:
        """The SDK's ``BatchResponse``; ``status`` overrides the derived one (the create answer
        says PENDING)."""
        stages = [status_of(g.lifecycle.snapshot()) for _, g in batch.rows]
        derived = batch_status(stages) if stages else "PENDING"
        done = derived in ENDED and len(stages) == len(batch.rows) and stages
        return {
            "id": batch.id,
            "created_at": iso_ms(batch.created_ms),
            "status": status or derived,
            "metrics": {
                "total_generations": len(batch.rows),
                "success_count": stages.count("COMPLETED"),
                "failed_count": sum(s in ("FAILED", REJECTED) for s in stages),
                "pending_count": sum(s not in TERMINAL_STATUSES for s in stages),
            },
            "webhookUrl": batch.webhook_url,
            "outputUrl": f"{self.env.base_url}/v2/batches/{batch.id}/result" if done else "",
        }

    def results(self, batch_id: str) -> bytes | None:
        """The results file once the batch has ended: one line per request, in file order,
        ``{"request_id", "response": <the Generation object>}``."""
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or not self.json(batch)["outputUrl"]:
            return None
        lines = [
            json.dumps({"request_id": rid, "response": self.generations.json(g)})
            for rid, g in batch.rows
        ]
        return ("\n".join(lines) + "\n").encode()

    def list_json(self, key: str, request: Request) -> list[dict[str, Any]]:
        """Newest first; ``status``, ``created_after`` and ``created_before`` (exclusive)."""
        q = request.query_params
        problems = Problems()
        status = q.get("status")
        if status is not None and status not in BATCH_STATUSES:
            problems.add(f"status must be one of the following values: {', '.join(BATCH_STATUSES)}")
        bounds: dict[str, float] = {}
        for name in ("created_after", "created_before"):
            raw = q.get(name)
            if raw is None:
                continue
            moment = parse_iso(raw)
            if moment is None:
                problems.add(f"{name} must be an ISO 8601 date-time")
                continue
            bounds[name] = moment.timestamp() * 1000
        problems.raise_if_any()
        with self._lock:
            mine = sorted((b for b in self._batches.values() if b.key == key), key=lambda b: -b.seq)
        rows = []
        for b in mine:
            if "created_after" in bounds and b.created_ms <= bounds["created_after"]:
                continue
            if "created_before" in bounds and b.created_ms >= bounds["created_before"]:
                continue
            row = self.json(b)
            if status is None or row["status"] == status:
                rows.append(row)
        return rows

    def _generation_ended(self, gen: Generation) -> None:
        """A generation of a batch ended: the batch is looked at from a thread of its own, as
        the caller holds that generation's lock (the batch reads every generation's state)."""
        if gen.batch_id is None:
            return
        with self._lock:
            batch = self._batches.get(gen.batch_id)
        if batch is not None:
            threading.Thread(target=self._changed, args=(batch,), daemon=True).start()

    def _changed(self, batch: Batch) -> None:
        """Once every generation of the batch has ended, POST the batch once to its webhook."""
        if not batch.webhook_url or len(batch.rows) == 0:
            return
        row = self.json(batch)
        if row["status"] not in ENDED or len(batch.rows) < row["metrics"]["total_generations"]:
            return
        with self._lock:
            if batch.notified:
                return
            batch.notified = True
        m = row["metrics"]
        payload = {
            "id": batch.id,
            "status": row["status"],
            "metrics": {
                "totalGenerations": m["total_generations"],
                "successCount": m["success_count"],
                "failedCount": m["failed_count"],
                "pendingCount": m["pending_count"],
            },
            "outputUrl": row["outputUrl"],
            "webhookUrl": batch.webhook_url,
            "createdAt": row["created_at"],
            "options": {},
        }
        body, headers = batch_webhook(payload, self.env.webhook_secret)
        self.env.webhooks.send(
            Delivery(NAME, batch.webhook_url, row["status"], body, headers, key=batch.id)
        )
