"""MercaDream API v2 on the sandbox, written from ``api-docs/mercadream.txt`` and the readings
in ``providers.md`` ("Choices where the documentation is silent"); it shares no code with the
client in ``nbmedia/providers/``.

Mounted at ``/mercadream``: ``{sandbox}/mercadream`` replaces ``https://api.mercadream.com``.
Plans, statuses, timings, limits and error codes are the module-level tables below, so that a
correction to our reading is one line.

Our readings where the documentation is silent (beyond those in providers.md):

- Errors are ``{"code", "message"}``; a 400 for a field adds ``"param"``, and every 400 for a
  field or query value has code ``invalid_request`` with a message naming the field, the value
  and the rule; unparseable JSON is ``invalid_json``; 429s add ``"retry_after"`` (seconds) to
  the body as well as the ``Retry-After`` header. Every 401 is ``invalid_api_key``.
- Checks run in this order: auth (401), plan access (403), per-minute rate (429), body (400),
  plan resolution (403), concurrency (429). Only authenticated requests count towards the rate.
  ``faults.plan_limits = False`` (a benchmark knob) skips the rate and concurrency checks.
- ``null`` for an optional field means its default; unknown fields are ignored; types are
  strict (``"30"``, ``30.0`` and ``true`` are not a duration; ``speed`` may be an int).
- Timestamps are ISO-8601 UTC with milliseconds and ``Z``; ``created_at`` is strictly
  increasing per sandbox so that ``before`` paging never skips a job. A naive ``before`` is UTC.
- Job objects carry ``kind`` and echo the request fields (``voice_id`` may be ``null``); a
  failed job has ``error: {code, message}``; ``completed_at`` is set for both terminal states;
  a music job reports the ``bpm`` it was composed at once completed.
- ``compute_units``: video ``ceil(duration / 15 * RESOLUTION_UNITS)`` (30 s at 4k = 12, the
  doc's example), speech one per 500 characters, music one per 30 s.
- Webhooks: events ``job.processing``, ``job.completed``, ``job.failed`` (the last with an
  ``error`` member); see ``webhook_body`` for what the body's ``signature`` field covers.
  ``webhook_url`` is read on ``/v2/generate`` only (where the page documents it): on speech and
  music it is an unknown field, ignored.
- Vault assets have ids ``asset_…``; their ``created_at`` is the job's ``completed_at``.
- Every output is a preview: 16:9 at 640x360 whatever the resolution. Identical requests (the
  same kind and fields; the webhook aside) get the same bytes, rendered once (``rendercache``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clock import Lifecycle, Snapshot, Stage, Timing
from .webhooks import Delivery

if TYPE_CHECKING:
    from .server import Env

NAME = "mercadream"
WEBHOOK_SECRET = "whsec_sandbox_mercadream"
SIGNATURE_HEADER = "MercaDream-Signature"

log = logging.getLogger("nbmedia.sandbox.mercadream")

# ---------------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class Plan:
    name: str
    rpm: int
    concurrent: int
    max_resolution: str | None
    """``None``: no API access at all."""


PLANS = {
    "free": Plan("free", 0, 0, None),
    "regular": Plan("regular", 60, 2, "720p"),
    "advanced": Plan("advanced", 200, 5, "4k"),
    "professional": Plan("professional", 1000, 20, "8k"),
}
PLAN_MARKERS = (("_free_", "free"), ("_regular_", "regular"), ("_advanced_", "advanced"))
"""A test key containing the marker is on that plan; any other test key is Professional."""
DEFAULT_PLAN = "professional"
TEST_KEY = re.compile(r"^mk_test_[A-Za-z0-9_]+$")
LIVE_KEY_PREFIX = "mk_live_"
RATE_WINDOW = 60.0
"""Seconds of the rolling window the per-minute request limit counts."""

# ------------------------------------------------------------------------ request limits

RESOLUTIONS = ("720p", "1080p", "4k", "8k")
"""Ordered from lowest to highest: a plan allows its max and everything before it."""
DURATIONS = (15, 30, 60, 120)
FPS = (24, 30, 60)
AUDIO_FORMATS = ("mp3", "wav", "flac")
PROMPT_MAX = 1000
TEXT_MAX = 5000
SPEECH_SPEED = (0.5, 2.0)
MUSIC_DURATION = (15, 300)
BPM = (60, 200)
LIST_LIMIT = (1, 100)

VIDEO_DEFAULTS = {"resolution": "4k", "duration": 30, "style": "cinematic", "fps": 24}
SPEECH_DEFAULTS = {"voice_id": "neural-narrator-m", "format": "mp3", "speed": 1.0}
MUSIC_DEFAULTS = {"duration": 60, "format": "mp3"}
LIST_DEFAULT_LIMIT = 20

PREVIEW_ASPECT = "16:9"
PREVIEW_MAX_WIDTH = 640
"""Outputs are previews: every resolution is rendered 16:9 at most this wide."""

# ----------------------------------------------------------------------- job lifecycle

STATUS = {
    Stage.WAITING: "queued",
    Stage.RUNNING: "processing",
    Stage.SUCCEEDED: "completed",
    Stage.FAILED: "failed",
}
STATUSES = tuple(STATUS.values())
EVENTS = {
    Stage.RUNNING: "job.processing",
    Stage.SUCCEEDED: "job.completed",
    Stage.FAILED: "job.failed",
}
TIMINGS: dict[str, Callable[[dict[str, Any]], Timing]] = {
    "video": lambda f: Timing(wait=0.5, run=2.5 + f["duration"] / 40),
    "speech": lambda f: Timing(wait=0.3, run=1.0 + len(f["text"]) / 2500),
    "music": lambda f: Timing(wait=0.3, run=1.0 + f["duration"] / 150),
}
"""Virtual seconds per kind (divided by the sandbox ``speed``): video 3.4-6 s, audio 1.3-3.3 s."""

RESOLUTION_UNITS = {"720p": 1, "1080p": 2, "4k": 6, "8k": 24}
COMPUTE_UNITS: dict[str, Callable[[dict[str, Any]], int]] = {
    "video": lambda f: math.ceil(f["duration"] / 15 * RESOLUTION_UNITS[f["resolution"]]),
    "speech": lambda f: max(1, math.ceil(len(f["text"]) / 500)),
    "music": lambda f: max(1, math.ceil(f["duration"] / 30)),
}
"""Video: the doc's example (30 s at 4k = 12 units) per 15 s times a resolution factor."""

