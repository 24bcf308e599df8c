"""Vimmerse media objects and their generations: create, PATCH (metadata or a new
generation), the lifecycle of each generation, the webhook, and the object a GET shows."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ..kit.env import Env
from ..kit.gates import header_key
from ..kit.helpers import iso_us
from ..services.clock import Lifecycle, Snapshot, Stage
from ..services.webhooks import Delivery
from .contract import (
    API_VERSION,
    AUTH_HEADER,
    META_DEFAULTS,
    NAME,
    NO_CREDIT_MARKER,
    STATUS,
    timing,
)
from .errors import ApiError
from .fetching import Inputs, resolve_inputs
from .rendering import Rendered, render_generation
from .validation import CreateBody, PatchBody, complete, generation_params, parse_body

log = logging.getLogger("nbmedia.sandbox.vimmerse")


@dataclass
class Generation:
    number: int
    params: dict[str, Any]
    lifecycle: Lifecycle = field(init=False)
    rendered: Rendered | None = None


@dataclass
class Media:
    id: str
    key: str
    meta: dict[str, Any]
    created: float
    updated: float
    generation: Generation
    done: Generation | None = None
    """The latest generation that succeeded: its outputs are ``result``."""
    ended: dict[int, float] = field(default_factory=dict)
    """Wall time each generation ended at, by number (not for one superseded before its end)."""


def _account(key: str) -> tuple[str, str]:
    """``customer_id`` and ``primary_user_id`` for a key (stable, never the key itself)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"customer-{digest[:12]}", f"user-{digest[12:24]}"


