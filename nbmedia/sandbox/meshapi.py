"""Mesh API video generations on the sandbox, written from ``api-docs/meshapi.txt``, section 4
of ``providers.md`` and the wire types of the public ``meshapi`` SDK (0.1.11: ``_types.py``,
``_errors.py``); it shares no code with the client in ``nbmedia/providers/``.

Mounted at ``/meshapi``: ``{sandbox}/meshapi`` replaces ``https://api.meshapi.ai``, so
``MeshAPI(base_url=f"{sandbox.url}/meshapi", token="rsk_...")`` works unchanged. Models,
statuses, timings, limits, defaults and error codes are the module-level tables below, so that
a correction to our reading is one line.

Our readings where the documentation is silent (beyond those in providers.md):

- Keys: ``Bearer rsk_<letters, digits, _ or ->``; anything else is 401 ``unauthorized``. A key
  containing ``_nospend_`` has hit its spend limit (402 on create only: reading is free); one
  containing ``_forbidden_`` is refused everything (403).
- Errors: ``{"error": {code, message, details, provider_error, retry_after_seconds},
  "request_id"}`` with the same id in ``x-request-id`` (every API response carries one). A 422
  lists every problem found in ``details`` as FastAPI does: ``{"loc", "msg", "type"}``, and its
  ``message`` joins them; unparseable JSON is a 422 too. The body is read before the key is
  checked, so an oversized body is 413 ``payload_too_large`` whatever the key. Then: auth (401,
  403, 402), JSON (422), model (422 if missing, 404 ``model_not_found`` if unknown), fields and
  content (422), the media themselves (422), and a ``draft_task`` still running (409
  ``conflict``).
- ``POST`` answers ``200 {"id"}`` (the API reference's documented response). Task ids look like
  BytePlus's (``cgt-<utc yyyymmddhhmmss>-<5 chars>``) and are opaque.
- Models: ``MODELS`` below. Seedance 2.0 (and 2.0 fast) take text, image, video and audio items,
  4-15 s; Seedance 1.5 pro (4-12 s) and 1.0 pro (2-12 s) take text and image items only.
- Fields are strict: unknown fields are 422 (as the SDK's own ``extra="forbid"``), integers
  must be JSON integers, booleans JSON booleans; ``null`` means the default. Defaults:
  ``DEFAULTS`` (720p, 16:9, 5 s, no audio, ...). ``frames`` follows BytePlus's rule (29-289 and
  25 + 4n) on every model; a task made from ``frames`` reports ``duration`` rounded to whole
  seconds. 24 fps always. ``seed`` -1..2^32-1 (-1 or absent: a random one, reported).
  ``execution_expires_after`` 1..259200 s (the low bound lets a notebook see ``expired``).
- ``ratio: adaptive``: the aspect of the first image (else the first video, else 16:9) snapped
  to the nearest listed ratio, which the task then reports.
- Media limits apply to every input the sandbox can read when the task is created (base64 data
  URIs and files it served itself) and are 422s naming the rule; MB means MiB. Audio must be a
  wav or mp3 both by its data-URI MIME type and by its content. A URL the sandbox cannot fetch
  (any other http(s) URL) gives a task that is created and then ``failed`` with
  ``invalid_input``: the provider, not the gateway, fetches URLs.
- A ``draft_task`` item (``{"type": "draft_task", "draft_task": {"id"}}``) names an earlier
  succeeded task of the same key, whose video is then a reference; ``draft_task_id`` reports it.
- Lifecycle: ``queued`` -> ``running`` -> ``succeeded``; ``failed`` with ``error`` (the
  ``fail_next_jobs`` fault, ``invalid_input``, or ``internal_error`` if rendering broke);
  ``expired`` (error code ``expired``) once ``execution_expires_after`` virtual seconds pass
  before the task is done. Nothing cancels a task (no endpoint is documented), so
  ``cancelled`` is only a valid list filter. ``updated_at`` is the last status change.
- Task objects always carry every documented key (``null`` when not known): ``content`` only
  once succeeded (``last_frame_url`` ``null`` unless asked), ``usage`` only once succeeded.
  ``usage.completion_tokens == total_tokens == width * height * frames // 1024`` at the
  nominal BytePlus output size (``NOMINAL_SIZES``): the published Seedance formula.
- Outputs are previews: H.264 at ``video_size(ratio)`` (640 on the long side) whatever the
  resolution, the text prompt drawn on the frames; images (first_frame first, last_frame last)
  and one frame from the middle of each reference video are the picture. Audio: the audio
  items concatenated; else, with ``generate_audio``, a synthesised score; else no audio stream.
  ``last_frame_url`` is a PNG. ``camera_fixed``, ``watermark``, ``draft``, ``service_tier``
  and ``priority`` are validated and echoed, and change nothing in the picture. Identical
  requests with the same seed (``render_key``) get the same bytes, rendered once.
- Callbacks: one unsigned POST of the task object to ``callback_url`` when it becomes
  succeeded, failed or expired; 10 s timeout, never retried.
- No request rate or concurrency limit is enforced (429 ``rate_limit_exceeded`` comes only from
  the sandbox's rate-limit faults), so ``faults.plan_limits`` changes nothing here.
- List: served from the gateway's database only, as documented ("does not refresh task status
  from the upstream provider"). Each task's stored row is written when it is created
  (``queued``), again by every ``GET`` of it (the live sync), and when it becomes succeeded,
  failed or expired (the upstream's completion notification, which the gateway receives
  whether or not a ``callback_url`` was given). So a task that started running but was never
  read is listed ``queued`` until it ends, and an ended task is listed as ended at once. The
  filters apply to the stored rows: ``status`` and ``model`` repeatable (an unknown status is
  422, an unknown model simply matches nothing); ``created_after`` inclusive,
  ``created_before`` exclusive, ISO-8601 with an offset or naive UTC.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import shutil
import string
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .kit.routing import Handler, endpoint
from .services.clock import FAIL_POINT, Lifecycle, Snapshot, Stage, Timing
from .services.inputs import Unreachable, data_uri_mime, data_uri_size, fetch, is_data_uri
from .services.webhooks import Delivery

if TYPE_CHECKING:
    from .kit.env import Env

NAME = "meshapi"
WEBHOOK_SECRET = ""
"""Mesh API callbacks are unsigned; the server asks every provider for a secret."""

log = logging.getLogger("nbmedia.sandbox.meshapi")

# ------------------------------------------------------------------------------- keys

KEY = re.compile(r"^rsk_[A-Za-z0-9_-]{1,200}$")
NO_SPEND_MARKER = "_nospend_"
"""A key containing this has hit its spend limit: creating a task is 402."""
FORBIDDEN_MARKER = "_forbidden_"
"""A key containing this may not use the video API at all: every request is 403."""

# ------------------------------------------------------------------------------ errors

STATUS_CODES = {
    401: "unauthorized",
    402: "spend_limit_exceeded",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "upstream_error",
    503: "upstream_error",
    504: "gateway_timeout",
}
"""The error ``code`` for each HTTP status; ``model_not_found`` (404) is the one other code."""
MODEL_NOT_FOUND = "model_not_found"


def _request_id() -> str:
    return "req_" + secrets.token_hex(12)


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> Response:
    """The Mesh error envelope, with ``Retry-After`` mirrored in ``retry_after_seconds``."""
    request_id = _request_id()
    default = "internal_error" if status >= 500 else "http_error"
    body = {
        "error": {
            "code": code or STATUS_CODES.get(status, default),
            "message": message,
            "details": details or [],
            "provider_error": {},
            "retry_after_seconds": retry_after,
        },
        "request_id": request_id,
    }
    out_headers = {**(headers or {}), "x-request-id": request_id}
    if retry_after is not None:
        out_headers["Retry-After"] = str(retry_after)
    if status == 401:
        out_headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, headers=out_headers)


def _ok(body: Any) -> Response:
    return JSONResponse(body, headers={"x-request-id": _request_id()})


class ApiError(Exception):
    """An error answer; its code is the status's own unless given."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.details = status, message, code, details

    def response(self) -> Response:
        return error(self.status, self.message, code=self.code, details=self.details)