# ------------------------------------------------------------------------------ errors

ERRORS = {
    "invalid_request": 400,
    "invalid_json": 400,
    "invalid_api_key": 401,
    "plan_no_api_access": 403,
    "plan_resolution_exceeded": 403,
    "not_found": 404,
    "job_not_found": 404,
    "method_not_allowed": 405,
    "rate_limit_exceeded": 429,
    "concurrency_limit_exceeded": 429,
    "internal_error": 500,
    "bad_gateway": 502,
    "service_unavailable": 503,
    "gateway_timeout": 504,
}
"""Every error ``code`` the sandbox answers with, and its HTTP status."""
DEFAULT_CODES = {status: code for code, status in reversed(ERRORS.items())}
"""The first code per status: for errors that only know a status (faults, unknown routes)."""


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The error body: ``{"code", "message"}`` (+ ``retry_after`` on 429, ``param`` on 400)."""
    body: dict[str, Any] = {"code": code or DEFAULT_CODES.get(status, "error"), "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    out_headers = dict(headers or {})
    if retry_after is not None:
        body["retry_after"] = retry_after
        out_headers["Retry-After"] = str(retry_after)
    if status == 401:
        out_headers.setdefault("WWW-Authenticate", 'Bearer realm="mercadream"')
    return JSONResponse(body, status_code=status, headers=out_headers)


class ApiError(Exception):
    """An error answer: its HTTP status comes from ``ERRORS``."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = ERRORS[code], code, message
        self.retry_after, self.param = retry_after, param

    def response(self) -> Response:
        return error(
            self.status,
            self.message,
            code=self.code,
            retry_after=self.retry_after,
            param=self.param,
        )


