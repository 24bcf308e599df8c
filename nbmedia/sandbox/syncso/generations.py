"""Generations: creating one (its failure decided now or once its media are read), rendering it
in the render pool, its webhook when it ends, and the Generation object every route and webhook
shows. Generations are per API key (the sandbox's "organization")."""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request

from ..kit.env import Env
from ..kit.helpers import iso_ms
from ..kit.stamps import Stamps
from ..services.clock import Lifecycle, Snapshot, Stage
from ..services.webhooks import Delivery
from .checks import query_list
from .contract import LIST_STATUSES, NAME, REJECT_CODES, REJECTED, STATUS, TIMING, UNREACHABLE_CODE
from .errors import ApiError, GenerationFailure, bad_request
from .rendering import render
from .signing import generation_webhook
from .spec import Spec

log = logging.getLogger("nbmedia.sandbox.syncso")


@dataclass
class Generation:
    id: str
    key: str
    seq: int
    created_ms: int
    spec: Spec
    scratch: Path
    lifecycle: Lifecycle = field(init=False)
    output_name: str | None = None
    segment_name: str | None = None
    output_duration: float | None = None
    batch_id: str | None = None
    """The batch that made it (batch generations bypass the plan's concurrency)."""


def status_of(snap: Snapshot) -> str:
    """A lifecycle's stage in sync.so's words: a failure with a ``REJECT_CODES`` code is
    REJECTED."""
    if snap.stage is Stage.FAILED and snap.error and snap.error[0] in REJECT_CODES:
        return REJECTED
    return STATUS[snap.stage]


class Generations:
    """Every generation of one sandbox, by id."""

    def __init__(self, env: Env, stamps: Stamps) -> None:
        self.env = env
        self.stamps = stamps
        self.on_end: Callable[[Generation], None] | None = None
        """Told (from the clock's thread, the generation's lock held) when one ends."""
        self._lock = threading.Lock()
        self._generations: dict[str, Generation] = {}

    # ------------------------------------------------------------------------- creating

    def create(
        self,
        key: str,
        spec: Spec,
        scratch: Path,
        unreachable: list[str],
        *,
        batch_id: str | None = None,
    ) -> Generation:
        """A new generation: REJECTED if an input is unreachable, FAILED if a fault or the body
        decides so, else rendered; the clock stamps each stage and fires the webhook."""
        created, seq = self.stamps.next()
        gen = Generation(str(uuid.uuid4()), key, seq, created, spec, scratch, batch_id=batch_id)
        gen.lifecycle = Lifecycle(
            self.env.clock, TIMING, on_change=lambda s, snap: self._changed(gen, s, snap)
        )
        with self._lock:
            self._generations[gen.id] = gen
        self.env.audit.created(NAME, gen.id, key, "generate", label=spec.output_file_name)
        failure = self.env.faults.take_job_failure()
        if unreachable:
            gen.lifecycle.fail(UNREACHABLE_CODE, "; ".join(unreachable))
        elif failure is not None:
            gen.lifecycle.fail(*failure, scheduled=True)
        elif spec.deferred is not None:
            gen.lifecycle.fail(spec.deferred.code, spec.deferred.message)
        else:
            self.env.render.submit(self._render, gen)
        if unreachable or failure is not None or spec.deferred is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        self.env.clock.track(gen.lifecycle)  # stamps each stage on time, fires the webhook
        return gen

    def _render(self, gen: Generation) -> None:
        """Check the media and make the output (in the render pool); COMPLETED only after."""
        try:
            render(gen, self.env)
        except GenerationFailure as exc:
            gen.lifecycle.fail(exc.code, exc.message)
            return
        except Exception as exc:
            log.exception("rendering %s failed", gen.id)
            gen.lifecycle.fail("generation_internal_error", f"Rendering failed: {exc}")
            return
        finally:
            shutil.rmtree(gen.scratch, ignore_errors=True)
        gen.lifecycle.output_ready()

    def _changed(self, gen: Generation, stage: Stage, snap: Snapshot) -> None:
        """Called once per stage reached: a terminal one is POSTed to the webhook, signed."""
        if stage.terminal and self.on_end is not None:
            self.on_end(gen)
        url = gen.spec.webhook_url
        if not url or not stage.terminal:
            return
        body, headers = generation_webhook(self.json(gen, snap), self.env.webhook_secret)
        self.env.webhooks.send(Delivery(NAME, url, status_of(snap), body, headers, key=gen.id))

    # -------------------------------------------------------------------------- reading

    def owned(self, key: str) -> list[Generation]:
        with self._lock:
            return [g for g in self._generations.values() if g.key == key]

    def active(self, key: str) -> int:
        """The key's PENDING + PROCESSING generations, batches' aside (they bypass the plan's
        concurrency)."""
        return sum(
            1
            for g in self.owned(key)
            if g.batch_id is None and not g.lifecycle.snapshot().stage.terminal
        )

    def get(self, key: str, gen_id: str) -> Generation:
        """The key's generation, or 404 (another key's is not found either)."""
        with self._lock:
            gen = self._generations.get(gen_id)
        if gen is None or gen.key != key:
            raise ApiError(404, f"Generation with id {gen_id} not found")
        return gen

    def by_id(self, gen_id: str) -> Generation:
        with self._lock:
            return self._generations[gen_id]

    def audit_lookup(self, gen_id: str, ref: Any = None) -> dict[str, Any] | None:
        """The sandbox audit's view of a generation: its status now, the files it points at."""
        with self._lock:
            gen = self._generations.get(gen_id)
        if gen is None:
            return None
        snap = gen.lifecycle.snapshot()
        names = [gen.output_name, gen.segment_name] if snap.stage is Stage.SUCCEEDED else []
        return {
            "status": status_of(snap),
            "outputs": [n for n in names if n],
            "ended_at": snap.ended_at,
        }

    def json(self, gen: Generation, snap: Snapshot | None = None) -> dict[str, Any]:
        """The Generation object, identical for create, GET, list rows and webhooks."""
        snap = snap or gen.lifecycle.snapshot()
        done = snap.stage is Stage.SUCCEEDED
        failed = snap.stage is Stage.FAILED and snap.error is not None
        files = self.env.files
        return {
            "id": gen.id,
            "createdAt": iso_ms(gen.created_ms),
            "status": status_of(snap),
            "model": gen.spec.model,
            "input": gen.spec.input,
            "options": gen.spec.options,
            "segments": gen.spec.segments,
            "outputUrl": files.url(gen.output_name) if done and gen.output_name else None,
            "outputDuration": gen.output_duration if done else None,
            "segmentOutputUrl": (
                files.url(gen.segment_name) if done and gen.segment_name else None
            ),
            "webhookUrl": gen.spec.webhook_url,
            "error": snap.error[1] if failed and snap.error else None,
            "error_code": snap.error[0] if failed and snap.error else None,
        }

    def list_json(self, key: str, request: Request) -> list[dict[str, Any]]:
        """Newest first; ``status`` and ``ids`` repeatable and/or comma-separated."""
        statuses = query_list(request, "status")
        if any(s not in LIST_STATUSES for s in statuses):
            raise bad_request(
                "each value in status must be one of the following values: "
                + ", ".join(LIST_STATUSES)
            )
        ids = set(query_list(request, "ids"))
        rows = []
        for gen in sorted(self.owned(key), key=lambda g: g.seq, reverse=True):
            if ids and gen.id not in ids:
                continue
            row = self.json(gen)
            if not statuses or row["status"] in statuses:
                rows.append(row)
        return rows