class Problems:
    """Field problems gathered so that one 422 names all of them, FastAPI style."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> None:
        self.items.append({"loc": list(loc), "msg": msg, "type": kind})

    def raise_if_any(self) -> None:
        if self.items:
            msgs = [p["msg"] for p in self.items]
            head = msgs[0] if len(msgs) == 1 else f"{len(msgs)} problems: " + "; ".join(msgs)
            raise ApiError(422, head, details=self.items)


# ------------------------------------------------------------------------------ models


@dataclass(frozen=True)
class Model:
    inputs: frozenset[str]
    """Content item types the model takes."""
    durations: tuple[int, int]
    """Whole seconds, inclusive."""


SEEDANCE_2_INPUTS = frozenset({"text", "image_url", "video_url", "audio_url", "draft_task"})
SEEDANCE_1_INPUTS = frozenset({"text", "image_url", "draft_task"})
MODELS = {
    "byteplus/dreamina-seedance-2-0": Model(SEEDANCE_2_INPUTS, (4, 15)),
    "byteplus/dreamina-seedance-2-0-fast": Model(SEEDANCE_2_INPUTS, (4, 15)),
    "byteplus/seedance-1-5-pro": Model(SEEDANCE_1_INPUTS, (4, 12)),
    "byteplus/seedance-1-0-pro": Model(SEEDANCE_1_INPUTS, (2, 12)),
}
"""Mesh model ids the sandbox serves (our reading: the docs name only the first)."""

# --------------------------------------------------------------------- request fields

ITEM_TYPES = ("text", "image_url", "video_url", "audio_url", "draft_task")
MEDIA_FAMILY = {"image_url": "image", "video_url": "video", "audio_url": "audio"}
"""The MIME family a data URI of each media item type must declare."""
RESOLUTIONS = ("480p", "720p", "1080p")
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
FPS = 24
FRAMES = (29, 289)
FRAMES_BASE, FRAMES_STEP = 25, 4
"""``frames`` must be 25 + 4n (BytePlus's rule)."""
SEED = (-1, 2**32 - 1)
PRIORITY = (0, 9)
EXPIRES_AFTER = (1, 259_200)
DEFAULTS: dict[str, Any] = {
    "callback_url": None,
    "resolution": "720p",
    "ratio": "16:9",
    "duration": 5,
    "frames": None,
    "generate_audio": False,
    "return_last_frame": False,
    "seed": -1,
    "camera_fixed": False,
    "watermark": False,
    "draft": False,
    "service_tier": "default",
    "execution_expires_after": 172_800,
    "priority": 0,
    "safety_identifier": None,
}
"""Every optional field and its default; ``model`` and ``content`` are required."""
FIELDS = ("model", "content", *DEFAULTS)

# ------------------------------------------------------------------------ media limits

MiB = 1024 * 1024
MAX_BODY_BYTES = 64 * MiB
MAX_VIDEO_BYTES = 50 * MiB
MAX_AUDIO_BYTES = 15 * MiB
AUDIO_MIME = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mpeg3": "mp3",
    "audio/x-mp3": "mp3",
}
AUDIO_CLIP_SECONDS = (2.0, 15.0)
MAX_AUDIO_CLIPS = 3
MAX_AUDIO_TOTAL_SECONDS = 15.0
AUDIO_SECONDS_SLACK = 0.05
"""Tolerance on measured audio durations (container rounding), seconds."""