def invalid(param: str, message: str) -> ApiError:
    return ApiError("invalid_request", message, param=param)


# ---------------------------------------------------------------------- field validation

_MISSING = object()


def _get(body: dict[str, Any], name: str, default: Any = _MISSING) -> Any:
    """The field's value; absent or ``null`` means the default (or "required" if none)."""
    value = body.get(name)
    if value is None:
        if default is _MISSING:
            raise invalid(name, f"{name} is required")
        return default
    return value


def _text(body: dict[str, Any], name: str, *, max_len: int | None = None, **kw: Any) -> Any:
    value = _get(body, name, **kw)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, f"{name} must be a string (got {json.dumps(value)})")
    if "default" not in kw and not value.strip():
        raise invalid(name, f"{name} must not be empty (got {json.dumps(value)})")
    if max_len is not None and len(value) > max_len:
        raise invalid(name, f"{name} must be at most {max_len} characters (got {len(value)})")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_of(body: dict[str, Any], name: str, choices: tuple, default: Any) -> Any:
    value = _get(body, name, default)
    wants_int = _is_int(choices[0])
    ok = (_is_int(value) if wants_int else isinstance(value, str)) and value in choices
    if not ok:
        shown = ", ".join(json.dumps(c) for c in choices)
        raise invalid(name, f"{name} must be one of {shown} (got {json.dumps(value)})")
    return value


def _in_range(
    body: dict[str, Any], name: str, bounds: tuple, default: Any, *, integer: bool
) -> Any:
    value = _get(body, name, default)
    if value is None:
        return None
    lo, hi = bounds
    is_number = _is_int(value) or (not integer and isinstance(value, float))
    if not is_number or not lo <= value <= hi:
        kind = "an integer" if integer else "a number"
        raise invalid(name, f"{name} must be {kind} from {lo} to {hi} (got {json.dumps(value)})")
    return value


def _url(body: dict[str, Any], name: str) -> str | None:
    value = _text(body, name, default=None)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(name, f"{name} must be an absolute http(s) URL (got {json.dumps(value)})")
    return value


def parse_video(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt": _text(body, "prompt", max_len=PROMPT_MAX),
        "resolution": _one_of(body, "resolution", RESOLUTIONS, VIDEO_DEFAULTS["resolution"]),
        "duration": _one_of(body, "duration", DURATIONS, VIDEO_DEFAULTS["duration"]),
        "style": _text(body, "style", default=VIDEO_DEFAULTS["style"]),
        "fps": _one_of(body, "fps", FPS, VIDEO_DEFAULTS["fps"]),
        "voice_id": _text(body, "voice_id", default=None),
    }


def parse_speech(body: dict[str, Any]) -> dict[str, Any]:
    speed = _in_range(body, "speed", SPEECH_SPEED, SPEECH_DEFAULTS["speed"], integer=False)
    return {
        "text": _text(body, "text", max_len=TEXT_MAX),
        "voice_id": _text(body, "voice_id", default=SPEECH_DEFAULTS["voice_id"]),
        "format": _one_of(body, "format", AUDIO_FORMATS, SPEECH_DEFAULTS["format"]),
        "speed": float(speed),
    }


def parse_music(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt": _text(body, "prompt"),
        "duration": _in_range(
            body, "duration", MUSIC_DURATION, MUSIC_DEFAULTS["duration"], integer=True
        ),
        "format": _one_of(body, "format", AUDIO_FORMATS, MUSIC_DEFAULTS["format"]),
        "bpm": _in_range(body, "bpm", BPM, None, integer=True),
    }


