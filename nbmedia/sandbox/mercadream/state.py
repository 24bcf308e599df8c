"""MercaDream's jobs and the request gate: who may call (key, plan, per-minute rate), what a
create starts, and how a job reads back (GET, list, vault, audit)."""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

from starlette.requests import Request

from ..kit.env import Env
from ..kit.gates import bearer, plan_for
from ..kit.helpers import iso_ms
from ..kit.rates import RateWindows
from ..services.clock import Lifecycle, Snapshot, Stage
from ..services.webhooks import Delivery
from .contract import (
    COMPUTE_UNITS,
    DEFAULT_PLAN,
    EVENTS,
    LIVE_KEY_PREFIX,
    NAME,
    PLAN_MARKERS,
    PLANS,
    RATE_WINDOW,
    RESOLUTIONS,
    SIGNATURE_HEADER,
    STATUS,
    TEST_KEY,
    TIMINGS,
    Plan,
)
from .errors import ApiError
from .job import Job, new_id
from .rendering import render
from .signing import webhook_body
from .validation import PARSERS, url


class MercaDream:
    """The state behind the routes of one sandbox: jobs, per-key request windows."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._rates = RateWindows(RATE_WINDOW)
        self._last_ms = 0

    # ------------------------------------------------------------------ request gate

    def authorize(self, request: Request) -> tuple[str, Plan]:
        """The caller's key and plan; counts the request against the plan's per-minute limit."""
        sent = bearer(request)
        if not sent.present:
            raise ApiError(
                "invalid_api_key", "Missing API key: send 'Authorization: Bearer <key>'."
            )
        token = sent.token
        if not token:
            raise ApiError(
                "invalid_api_key", "Malformed Authorization header: expected 'Bearer <key>'."
            )
        if token.startswith(LIVE_KEY_PREFIX):
            raise ApiError(
                "invalid_api_key",
                "Live keys (mk_live_...) are never valid on the sandbox: use a test key (mk_test_...).",
            )
        if not TEST_KEY.match(token):
            raise ApiError("invalid_api_key", "Invalid API key.")
        plan = PLANS[plan_for(token, PLAN_MARKERS, DEFAULT_PLAN)]
        if plan.max_resolution is None:
            raise ApiError(
                "plan_no_api_access",
                f"The {plan.name.title()} plan does not include API access: "
                "upgrade to Regular, Advanced or Professional.",
            )
        if not self.env.faults.plan_limits:
            return token, plan
        wait = self._rates.hit(token, plan.rpm)
        if wait is not None:
            raise ApiError(
                "rate_limit_exceeded",
                f"Rate limit of {plan.rpm} requests per minute exceeded "
                f"for the {plan.name.title()} plan.",
                retry_after=wait,
            )
        return token, plan

    # ---------------------------------------------------------------------- creating

    def _next_ms(self) -> int:
        """Strictly increasing epoch milliseconds, so ``before`` cursors never skip a tie."""
        with self._lock:
            self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
            return self._last_ms

    def create(self, key: str, plan: Plan, kind: str, body: dict[str, Any]) -> Job:
        fields = PARSERS[kind](body)
        # documented on /generate only: elsewhere an unknown field, ignored like any other
        webhook_url = url(body, "webhook_url") if kind == "video" else None
        if kind == "video":
            self._check_resolution(plan, fields["resolution"])
        self._check_concurrency(key, plan)
        job = Job(
            id=new_id("job_"),
            key=key,
            kind=kind,
            fields=fields,
            created_ms=self._next_ms(),
            webhook_url=webhook_url,
            compute_units=COMPUTE_UNITS[kind](fields),
            asset_id=new_id("asset_"),
        )
        job.lifecycle = Lifecycle(
            self.env.clock,
            TIMINGS[kind](fields),
            on_change=lambda s, snap: self._changed(job, s, snap),
        )
        with self._lock:
            self._jobs[job.id] = job
        self.env.audit.created(
            NAME, job.id, key, kind, label=fields.get("prompt") or fields.get("text")
        )
        failure = self.env.faults.take_job_failure()
        if failure is not None:
            job.lifecycle.fail(*failure, scheduled=True)
        else:
            self.env.render.submit(self._render, job)
        self.env.clock.track(job.lifecycle)  # stamps each stage on time, fires the webhooks
        return job

    def _check_resolution(self, plan: Plan, resolution: str) -> None:
        assert plan.max_resolution is not None
        if RESOLUTIONS.index(resolution) > RESOLUTIONS.index(plan.max_resolution):
            raise ApiError(
                "plan_resolution_exceeded",
                f"resolution {resolution} is above the {plan.name.title()} plan's maximum "
                f"of {plan.max_resolution}.",
            )

    def _check_concurrency(self, key: str, plan: Plan) -> None:
        if not self.env.faults.plan_limits:
            return
        active = [
            s for s in (j.lifecycle.snapshot() for j in self._owned(key)) if not s.stage.terminal
        ]
        if len(active) >= plan.concurrent:
            wait = max(1, math.ceil(min(s.eta for s in active) - time.time()))
            raise ApiError(
                "concurrency_limit_exceeded",
                f"{len(active)} jobs are already running: the {plan.name.title()} plan allows "
                f"{plan.concurrent} concurrent jobs.",
                retry_after=wait,
            )

    def _render(self, job: Job) -> None:
        """Make the real output (in the render pool); the job completes only after this."""
        render(job, self.env)

    def _changed(self, job: Job, stage: Stage, snap: Snapshot) -> None:
        """Called once per stage reached (under the job's lock): stamp it, send its event."""
        job.stage_ms[stage] = self._next_ms()
        if job.webhook_url and stage in EVENTS:
            payload: dict[str, Any] = {
                "event": EVENTS[stage],
                "job_id": job.id,
                "status": STATUS[stage],
                "download_url": self._download_url(job) if stage is Stage.SUCCEEDED else None,
                "timestamp": iso_ms(job.stage_ms[stage]),
            }
            if stage is Stage.FAILED and snap.error:
                payload["error"] = {"code": snap.error[0], "message": snap.error[1]}
            body, signature = webhook_body(payload, self.env.webhook_secret)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "MercaDream-Webhooks/2.0 (nbmedia sandbox)",
                SIGNATURE_HEADER: signature,
            }
            delivery = Delivery(NAME, job.webhook_url, EVENTS[stage], body, headers, key=job.id)
            self.env.webhooks.send(delivery)

    # ----------------------------------------------------------------------- reading

    def _download_url(self, job: Job) -> str | None:
        return self.env.files.url(job.file_name) if job.file_name else None

    def _owned(self, key: str) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.key == key]

    def get(self, key: str, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.key != key:
            raise ApiError("job_not_found", f"No job with id {json.dumps(job_id)}.")
        return job

    def audit_lookup(self, job_id: str, ref: Any = None) -> dict[str, Any] | None:
        """The sandbox audit's view of a job: its status now, the files it points at."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return None
        snap = job.lifecycle.snapshot()
        names = [job.file_name, job.thumbnail_name] if snap.stage is Stage.SUCCEEDED else []
        return {
            "status": STATUS[snap.stage],
            "outputs": [n for n in names if n],
            "ended_at": snap.ended_at,
        }

    def job_json(self, job: Job, snap: Snapshot | None = None) -> dict[str, Any]:
        snap = snap or job.lifecycle.snapshot()
        out: dict[str, Any] = {
            "id": job.id,
            "kind": job.kind,
            "status": STATUS[snap.stage],
            **job.fields,
            "compute_units": job.compute_units,
            "created_at": iso_ms(job.created_ms),
            "estimated_completion": iso_ms(snap.eta * 1000),
            "progress": math.floor(snap.progress * 100),
        }
        if snap.stage.terminal:
            ended = iso_ms(job.stage_ms[snap.stage])
            out["estimated_completion"] = ended
            out["completed_at"] = ended
        if snap.stage is Stage.SUCCEEDED:
            out.update(job.result)
            out["download_url"] = self._download_url(job)
            if job.thumbnail_name:
                out["thumbnail_url"] = self.env.files.url(job.thumbnail_name)
            out["file_size_bytes"] = job.file_size
        if snap.stage is Stage.FAILED and snap.error:
            out["error"] = {"code": snap.error[0], "message": snap.error[1]}
        return out

    def list_jobs(self, key: str, status: str | None, limit: int, before: float | None) -> dict:
        """One page, newest first; the rows past it are only counted up to one (`has_more`),
        never built: a page costs its own rows, not the account's thousand jobs."""
        rows = []
        for job in sorted(self._owned(key), key=lambda j: j.created_ms, reverse=True):
            if before is not None and not job.created_ms < before:
                continue
            snap = job.lifecycle.snapshot()
            if status is None or STATUS[snap.stage] == status:
                if len(rows) == limit:
                    return {"data": rows, "has_more": True}
                rows.append(self.job_json(job, snap))
        return {"data": rows, "has_more": False}

    def vault(self, key: str, limit: int, before: float | None) -> dict:
        assets = []
        for job in self._owned(key):
            if job.lifecycle.snapshot().stage is not Stage.SUCCEEDED:
                continue
            made = job.stage_ms[Stage.SUCCEEDED]
            if before is None or made < before:
                assets.append((made, job))
        assets.sort(key=lambda pair: pair[0], reverse=True)
        data = [
            {
                "id": job.asset_id,
                "job_id": job.id,
                "kind": job.kind,
                "download_url": self._download_url(job),
                "thumbnail_url": (
                    self.env.files.url(job.thumbnail_name) if job.thumbnail_name else None
                ),
                "file_size_bytes": job.file_size,
                "created_at": iso_ms(made),
            }
            for made, job in assets[:limit]
        ]
        return {"data": data, "has_more": len(assets) > limit}