# ----------------------------------------------------------------------- lifecycle

STATUS = {
    Stage.WAITING: "queued",
    Stage.RUNNING: "running",
    Stage.SUCCEEDED: "succeeded",
    Stage.FAILED: "failed",
}
EXPIRED = "expired"
"""Status (and ``error.code``) of a task not done within ``execution_expires_after``."""
STATUSES = ("queued", "running", "succeeded", "failed", EXPIRED, "cancelled")
CALLBACK_STATUSES = ("succeeded", "failed", EXPIRED)
ROW_RANK = {Stage.WAITING: 0, Stage.RUNNING: 1, Stage.SUCCEEDED: 2, Stage.FAILED: 2}
"""Order of stored list rows: a terminal row is final."""
CALLBACK_TIMEOUT = 10.0
UNREACHABLE_CODE = "invalid_input"


def timing(seconds: float) -> Timing:
    """Virtual seconds a task waits, then runs (divided by the sandbox ``speed``)."""
    return Timing(wait=1.0, run=4.0 + seconds / 2)


# --------------------------------------------------------------------- outputs, usage

PREVIEW_MAX_WIDTH = 640
NOMINAL_SIZES = {
    "480p": {
        "16:9": (864, 480),
        "4:3": (736, 544),
        "1:1": (640, 640),
        "3:4": (544, 736),
        "9:16": (480, 864),
        "21:9": (960, 416),
    },
    "720p": {
        "16:9": (1248, 704),
        "4:3": (1120, 832),
        "1:1": (960, 960),
        "3:4": (832, 1120),
        "9:16": (704, 1248),
        "21:9": (1504, 640),
    },
    "1080p": {
        "16:9": (1920, 1088),
        "4:3": (1664, 1248),
        "1:1": (1440, 1440),
        "3:4": (1248, 1664),
        "9:16": (1088, 1920),
        "21:9": (2176, 928),
    },
}
"""BytePlus Seedance output sizes, used only to count usage tokens."""


def usage_tokens(resolution: str, ratio: str, frames: int) -> int:
    """Seedance's published formula: width x height x fps x seconds / 1024."""
    width, height = NOMINAL_SIZES[resolution][ratio]
    return width * height * frames // 1024


LIST_LIMIT = (1, 200)
LIST_DEFAULT_LIMIT = 50

# ------------------------------------------------------------------ field validation


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_option(name: str, value: Any, model: Model) -> str | None:
    """Why ``value`` is not valid for option ``name`` (None when it is)."""
    if name in ("generate_audio", "return_last_frame", "camera_fixed", "watermark", "draft"):
        return None if isinstance(value, bool) else f"{name} must be a boolean"
    if name in ("service_tier", "safety_identifier"):
        return None if isinstance(value, str) and value else f"{name} must be a non-empty string"
    if name == "callback_url":
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            return "callback_url must be an absolute http(s) URL"
        return None
    if name == "resolution":
        return (
            None if value in RESOLUTIONS else f"resolution must be one of {', '.join(RESOLUTIONS)}"
        )
    if name == "ratio":
        return None if value in RATIOS else f"ratio must be one of {', '.join(RATIOS)}"
    if name == "duration":
        lo, hi = model.durations
        ok = _is_int(value) and lo <= value <= hi
        return None if ok else f"duration must be an integer from {lo} to {hi} s for this model"
    if name == "frames":
        lo, hi = FRAMES
        ok = _is_int(value) and lo <= value <= hi and (value - FRAMES_BASE) % FRAMES_STEP == 0
        return None if ok else f"frames must be an integer from {lo} to {hi} of the form 25 + 4n"
    bounds = {"seed": SEED, "priority": PRIORITY, "execution_expires_after": EXPIRES_AFTER}
    lo, hi = bounds[name]
    return (
        None
        if _is_int(value) and lo <= value <= hi
        else f"{name} must be an integer from {lo} to {hi}"
    )


def parse_options(body: dict[str, Any], model: Model, problems: Problems) -> dict[str, Any]:
    """The options with defaults filled in; each bad one is a problem naming field and rule."""
    for name in body:
        if name not in FIELDS:
            problems.add(
                ("body", name), f"{name} is not a field of this request", "extra_forbidden"
            )
    opts: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        value = body.get(name)
        if value is None:
            opts[name] = default
            continue
        why = _check_option(name, value, model)
        if why:
            problems.add(("body", name), f"{why} (got {_shown(value)})")
        opts[name] = default if why else value
    if body.get("duration") is not None and body.get("frames") is not None:
        problems.add(("body", "frames"), "give duration or frames, not both")
    return opts