PARSERS = {"video": parse_video, "speech": parse_speech, "music": parse_music}


# ------------------------------------------------------------------------------- jobs


@dataclass
class Job:
    id: str
    key: str
    kind: str
    fields: dict[str, Any]
    created_ms: int
    webhook_url: str | None
    compute_units: int
    asset_id: str
    lifecycle: Lifecycle = field(init=False)
    stage_ms: dict[Stage, int] = field(default_factory=dict)
    file_name: str | None = None
    thumbnail_name: str | None = None
    file_size: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    """Fields known only once rendered (e.g. the ``bpm`` music was composed at)."""


def _iso(ms: int | float) -> str:
    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_cursor(value: str) -> float:
    """An ISO-8601 ``before`` cursor as epoch milliseconds (naive times are UTC)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise invalid(
            "before", f"before must be an ISO-8601 timestamp (got {json.dumps(value)})"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp() * 1000


def _new_id(prefix: str) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(16))


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def sign(secret: str, data: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``data``."""
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _compact(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def webhook_body(payload: dict[str, Any], secret: str) -> tuple[bytes, str]:
    """The exact body bytes and the ``MercaDream-Signature`` header value.

    The header is HMAC-SHA256 over the raw body and is authoritative. The body's own
    ``signature`` field cannot sign the body that contains it: it is the HMAC of the compact
    JSON (``separators=(",", ":")``, ASCII, key order kept) of the payload without
    ``signature``, which is the body with its last member removed.
    """
    unsigned = {k: v for k, v in payload.items() if k != "signature"}
    body = _compact({**unsigned, "signature": sign(secret, _compact(unsigned))})
    return body, sign(secret, body)


class MercaDream:
    """The state behind the routes of one sandbox: jobs, per-key request windows."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._requests: dict[str, deque[float]] = {}
        self._last_ms = 0

    # ------------------------------------------------------------------ request gate

    def _plan_for(self, key: str) -> Plan:
        name = next((plan for marker, plan in PLAN_MARKERS if marker in key), DEFAULT_PLAN)
        return PLANS[name]

    def authorize(self, request: Request) -> tuple[str, Plan]:
        """The caller's key and plan; counts the request against the plan's per-minute limit."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not header:
            raise ApiError(
                "invalid_api_key", "Missing API key: send 'Authorization: Bearer <key>'."
            )
        if scheme.lower() != "bearer" or not token:
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
        plan = self._plan_for(token)
        if plan.max_resolution is None:
            raise ApiError(
                "plan_no_api_access",
                f"The {plan.name.title()} plan does not include API access: "
                "upgrade to Regular, Advanced or Professional.",
            )
        if not self.env.faults.plan_limits:
            return token, plan
        now = time.monotonic()
        with self._lock:
            window = self._requests.setdefault(token, deque())
            while window and window[0] <= now - RATE_WINDOW:
                window.popleft()
            if len(window) >= plan.rpm:
                wait = max(1, math.ceil(window[0] + RATE_WINDOW - now))
                raise ApiError(
                    "rate_limit_exceeded",
                    f"Rate limit of {plan.rpm} requests per minute exceeded "
                    f"for the {plan.name.title()} plan.",
                    retry_after=wait,
                )
            window.append(now)
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
        webhook_url = _url(body, "webhook_url") if kind == "video" else None
        if kind == "video":
            self._check_resolution(plan, fields["resolution"])
        self._check_concurrency(key, plan)
        job = Job(
            id=_new_id("job_"),
            key=key,
            kind=kind,
            fields=fields,
            created_ms=self._next_ms(),
            webhook_url=webhook_url,
            compute_units=COMPUTE_UNITS[kind](fields),
            asset_id=_new_id("asset_"),
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
        try:
            RENDERERS[job.kind](job, self.env)
        except Exception as exc:
            log.exception("rendering %s failed", job.id)
            job.lifecycle.fail("internal_error", f"Rendering failed: {exc}")
            return
        job.lifecycle.output_ready()

    def _changed(self, job: Job, stage: Stage, snap: Snapshot) -> None:
        """Called once per stage reached (under the job's lock): stamp it, send its event."""
        job.stage_ms[stage] = self._next_ms()
        if job.webhook_url and stage in EVENTS:
            payload: dict[str, Any] = {
                "event": EVENTS[stage],
                "job_id": job.id,
                "status": STATUS[stage],
                "download_url": self._download_url(job) if stage is Stage.SUCCEEDED else None,
                "timestamp": _iso(job.stage_ms[stage]),
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
            "created_at": _iso(job.created_ms),
            "estimated_completion": _iso(snap.eta * 1000),
            "progress": math.floor(snap.progress * 100),
        }
        if snap.stage.terminal:
            ended = _iso(job.stage_ms[snap.stage])
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
        rows = []
        for job in sorted(self._owned(key), key=lambda j: j.created_ms, reverse=True):
            if before is not None and not job.created_ms < before:
                continue
            snap = job.lifecycle.snapshot()
            if status is None or STATUS[snap.stage] == status:
                rows.append(self.job_json(job, snap))
        return {"data": rows[:limit], "has_more": len(rows) > limit}

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
                "created_at": _iso(made),
            }
            for made, job in assets[:limit]
        ]
        return {"data": data, "has_more": len(assets) > limit}