class Vimmerse:
    """The state behind the routes of one sandbox: media objects and their generations."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._media: dict[str, Media] = {}

    # -------------------------------------------------------------------- requests

    def authorize(self, request: Request) -> str:
        key = header_key(request, AUTH_HEADER)
        if not key:
            raise ApiError("UNAUTHORIZED")
        return key

    def check_credit(self, key: str) -> None:
        if NO_CREDIT_MARKER in key:
            raise ApiError("INSUFFICIENT_CREDIT")

    def get(self, key: str, media_id: str) -> Media:
        with self._lock:
            media = self._media.get(media_id)
        if media is None or media.key != key:
            raise ApiError("MEDIA_NOT_FOUND")
        return media

    async def create(self, key: str, raw: bytes) -> Media:
        body, present = parse_body(raw, CreateBody)
        params = complete(generation_params(body, present))
        self.check_credit(key)
        media_id = str(uuid.uuid4())
        got = await self._inputs(media_id, 1, params)
        now = time.time()
        meta = {**META_DEFAULTS, **{k: getattr(body, k) for k in present if k in META_DEFAULTS}}
        gen = Generation(1, params)
        media = Media(media_id, key, meta, now, now, gen)
        gen.lifecycle = self._lifecycle(media, gen)
        with self._lock:  # published only once complete: a GET may come at any moment
            self._media[media_id] = media
        self.env.audit.created(
            NAME, media_id, key, "create", ref=gen.number, label=params.get("prompt")
        )
        self._start(media, gen, got)
        return media

    async def update(self, key: str, media_id: str, raw: bytes) -> Media:
        body, present = parse_body(raw, PatchBody)
        media = self.get(key, media_id)
        changes = generation_params(body, present)
        meta = {k: getattr(body, k) for k in present if k in META_DEFAULTS}
        if not changes and not meta:
            return media  # {} (or only unknown/null keys): unchanged
        generation = got = None
        if changes:
            params = complete({**media.generation.params, **changes})
            self.check_credit(key)
            generation = Generation(media.generation.number + 1, params)
            got = await self._inputs(media.id, generation.number, params)
            generation.lifecycle = self._lifecycle(media, generation)
        with self._lock:
            media.meta.update(meta)
            media.updated = time.time()
            if generation is not None:
                media.generation = generation
        if generation is not None:
            self.env.audit.created(NAME, media.id, key, "regenerate", ref=generation.number)
        if generation is not None and got is not None:
            self._start(media, generation, got)
        return media

    async def _inputs(self, media_id: str, number: int, params: dict[str, Any]) -> Inputs:
        scratch = self.env.files.folder / "scratch" / f"{media_id}-g{number}"
        try:
            return await asyncio.to_thread(resolve_inputs, params, self.env, scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise

    # ----------------------------------------------------------------- generations

    def _lifecycle(self, media: Media, gen: Generation) -> Lifecycle:
        return Lifecycle(
            self.env.clock,
            timing(gen.params),
            on_change=lambda stage, snap: self._changed(media, gen, stage, snap),
        )

    def _start(self, media: Media, gen: Generation, got: Inputs) -> None:
        """Render (or fail, by the fault knob) a published generation on the clock."""
        failure = self.env.faults.take_job_failure()
        if failure is not None:
            gen.lifecycle.fail(*failure, scheduled=True)
            shutil.rmtree(got.scratch, ignore_errors=True)
        else:
            self.env.render.submit(self._render, media, gen, got)
        self.env.clock.track(gen.lifecycle)  # stamps each stage on time, fires the webhook

    def _render(self, media: Media, gen: Generation, got: Inputs) -> None:
        """Make the real outputs (in the render pool); the generation succeeds only after."""
        try:
            gen.rendered = render_generation(media.id, gen.number, gen.params, got, self.env)
        except Exception as exc:
            log.exception("rendering %s (generation %d) failed", media.id, gen.number)
            gen.lifecycle.fail("INTERNAL_ERROR", f"Rendering failed: {exc}")
            return
        finally:
            shutil.rmtree(got.scratch, ignore_errors=True)
        gen.lifecycle.output_ready()

    def _changed(self, media: Media, gen: Generation, stage: Stage, snap: Snapshot) -> None:
        """Once per stage reached: move ``updated_at``; at the end, send the webhook."""
        if media.generation is not gen:
            return  # superseded by a later PATCH
        media.updated = time.time()
        if stage.terminal:
            media.ended[gen.number] = snap.stamps[stage]
        if stage is Stage.SUCCEEDED:
            media.done = gen
        url = media.meta["webhook_url"]
        if stage.terminal and url:
            customer_id, _ = _account(media.key)
            payload = {"customer_id": customer_id, "media_id": media.id, "status": STATUS[stage]}
            body = json.dumps(payload).encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Vimmerse-Webhooks (nbmedia sandbox)",
            }
            delivery = Delivery(NAME, url, STATUS[stage], body, headers, key=media.id)
            self.env.webhooks.send(delivery)

    # -------------------------------------------------------------------- reading

    def audit_lookup(self, media_id: str, number: Any = None) -> dict[str, Any] | None:
        """The sandbox audit's view of generation `number` of a media: the media's
        ``processing_status`` and ``result`` files now (what a GET shows), whether a later
        PATCH superseded that generation, and when that generation ended."""
        with self._lock:
            media = self._media.get(media_id)
        if media is None:
            return None
        gen = media.generation
        stage = gen.lifecycle.snapshot().stage
        done = media.done
        return {
            "status": STATUS[stage],
            "outputs": list(done.rendered.names) if done and done.rendered else [],
            "generation": number,
            "current_generation": gen.number,
            "ended_at": media.ended.get(number),
        }

    def media_json(self, media: Media) -> dict[str, Any]:
        gen = media.generation
        snap = gen.lifecycle.snapshot()  # first: it may move updated_at
        p, meta = gen.params, media.meta
        customer_id, user_id = _account(media.key)
        done = media.done
        succeeded = snap.stage is Stage.SUCCEEDED and gen.rendered is not None
        out: dict[str, Any] = {
            "id": media.id,
            "title": meta["title"] or "",
            "description": meta["description"] or "",
            "customer_id": customer_id,
            "primary_user_id": user_id,
            "media_items": p["media_items"],
            "duration_time": _seconds(gen.rendered.length if succeeded else _planned(p)),
            "processing_status": STATUS[snap.stage],
            "progress_percentage": 100 if succeeded else math.floor(snap.progress * 100),
            "pose_preset": {
                "motion_type": p["video_tool"],
                "prompt": p["prompt"] or "",
                "quantity": p["quantity"],
                "motion_length": p["duration"],
                "loop": p["loop"],
            },
            "submit_params": {
                "native_audio": p["audio_option"]["native_audio"],
                "file_size": str(done.rendered.size) if done and done.rendered else "",
                "scale_factor": "1",
            },
            "result": self._urls(done),
            "visibility_status": meta["visibility_status"],
            "rating": meta["rating"],
            "webhook_url": meta["webhook_url"] or "",
            "created_at": iso_us(media.created),
            "updated_at": iso_us(media.updated),
            "version": API_VERSION,
        }
        if snap.stage is Stage.FAILED and snap.error:
            out["error"] = {"message": snap.error[1], "code": snap.error[0]}
        return out

    def _urls(self, gen: Generation | None) -> list[str]:
        if gen is None or gen.rendered is None:
            return []
        return [self.env.files.url(name) for name in gen.rendered.names]


def _planned(params: dict[str, Any]) -> float:
    """Output length before rendering: a narration's length is not known yet."""
    audio = params["audio_option"]
    narrated = audio["narration"] or audio["narration_url"]
    has_audio_items = any(i["type"] == "audio" for i in params["media_items"] or [])
    return params["duration"] * (1 if narrated or has_audio_items else params["loop"])


def _seconds(value: float) -> str:
    return f"{round(value, 2):g}"