@dataclass
class Item:
    """One content item; media items gain a local ``path`` once fetched."""

    index: int
    type: str
    role: str | None = None
    text: str | None = None
    url: str | None = None
    task_id: str | None = None
    path: Path | None = None
    seconds: float = 0.0
    """Audio duration."""
    aspect: float | None = None
    """Width / height of an image or video."""

    @property
    def loc(self) -> tuple[str | int, ...]:
        payload = "id" if self.type == "draft_task" else "url"
        return ("body", "content", self.index, self.type, payload)

    @property
    def where(self) -> str:
        return f"content[{self.index}].{self.type}"


def _parse_item(index: int, entry: Any, model_id: str, problems: Problems) -> Item | None:
    loc: tuple[str | int, ...] = ("body", "content", index)
    if not isinstance(entry, dict):
        problems.add(loc, f"content[{index}] must be an object with a type")
        return None
    kind = entry.get("type")
    if kind not in ITEM_TYPES:
        allowed = ", ".join(ITEM_TYPES)
        problems.add(
            (*loc, "type"), f"content[{index}].type must be one of {allowed} (got {_shown(kind)})"
        )
        return None
    for key in entry:
        if key not in ("type", kind, "role"):
            problems.add(
                (*loc, key),
                f"content[{index}].{key} is not a field of a {kind} item",
                "extra_forbidden",
            )
    role = entry.get("role")
    if role is not None and not (isinstance(role, str) and role):
        problems.add((*loc, "role"), f"content[{index}].role must be a non-empty string")
    item = Item(index, kind, role=role if isinstance(role, str) else None)
    payload = entry.get(kind)
    if kind == "text":
        if not (isinstance(payload, str) and payload.strip()):
            problems.add((*loc, "text"), f"content[{index}].text must be a non-empty string")
        item.text = payload if isinstance(payload, str) else None
    else:
        key = "id" if kind == "draft_task" else "url"
        value = payload.get(key) if isinstance(payload, dict) else None
        if not (isinstance(value, str) and value):
            problems.add((*loc, kind), f'content[{index}].{kind} must be {{"{key}": "<string>"}}')
        elif kind == "draft_task":
            item.task_id = value
        else:
            item.url = value
    if kind not in MODELS[model_id].inputs:
        problems.add(
            (*loc, "type"),
            f"{kind} items are for Seedance 2.0 models only: {model_id} takes "
            + ", ".join(t for t in ITEM_TYPES if t in MODELS[model_id].inputs),
        )
    return item


def parse_content(raw: Any, model_id: str, problems: Problems) -> list[Item]:
    """The content items, and the rules that look at them together."""
    if not isinstance(raw, list) or not raw:
        problems.add(("body", "content"), "content must be a non-empty array of content items")
        return []
    items = [i for n, e in enumerate(raw) if (i := _parse_item(n, e, model_id, problems))]
    kinds = [i.type for i in items]
    audio = kinds.count("audio_url")
    if audio > MAX_AUDIO_CLIPS:
        problems.add(
            ("body", "content"), f"at most {MAX_AUDIO_CLIPS} audio clips are allowed (got {audio})"
        )
    if audio and not {"image_url", "video_url", "draft_task"} & set(kinds):
        problems.add(
            ("body", "content"),
            "audio cannot be the only input: add at least one image_url or video_url item",
        )
    return items


# --------------------------------------------------------------------- media checks