# --------------------------------------------------------------------------- rendering


def _cached(
    job: Job, env: Env, names: dict[str, str], make: Callable[[], dict[str, Any] | None]
) -> dict[str, Any]:
    """Render through the sandbox's render cache: the key is the kind and every request field
    (``webhook_url`` is not one), so identical requests share their files."""
    key = {
        "provider": NAME,
        "kind": job.kind,
        "fields": job.fields,
        "preview": [PREVIEW_ASPECT, PREVIEW_MAX_WIDTH],
    }
    paths = {role: env.files.path(name) for role, name in names.items()}
    return env.rendercache.render(key, paths, make)


def _render_video(job: Job, env: Env) -> None:
    """The prompt on moving frames at the preview size; with ``voice_id``, a narration of it."""
    from .media.video import render_thumbnail, render_video, video_size

    f = job.fields
    width, height = video_size(PREVIEW_ASPECT, max_width=PREVIEW_MAX_WIDTH)
    seed = _seed(f["prompt"])
    name, thumb = f"{job.id}.mp4", f"{job.id}.jpg"

    def make() -> None:
        narration = _narrate(job, env) if f["voice_id"] else None
        try:
            render_video(
                env.files.path(name),
                text=f["prompt"],
                duration=f["duration"],
                fps=f["fps"],
                width=width,
                height=height,
                audio=narration,
                seed=seed,
            )
        finally:
            if narration is not None:
                narration.unlink(missing_ok=True)
        render_thumbnail(
            env.files.path(thumb), text=f["prompt"], width=width, height=height, seed=seed
        )

    _cached(job, env, {"video": name, "thumbnail": thumb}, make)
    job.file_name, job.thumbnail_name = name, thumb
    job.file_size = env.files.path(name).stat().st_size


def _narrate(job: Job, env: Env) -> Path:
    """A WAV of the prompt in the requested voice, to be muxed into the video (then deleted)."""
    from .media.audio import write_audio
    from .media.speech import synthesize, voice_for

    samples, rate = synthesize(
        job.fields["prompt"], voice=voice_for(job.fields["voice_id"]), speed=1.0
    )
    return write_audio(env.files.path(f"{job.id}.narration.wav"), samples, rate, "wav")