def _seconds(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") + " s"


def _check_size(item: Item, size: int) -> str | None:
    limits = {"video_url": MAX_VIDEO_BYTES, "audio_url": MAX_AUDIO_BYTES}
    limit = limits.get(item.type)
    if limit is not None and size > limit:
        kind = item.type.removesuffix("_url")
        return f"each {kind} must be at most {limit / MiB:g} MB (got {size / MiB:.1f} MB)"
    return None


def _check_image(item: Item) -> str | None:
    from PIL import Image

    assert item.path is not None
    try:
        with Image.open(item.path) as img:
            width, height = img.size
            img.verify()
    except Exception:
        return "is not an image that can be read"
    item.aspect = width / height
    return None


def _check_video(item: Item) -> str | None:
    from .services.media.probe import probe

    assert item.path is not None
    try:
        info = probe(item.path)
    except ValueError:
        info = {"video": None}
    video = info["video"]
    if video is None or not video["width"] or not video["height"]:
        return "is not a video that can be read"
    item.aspect = video["width"] / video["height"]
    return None


def _audio_format(codec: str) -> str | None:
    if codec.startswith("pcm_"):
        return "wav"
    return "mp3" if codec.startswith("mp3") else None


def _check_audio(item: Item) -> str | None:
    from .services.media.probe import probe

    assert item.path is not None
    try:
        info = probe(item.path)
    except ValueError:
        info = {"audio": None}
    audio = info["audio"]
    if audio is None:
        return "audio must be wav or mp3: this is not an audio file that can be read"
    if _audio_format(audio["codec"]) is None:
        return f"audio must be wav or mp3 (this clip is {audio['codec']})"
    item.seconds = float(info["duration"])
    lo, hi = AUDIO_CLIP_SECONDS
    if not lo - AUDIO_SECONDS_SLACK <= item.seconds <= hi + AUDIO_SECONDS_SLACK:
        return f"each audio clip must last {lo:g} to {hi:g} s (got {_seconds(item.seconds)})"
    return None


CONTENT_CHECKS: dict[str, Callable[[Item], str | None]] = {
    "image_url": _check_image,
    "video_url": _check_video,
    "audio_url": _check_audio,
}


def _check_data_uri(item: Item) -> str | None:
    """What is wrong with a data URI before decoding it (its declared type, its size)."""
    assert item.url is not None
    head = item.url.split(",", 1)[0]
    mime = data_uri_mime(item.url)
    if mime is None or ";base64" not in head:
        return "a data URI must be base64 with its MIME type prefix, e.g. data:image/png;base64,..."
    family = MEDIA_FAMILY[item.type]
    if mime.split("/", 1)[0] != family:
        return f"a {item.type} data URI must declare an {family}/* MIME type (got {mime})"
    if item.type == "audio_url" and mime.lower() not in AUDIO_MIME:
        return f"audio must be wav or mp3 (got {mime})"
    return _check_size(item, data_uri_size(item.url))


# ------------------------------------------------------------------------------ tasks


@dataclass
class Task:
    id: str
    key: str
    model: str
    opts: dict[str, Any]
    items: list[Item]
    ratio: str
    frames: int
    seed: int
    created: float
    seq: int
    scratch: Path
    draft_task_id: str | None = None
    lifecycle: Lifecycle = field(init=False)
    changed: dict[Stage, float] = field(default_factory=dict)
    video_name: str | None = None
    last_frame_name: str | None = None
    row: dict[str, Any] = field(default_factory=dict)
    """The task object as the gateway's database last stored it (what the list serves)."""
    row_rank: int = -1
    """How far along the stored row is (``ROW_RANK``): a late writer never moves it back."""

    @property
    def seconds(self) -> float:
        return self.frames / FPS

    @property
    def prompt(self) -> str:
        return " ".join(i.text.strip() for i in self.items if i.type == "text" and i.text)


def _task_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    alphabet = string.ascii_lowercase + string.digits
    return f"cgt-{stamp}-" + "".join(secrets.choice(alphabet) for _ in range(5))


def _nearest_ratio(aspect: float) -> str:
    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(math.log(aspect) - math.log(w / h))

    return min((r for r in RATIOS if r != "adaptive"), key=distance)


def _resolve_ratio(ratio: str, items: list[Item]) -> str:
    """``adaptive``: the first image's aspect, else the first video's, else 16:9."""
    if ratio != "adaptive":
        return ratio
    for kinds in (("image_url",), ("video_url", "draft_task")):
        aspect = next((i.aspect for i in items if i.type in kinds and i.aspect), None)
        if aspect:
            return _nearest_ratio(aspect)
    return "16:9"


def _frames(opts: dict[str, Any]) -> int:
    return opts["frames"] if opts["frames"] is not None else opts["duration"] * FPS


def _parse_time(name: str, raw: str, problems: Problems) -> float | None:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        problems.add(("query", name), f"{name} must be an ISO-8601 timestamp (got {_shown(raw)})")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _query_int(
    request: Request, name: str, lo: int, hi: int | None, default: int, problems: Problems
) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if re.fullmatch(r"-?\d+", raw.strip()) and int(raw) >= lo and (hi is None or int(raw) <= hi):
        return int(raw)
    rule = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"
    problems.add(("query", name), f"{name} must be an integer {rule} (got {_shown(raw)})")
    return default


class MeshApi:
    """The state behind the routes of one sandbox: tasks by id, in creation order."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._rows_lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._seq = 0
        self._sandbox_url = env.base_url.rsplit("/", 1)[0]
        self._inputs = env.files.folder / ".inputs"

    # --------------------------------------------------------------------- request gate

    def authorize(self, request: Request, *, creating: bool = False) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not header:
            raise ApiError(
                401, "Missing Authorization header: send 'Authorization: Bearer rsk_...'."
            )
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Malformed Authorization header: expected 'Bearer rsk_...'.")
        if not KEY.match(token):
            raise ApiError(401, "Invalid API key: Mesh API keys look like rsk_...")
        if FORBIDDEN_MARKER in token:
            raise ApiError(403, "This API key may not use video generation.")
        if creating and NO_SPEND_MARKER in token:
            raise ApiError(402, "The spend limit of this API key has been reached.")
        return token

    # ------------------------------------------------------------------------ creating

    def validate(self, body: dict[str, Any]) -> tuple[str, dict[str, Any], list[Item]]:
        """Model, options and content items of a request, or the 404/422 that refuses it."""
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            problems = Problems()
            problems.add(("body", "model"), "model is required (a Mesh model id string)", "missing")
            problems.raise_if_any()
        if model_id not in MODELS:
            known = ", ".join(MODELS)
            raise ApiError(
                404,
                f"Model {_shown(model_id)} not found; video models: {known}.",
                code=MODEL_NOT_FOUND,
            )
        problems = Problems()
        opts = parse_options(body, MODELS[model_id], problems)
        items = parse_content(body.get("content"), model_id, problems)
        problems.raise_if_any()
        return model_id, opts, items

    def fetch_media(self, key: str, items: list[Item], scratch: Path) -> list[str]:
        """Fetch and check every media input (blocking); returns why inputs are unreachable."""
        problems = Problems()
        unreachable: list[str] = []
        for item in items:
            if item.type == "draft_task":
                self._use_draft(key, item, problems)
            elif item.url is not None:
                why = self._fetch(item, scratch, unreachable)
                if why:
                    problems.add(item.loc, f"{item.where}: {why}")
        audio = [i for i in items if i.type == "audio_url" and i.seconds]
        total = sum(i.seconds for i in audio)
        if total > MAX_AUDIO_TOTAL_SECONDS + AUDIO_SECONDS_SLACK:
            problems.add(
                ("body", "content"),
                f"audio clips must last at most {MAX_AUDIO_TOTAL_SECONDS:g} s in total "
                f"(got {_seconds(total)} over {len(audio)} clips)",
            )
        problems.raise_if_any()
        return unreachable

    def _fetch(self, item: Item, scratch: Path, unreachable: list[str]) -> str | None:
        assert item.url is not None
        if is_data_uri(item.url):
            why = _check_data_uri(item)
            if why:
                return why
        elif not item.url.startswith(("http://", "https://")):
            return "url must be an http(s) URL or a base64 data URI"
        try:
            item.path = fetch(
                item.url,
                sandbox_url=self._sandbox_url,
                store_root=self.env.files.folder.parent,
                scratch=scratch,
            )
        except Unreachable as exc:
            if is_data_uri(item.url):
                return exc.reason
            unreachable.append(f"{item.where}.url could not be fetched: {exc.reason}")
            return None
        return _check_size(item, item.path.stat().st_size) or CONTENT_CHECKS[item.type](item)

    def _use_draft(self, key: str, item: Item, problems: Problems) -> None:
        with self._lock:
            draft = self._tasks.get(item.task_id or "")
        if draft is None or draft.key != key:
            problems.add(item.loc, f"{item.where}.id: no task {_shown(item.task_id)} for this key")
            return
        if draft.lifecycle.snapshot().stage is not Stage.SUCCEEDED or not draft.video_name:
            raise ApiError(409, f"Draft task {draft.id} has not succeeded: it cannot be used yet.")
        item.path = self.env.files.path(draft.video_name)
        item.aspect = _aspect(draft.ratio)

    def create(
        self,
        key: str,
        model_id: str,
        opts: dict[str, Any],
        items: list[Item],
        scratch: Path,
        unreachable: list[str],
    ) -> Task:
        seed = opts["seed"] if opts["seed"] >= 0 else secrets.randbelow(SEED[1] + 1)
        with self._lock:
            self._seq += 1
            seq = self._seq
        task = Task(
            id=_task_id(),
            key=key,
            model=model_id,
            opts=opts,
            items=items,
            ratio=_resolve_ratio(opts["ratio"], items),
            frames=_frames(opts),
            seed=seed,
            created=time.time(),
            seq=seq,
            scratch=scratch,
            draft_task_id=next((i.task_id for i in items if i.type == "draft_task"), None),
        )
        task.changed[Stage.WAITING] = task.created
        self._start(task, unreachable)
        self._store(task, task.lifecycle.snapshot())
        with self._lock:
            self._tasks[task.id] = task
        text = " ".join(i.text for i in items if i.type == "text" and i.text)
        self.env.audit.created(NAME, task.id, key, "video", label=text or None)
        self.env.clock.track(task.lifecycle)  # stamps each stage on time, fires the callback
        return task

    def _start(self, task: Task, unreachable: list[str]) -> None:
        """Schedule the task's end: a failure, an expiry, or a render."""
        plan = timing(task.seconds)
        expires = float(task.opts["execution_expires_after"])
        failure = self.env.faults.take_job_failure()
        expiring = not unreachable and failure is None and expires < plan.total
        if expiring:  # the scheduled failure lands exactly when the task expires
            wait = min(plan.wait, expires / 2)
            plan = Timing(wait=wait, run=(expires - wait) / FAIL_POINT)
        task.lifecycle = Lifecycle(
            self.env.clock, plan, on_change=lambda s, snap: self._changed(task, s, snap)
        )
        if unreachable:
            task.lifecycle.fail(UNREACHABLE_CODE, "; ".join(unreachable))
        elif failure is not None:
            task.lifecycle.fail(*failure, scheduled=True)
        elif expiring:
            message = f"The task did not finish within execution_expires_after ({int(expires)} s)."
            task.lifecycle.fail(EXPIRED, message, scheduled=True)
        else:
            self.env.render.submit(self._render, task)
            return
        shutil.rmtree(task.scratch, ignore_errors=True)

    def _render(self, task: Task) -> None:
        """Make the real output (in the render pool); the task succeeds only after this."""
        try:
            _render_task(task, self.env)
        except Exception as exc:
            log.exception("rendering %s failed", task.id)
            task.lifecycle.fail("internal_error", f"Rendering failed: {exc}")
            return
        finally:
            shutil.rmtree(task.scratch, ignore_errors=True)
        task.lifecycle.output_ready()

    def _changed(self, task: Task, stage: Stage, snap: Snapshot) -> None:
        """Called once per stage reached: stamp it; a terminal one is stored (the upstream's
        completion notification) and goes to the callback."""
        task.changed[stage] = time.time()
        if not stage.terminal:
            return
        row = self._store(task, snap)
        url = task.opts["callback_url"]
        if url and _status(snap) in CALLBACK_STATUSES:
            body = json.dumps(row).encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "MeshAPI-Callback (nbmedia sandbox)",
            }
            delivery = Delivery(
                NAME,
                url,
                _status(snap),
                body,
                headers,
                timeout=CALLBACK_TIMEOUT,
                retries=False,
                key=task.id,
            )
            self.env.webhooks.send(delivery)

    def _store(self, task: Task, snap: Snapshot) -> dict[str, Any]:
        """Write the task's row as of `snap` to the "database"; the stored row comes back."""
        row = self.task_json(task, snap)
        rank = ROW_RANK[snap.stage]
        with self._rows_lock:
            if rank > task.row_rank or (rank == task.row_rank and rank < 2):
                task.row, task.row_rank = row, rank
            return task.row

    def stored_row(self, task: Task) -> dict[str, Any]:
        """The row the list serves: stored, except that an end the clock has reached is
        recorded first (the completion notification is never late)."""
        if task.row_rank < 2:
            task.lifecycle.snapshot()  # stores the row if the task has just ended
        with self._rows_lock:
            return task.row

    # ------------------------------------------------------------------------- reading

    def sync(self, task: Task) -> dict[str, Any]:
        """``GET`` of one task: its live state, which is also stored for the list."""
        return self._store(task, task.lifecycle.snapshot())

    def get(self, key: str, task_id: str) -> Task:
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or task.key != key:
            raise ApiError(404, f"Video generation task {_shown(task_id)} not found.")
        return task

    def audit_lookup(self, task_id: str, ref: Any = None) -> dict[str, Any] | None:
        """The sandbox audit's view of a task: its status now, the files it points at."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None:
            return None
        snap = task.lifecycle.snapshot()
        names = [task.video_name, task.last_frame_name] if snap.stage is Stage.SUCCEEDED else []
        return {
            "status": _status(snap),
            "outputs": [n for n in names if n],
            "ended_at": snap.ended_at,
        }

    def task_json(self, task: Task, snap: Snapshot | None = None) -> dict[str, Any]:
        """The task object, identical for GET, list rows and callbacks."""
        snap = snap or task.lifecycle.snapshot()
        status = _status(snap)
        succeeded = snap.stage is Stage.SUCCEEDED
        updated = max(task.changed.values())
        files = self.env.files
        content = None
        if succeeded and task.video_name:
            last = files.url(task.last_frame_name) if task.last_frame_name else None
            content = {"video_url": files.url(task.video_name), "last_frame_url": last}
        tokens = usage_tokens(task.opts["resolution"], task.ratio, task.frames)
        return {
            "id": task.id,
            "model": task.model,
            "status": status,
            "error": {"code": snap.error[0], "message": snap.error[1]}
            if snap.error and not succeeded
            else None,
            "created_at": int(task.created),
            "updated_at": int(updated),
            "content": content,
            "seed": task.seed,
            "resolution": task.opts["resolution"],
            "ratio": task.ratio,
            "duration": round(task.seconds),
            "frames": task.frames,
            "framespersecond": FPS,
            "generate_audio": task.opts["generate_audio"],
            "safety_identifier": task.opts["safety_identifier"],
            "priority": task.opts["priority"],
            "draft": task.opts["draft"],
            "draft_task_id": task.draft_task_id,
            "service_tier": task.opts["service_tier"],
            "execution_expires_after": task.opts["execution_expires_after"],
            "usage": {"completion_tokens": tokens, "total_tokens": tokens} if succeeded else None,
        }

    def list_tasks(self, key: str, request: Request) -> dict[str, Any]:
        problems = Problems()
        q = request.query_params
        statuses = q.getlist("status")
        for value in statuses:
            if value not in STATUSES:
                problems.add(
                    ("query", "status"),
                    f"status must be one of {', '.join(STATUSES)} (got {_shown(value)})",
                )
        models = q.getlist("model")
        after = (
            _parse_time("created_after", q["created_after"], problems)
            if "created_after" in q
            else None
        )
        before = (
            _parse_time("created_before", q["created_before"], problems)
            if "created_before" in q
            else None
        )
        limit = _query_int(request, "limit", *LIST_LIMIT, LIST_DEFAULT_LIMIT, problems)
        offset = _query_int(request, "offset", 0, None, 0, problems)
        problems.raise_if_any()
        with self._lock:
            owned = [t for t in self._tasks.values() if t.key == key]
        rows = []
        for task in sorted(owned, key=lambda t: t.seq, reverse=True):
            if models and task.model not in models:
                continue
            if (after is not None and task.created < after) or (
                before is not None and task.created >= before
            ):
                continue
            row = self.stored_row(task)
            if not statuses or row["status"] in statuses:
                rows.append(row)
        page = rows[offset : offset + limit]
        return {
            "object": "list",
            "data": page,
            "has_more": offset + limit < len(rows),
            "total": len(rows),
            "limit": limit,
            "offset": offset,
        }

    def new_scratch(self) -> Path:
        """A folder for one request's decoded inputs (never served: its name starts with a dot)."""
        self._inputs.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="task-", dir=self._inputs))


def _status(snap: Snapshot) -> str:
    if snap.stage is Stage.FAILED and snap.error and snap.error[0] == EXPIRED:
        return EXPIRED
    return STATUS[snap.stage]


def _aspect(ratio: str) -> float:
    w, h = (int(x) for x in ratio.split(":"))
    return w / h


# ---------------------------------------------------------------------------- rendering


def render_key(task: Task) -> dict[str, Any]:
    """Everything that decides a task's output bytes, for the render cache: the model, every
    option but ``callback_url``, the resolved ratio, frames and seed, each content item with
    its file's digest, and the task id where it seeds the score (no prompt to seed it)."""
    from .services.rendercache import file_digest

    items = [
        {
            "type": i.type,
            "role": i.role,
            "text": i.text,
            "file": file_digest(i.path) if i.path else None,
        }
        for i in task.items
    ]
    clips = any(i.type == "audio_url" for i in task.items)
    own_score = task.opts["generate_audio"] and not clips and not task.prompt
    return {
        "provider": NAME,
        "model": task.model,
        "opts": {k: v for k, v in task.opts.items() if k != "callback_url"},
        "ratio": task.ratio,
        "frames": task.frames,
        "seed": task.seed,
        "items": items,
        "score_seed": task.id if own_score else None,
        "preview": PREVIEW_MAX_WIDTH,
    }