def _render_speech(job: Job, env: Env) -> None:
    from .media.audio import write_audio
    from .media.speech import synthesize, voice_for

    f = job.fields
    name = f"{job.id}.{f['format']}"

    def make() -> None:
        samples, rate = synthesize(f["text"], voice=voice_for(f["voice_id"]), speed=f["speed"])
        write_audio(env.files.path(name), samples, rate, f["format"])

    _cached(job, env, {"audio": name}, make)
    job.file_name = name
    job.file_size = env.files.path(name).stat().st_size


def _render_music(job: Job, env: Env) -> None:
    from .media.audio import write_audio
    from .media.music import compose

    f = job.fields
    name = f"{job.id}.{f['format']}"

    def make() -> dict[str, Any]:
        samples, rate, bpm = compose(duration=f["duration"], bpm=f["bpm"], seed=f["prompt"])
        write_audio(env.files.path(name), samples, rate, f["format"])
        return {"bpm": bpm}

    job.result["bpm"] = _cached(job, env, {"audio": name}, make)["bpm"]
    job.file_name = name
    job.file_size = env.files.path(name).stat().st_size


RENDERERS: dict[str, Callable[[Job, Env], None]] = {
    "video": _render_video,
    "speech": _render_speech,
    "music": _render_music,
}


# ------------------------------------------------------------------------------ routes

Handler = Callable[[Request, str, Plan], Awaitable[Response]]


def _endpoint(api: MercaDream, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, rate-limit, then run ``handler``; an ``ApiError`` becomes the error body."""

    async def endpoint(request: Request) -> Response:
        try:
            key, plan = api.authorize(request)
            return await handler(request, key, plan)
        except ApiError as exc:
            return exc.response()

    return endpoint


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("invalid_json", f"Malformed JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "The request body must be a JSON object.")
    return body


def _query_limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return LIST_DEFAULT_LIMIT
    lo, hi = LIST_LIMIT
    if not re.fullmatch(r"\d+", raw) or not lo <= int(raw) <= hi:
        raise invalid(
            "limit", f"limit must be an integer from {lo} to {hi} (got {json.dumps(raw)})"
        )
    return int(raw)


def _query_before(request: Request) -> float | None:
    raw = request.query_params.get("before")
    return None if raw is None else _parse_cursor(raw)


def build(env: Env) -> list[Route]:
    """The MercaDream routes, relative to the provider's base URL."""
    api = MercaDream(env)
    env.audit.register(NAME, api.audit_lookup)

    def creator(kind: str) -> Handler:
        async def create(request: Request, key: str, plan: Plan) -> Response:
            job = api.create(key, plan, kind, await _json_body(request))
            return JSONResponse(api.job_json(job), status_code=201)

        return create

    async def get_job(request: Request, key: str, plan: Plan) -> Response:
        return JSONResponse(api.job_json(api.get(key, request.path_params["job_id"])))

    async def list_jobs(request: Request, key: str, plan: Plan) -> Response:
        status = request.query_params.get("status")
        if status is not None and status not in STATUSES:
            shown = ", ".join(STATUSES)
            raise invalid("status", f"status must be one of {shown} (got {json.dumps(status)})")
        limit, before = _query_limit(request), _query_before(request)
        return JSONResponse(api.list_jobs(key, status, limit, before))

    async def vault(request: Request, key: str, plan: Plan) -> Response:
        limit, before = _query_limit(request), _query_before(request)
        return JSONResponse(api.vault(key, limit, before))

    return [
        Route("/v2/generate", _endpoint(api, creator("video")), methods=["POST"]),
        Route("/v2/speech", _endpoint(api, creator("speech")), methods=["POST"]),
        Route("/v2/music", _endpoint(api, creator("music")), methods=["POST"]),
        Route("/v2/jobs", _endpoint(api, list_jobs), methods=["GET"]),
        Route("/v2/jobs/{job_id}", _endpoint(api, get_job), methods=["GET"]),
        Route("/v2/vault", _endpoint(api, vault), methods=["GET"]),
    ]