def _render_task(task: Task, env: Env) -> None:
    """The MP4 (and the last frame as PNG when asked) of one task, from its inputs; an
    identical earlier task's files when there is one (``render_key``)."""
    from .services.media.video import render_video, video_size

    width, height = video_size(task.ratio, max_width=PREVIEW_MAX_WIDTH)
    name = f"{task.id}.mp4"
    last = f"{task.id}-last-frame.png" if task.opts["return_last_frame"] else None

    def make() -> None:
        with tempfile.TemporaryDirectory(prefix="nbmedia-mesh-") as tmp:
            work = Path(tmp)
            render_video(
                env.files.path(name),
                text=task.prompt,
                duration=task.seconds,
                fps=FPS,
                width=width,
                height=height,
                images=_pictures(task, work),
                audio=_soundtrack(task, work),
                seed=task.seed,
            )
        if last is not None:
            _last_frame(env.files.path(name), env.files.path(last), task.seconds)

    outputs = {"video": env.files.path(name)}
    if last is not None:
        outputs["last_frame"] = env.files.path(last)
    env.rendercache.render(render_key(task), outputs, make)
    task.last_frame_name = last
    task.video_name = name


def _pictures(task: Task, work: Path) -> list[Path]:
    """Images in order (first_frame first, last_frame last), then a frame of each video."""
    from PIL import Image

    from .services.media.probe import frame_at, probe

    order = {"first_frame": 0, "last_frame": 2}
    images = [i for i in task.items if i.type == "image_url" and i.path]
    images.sort(key=lambda i: order.get(i.role or "", 1))
    out = [i.path for i in images if i.path]
    for n, item in enumerate(i for i in task.items if i.type in ("video_url", "draft_task")):
        if item.path is None:
            continue
        still = work / f"video-frame-{n}.png"
        middle = probe(item.path)["duration"] / 2
        Image.fromarray(frame_at(item.path, middle)).save(still)
        out.append(still)
    return out


def _soundtrack(task: Task, work: Path) -> Path | None:
    """The audio clips joined; else a composed score when ``generate_audio``; else none."""
    import numpy as np

    from .services.media.audio import write_audio
    from .services.media.music import compose
    from .services.media.probe import decode_audio

    clips = [i.path for i in task.items if i.type == "audio_url" and i.path]
    if clips:
        rate = 44_100
        samples = np.concatenate([decode_audio(p, rate)[0] for p in clips])
        return write_audio(work / "clips.wav", samples, rate, "wav")
    if task.opts["generate_audio"]:
        samples, rate, _bpm = compose(duration=task.seconds, seed=task.prompt or task.id)
        return write_audio(work / "score.wav", samples, rate, "wav")
    return None


def _last_frame(video: Path, out: Path, seconds: float) -> None:
    from PIL import Image

    from .services.media._ffmpeg import atomic
    from .services.media.probe import frame_at

    with atomic(out) as part:
        Image.fromarray(frame_at(video, max(0.0, seconds - 1.5 / FPS))).save(part, format="PNG")


# ------------------------------------------------------------------------------- routes


def _endpoint(handler: Handler) -> Handler:
    """Run ``handler``; an ``ApiError`` becomes this provider's error body."""
    return endpoint(handler, ApiError)


async def _read_body(request: Request) -> bytes:
    """The whole body, or 413 past ``MAX_BODY_BYTES`` (read to the end either way)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
    if size > MAX_BODY_BYTES:
        raise ApiError(
            413,
            f"The request body must be at most {MAX_BODY_BYTES // MiB} MB (got {size / MiB:.1f} MB): pass large media as public URLs, not base64.",
        )
    return b"".join(chunks)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        pos = getattr(exc, "pos", 0)
        problems = Problems()
        problems.add(("body", pos), f"JSON decode error: {exc}", "json_invalid")
        problems.raise_if_any()
    if not isinstance(body, dict):
        problems = Problems()
        problems.add(("body",), "The request body must be a JSON object.", "dict_type")
        problems.raise_if_any()
    return body


def build(env: Env) -> list[Route]:
    """The Mesh API video routes, relative to the provider's base URL."""
    api = MeshApi(env)
    env.audit.register(NAME, api.audit_lookup)

    async def create(request: Request) -> Response:
        raw = await _read_body(request)
        key = api.authorize(request, creating=True)
        model_id, opts, items = api.validate(_json_object(raw))
        scratch = api.new_scratch()
        try:
            unreachable = await asyncio.to_thread(api.fetch_media, key, items, scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        task = api.create(key, model_id, opts, items, scratch, unreachable)
        return _ok({"id": task.id})

    async def get_task(request: Request) -> Response:
        key = api.authorize(request)
        return _ok(api.sync(api.get(key, request.path_params["task_id"])))

    async def list_tasks(request: Request) -> Response:
        key = api.authorize(request)
        return _ok(api.list_tasks(key, request))

    return [
        Route("/v1/video/generations", _endpoint(create), methods=["POST"]),
        Route("/v1/video/generations", _endpoint(list_tasks), methods=["GET"]),
        Route("/v1/video/generations/{task_id}", _endpoint(get_task), methods=["GET"]),
    ]
