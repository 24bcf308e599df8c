"""Vimmerse media API (v2) on the sandbox, written from ``api-docs/vimmerse.txt``, section 2 of
``providers.md`` and the readings in its "Choices where the documentation is silent"; it shares
no code with the client in ``nbmedia/providers/``.

Mounted at ``/vimmerse``: ``{sandbox}/vimmerse`` replaces ``https://api.vimmerse.net``, so the
page's ``requests`` example runs unchanged against it. Enums, limits, defaults, voices, statuses
and error codes are the module-level tables below, so that a correction to our reading is one
line.

Every error, request validation included, is exactly ``{"message", "code"}`` (the v2 page: "all
error responses use exactly two fields"; FastAPI's ``{"detail": [...]}`` is v1's). A validation
error is ``422`` with code ``VALIDATION_ERROR`` (ours: the page names no code for it) and a message
naming each broken field, produced by pydantic models built from the tables (so the same lax
coercions apply, e.g. ``"3"`` → 3).

Our readings where the page is silent (ours, not Vimmerse's; the report lists them):

- a missing or empty ``X-Api-Key`` is ``401 {message, code: "UNAUTHORIZED"}``; a 429 or 5xx
  keeps ``{message, code}`` (``RATE_LIMITED``, ``INTERNAL_ERROR`` …), a 429 adds a
  ``Retry-After`` header (never a body field);
- the object adds ``progress_percentage`` (the v1 field), ``visibility_status`` and ``rating``
  (so a metadata PATCH can be read back) and, when a generation failed, ``error {message,
  code}``; ``title``, ``description``, ``pose_preset.prompt`` and ``webhook_url`` read ``""``
  when not given;
- ``null`` means "not given", in POST and PATCH alike; a blank prompt is no prompt; the
  prompt-or-media_items rule is a 422 at ``loc ["body", "prompt"]``;
- PATCH generation keys merge onto the previous request (``audio_option`` is replaced whole)
  and supersede a generation still running, which then sends no webhook; ``result`` holds the
  latest successful generation's URLs until a newer one succeeds;
- ``duration_time`` is the output length in seconds as a string (the rendered one once done);
  ``submit_params.file_size`` is the outputs' total bytes as a string once done;
- video items give a still (their first frame); ``position`` "First"/"Last" orders the visual
  items; audio items are joined into the soundtrack and replace ``audio_option`` entirely;
  ``bg_music_url`` wins over ``bg_music_prompt``; ``native_audio`` alone adds a quiet room tone;
- ``rating`` is any number; ``visibility_status`` is "0" | "1" | "2" (default "1");
- with ``quantity`` > 1 each output's caption ends "(i/n)" and has its own seed, so the videos
  differ even when made from one image; ``pipeline_mode`` is validated but changes nothing;
- the seed comes from the request (its generation fields, input files and generation number),
  so identical requests get identical videos, rendered once (``render_key``), and a
  regeneration differs from the first take;
- the webhook body is ``{customer_id, media_id, status}`` with status ``success`` | ``failed``,
  unsigned, sent when a generation ends.
"""

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .services import inputs
from .services.clock import Lifecycle, Snapshot, Stage, Timing
from .services.webhooks import Delivery

if TYPE_CHECKING:
    from .kit.env import Env

NAME = "vimmerse"
WEBHOOK_SECRET = ""
"""Vimmerse webhooks are unsigned (providers.md): there is no secret to configure."""

log = logging.getLogger("nbmedia.sandbox.vimmerse")

# ------------------------------------------------------------------------------- auth

AUTH_HEADER = "X-Api-Key"
NO_CREDIT_MARKER = "_nocredit_"
"""Any non-empty key is valid; one containing this marker has no credit left (402)."""
API_VERSION = "3"

# ------------------------------------------------------------------------------ enums

VIDEO_TOOLS = (
    "Auto", "AutoT3", "KlingAI", "KlingT4", "LumaAI", "LumaRay2", "VeoFast", "Veo", "RunwayML",
    "MinimaxHailuo", "Seedance", "SeedanceFast", "Hunyuan", "Pixverse", "PixverseT3",
    "PicoMotion", "StaticMotion", "Wan", "Sora", "SoraPro", "TryOnVideo",
)  # fmt: skip
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16")
PIPELINE_MODES = ("Advanced", "Quick")
MEDIA_ITEM_TYPES = ("image", "video", "audio")
VISIBILITY_STATUSES = ("0", "1", "2")
"""private, unlisted, public (v1 names)."""

NARRATORS: dict[str, str] = {
    "AutoV": "en-us",
    "Rachel": "en-us+f1",
    "Aria": "en-us+f2",
    "Roger": "en-us+m1",
    "Sarah": "en-us+f3",
    "Laura": "en-us+f4",
    "Charlie": "en+m2",
    "George": "en-gb-x-rp+m3",
    "Callum": "en-gb-scotland+m4",
    "River": "en-us+Annie",
    "Liam": "en-us+m6",
    "Charlotte": "en-gb-x-gbcwmd+f5",
    "Alice": "en-gb-x-rp+Alicia",
    "Matilda": "en-us+belinda",
    "Will": "en-us+m7",
    "Jessica": "en-us+steph",
    "Eric": "en-us+Michael",
    "Chris": "en-us+m8",
    "Brian": "en-us+Denis",
    "Daniel": "en+Gene",
    "Lily": "en+linda",
    "Bill": "en-us+Lee",
}
"""The 22 documented narrators and the eSpeak NG voice each speaks with: one distinct voice per
name (``voice_for`` hashes five pairs of these names onto the same variant, hence a table)."""
NARRATOR_NAMES = tuple(NARRATORS)

# ----------------------------------------------------------------- limits and defaults

LIMITS = {"quantity": (1, 4), "duration": (1, 10), "loop": (1, 6)}
DEFAULTS: dict[str, Any] = {
    "prompt": None,
    "media_items": None,
    "video_tool": "Auto",
    "quantity": 1,
    "duration": 5,
    "loop": 1,
    "aspect_ratio": "16:9",
    "pipeline_mode": "Advanced",
}
"""Generation fields and their defaults (``pipeline_mode``'s default is our reading)."""
AUDIO_DEFAULTS: dict[str, Any] = {
    "narrator": "AutoV",
    "narration": None,
    "narration_url": None,
    "bg_music_prompt": None,
    "bg_music_url": None,
    "native_audio": False,
}
META_DEFAULTS: dict[str, Any] = {
    "title": "",
    "description": "",
    "visibility_status": "1",
    "rating": None,
    "webhook_url": "",
}
"""Metadata fields (a PATCH of only these never regenerates) and their values when not given."""
GENERATION_KEYS = ("audio_option", *DEFAULTS)

# --------------------------------------------------------------------------- rendering

FPS = 24
PREVIEW_MAX_WIDTH = 640
MUSIC_GAIN = 0.3
"""Background music under a narration; without one it plays at ``MUSIC_ALONE_GAIN``."""
MUSIC_ALONE_GAIN = 0.8
AMBIENT_RMS = 0.03
"""``native_audio`` with no other audio: a quiet brown-noise room tone at this level (reading)."""

# ---------------------------------------------------------------------- job lifecycle

STATUS = {
    Stage.WAITING: "new",
    Stage.RUNNING: "new",  # v2 documents new, success, failed: rendering shows as progress
    Stage.SUCCEEDED: "success",
    Stage.FAILED: "failed",
}


def timing(params: dict[str, Any]) -> Timing:
    """Virtual seconds (divided by the sandbox ``speed``): 6.25 s for the defaults, at most 65 s."""
    seconds = params["duration"] * params["loop"] * params["quantity"]
    return Timing(wait=1.0, run=5.0 + 0.25 * seconds)


# ------------------------------------------------------------------------------ errors

ERRORS = {
    "BAD_REQUEST": 400,
    "JOB_CREATE_FAILED": 400,
    "UNAUTHORIZED": 401,
    "INSUFFICIENT_CREDIT": 402,
    "NOT_FOUND": 404,
    "MEDIA_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "VALIDATION_ERROR": 422,
    "RATE_LIMITED": 429,
    "INTERNAL_ERROR": 500,
    "BAD_GATEWAY": 502,
    "SERVICE_UNAVAILABLE": 503,
    "GATEWAY_TIMEOUT": 504,
}
"""Every ``code`` the sandbox answers with and its HTTP status (the first per status is the
default for errors that only know a status: faults, unknown routes)."""
DEFAULT_CODES = {status: code for code, status in reversed(ERRORS.items())}
MESSAGES = {
    "MEDIA_NOT_FOUND": "The requested media was not found or you do not have access.",
    "UNAUTHORIZED": f"Missing API key: send it in the {AUTH_HEADER} header.",
    "INSUFFICIENT_CREDIT": "Insufficient credit to start a generation.",
}


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error body: exactly ``{"message", "code"}``."""
    out_headers = dict(headers or {})
    if retry_after is not None:
        out_headers["Retry-After"] = str(retry_after)
    body = {"message": message, "code": code or DEFAULT_CODES.get(status, "ERROR")}
    return JSONResponse(body, status_code=status, headers=out_headers)


class ApiError(Exception):
    """An error answer; its HTTP status comes from ``ERRORS``."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code, self.message = code, message or MESSAGES.get(code, code)
        super().__init__(self.message)

    def response(self) -> Response:
        return error(ERRORS[self.code], self.message, code=self.code)


class Invalid(Exception):
    """A 422 in v2's one error shape, ``{"message", "code": "VALIDATION_ERROR"}``: the message
    names each broken field (``quantity: Input should be …; loop: …``)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    def response(self) -> Response:
        message = "; ".join(
            f"{_where(e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
            for e in self.errors
        )
        return error(422, message, code="VALIDATION_ERROR")


def _where(loc: list[Any]) -> str:
    """A field's path in a message: ``media_items.0.url``; ``body`` for the body as a whole."""
    path = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query") else list(map(str, loc))
    if loc and loc[0] == "body" and path and path[0].isdigit():
        return "body"  # where in the text the JSON broke, not a field
    return ".".join(path) or "body"


def _value_error(loc: list[Any], message: str, value: Any) -> Invalid:
    return Invalid(
        [{"type": "value_error", "loc": loc, "msg": f"Value error, {message}", "input": value}]
    )


# ------------------------------------------------------------------ request validation


def _bounded(name: str) -> Any:
    lo, hi = LIMITS[name]
    return Field(None, ge=lo, le=hi)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MediaItem(_Model):
    type: Literal[MEDIA_ITEM_TYPES]
    url: str
    position: str | None = None


class AudioOption(_Model):
    narrator: Literal[NARRATOR_NAMES] | None = None
    narration: str | None = None
    narration_url: str | None = None
    bg_music_prompt: str | None = None
    bg_music_url: str | None = None
    native_audio: bool | None = None


class CreateBody(_Model):
    title: str | None = None
    description: str | None = None
    media_items: list[MediaItem] | None = None
    prompt: str | None = None
    video_tool: Literal[VIDEO_TOOLS] | None = None
    quantity: int | None = _bounded("quantity")
    duration: int | None = _bounded("duration")
    loop: int | None = _bounded("loop")
    audio_option: AudioOption | None = None
    aspect_ratio: Literal[ASPECT_RATIOS] | None = None
    pipeline_mode: Literal[PIPELINE_MODES] | None = None
    webhook_url: str | None = None


class PatchBody(CreateBody):
    visibility_status: Literal[VISIBILITY_STATUSES] | None = None
    rating: float | None = None


def _jsonable(value: Any) -> Any:
    """Pydantic error parts as plain JSON (like FastAPI's ``jsonable_encoder``)."""
    return json.loads(json.dumps(value, default=str))


def parse_body(raw: bytes, model: type[_Model]) -> tuple[_Model, set[str]]:
    """The validated body and the names of the known fields given with a non-null value."""
    if not raw.strip():
        raise Invalid(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    try:
        data = json.loads(raw)
    except ValueError as exc:
        pos = getattr(exc, "pos", 0)
        reason = getattr(exc, "msg", str(exc))
        raise Invalid(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", pos],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": reason},
                }
            ]
        ) from None
    if not isinstance(data, dict):
        raise Invalid(
            [
                {
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": data,
                }
            ]
        )
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise Invalid([_jsonable({**e, "loc": ["body", *e["loc"]]}) for e in errors]) from None
    present = {k for k, v in data.items() if v is not None and k in model.model_fields}
    return parsed, present


def generation_params(body: _Model, present: set[str]) -> dict[str, Any]:
    """The given generation fields as plain values (absent ones left out)."""
    out: dict[str, Any] = {}
    for key in GENERATION_KEYS:
        if key not in present:
            continue
        value = getattr(body, key)
        if key == "media_items":
            value = [item.model_dump() for item in value]
        elif key == "audio_option":
            given = value.model_dump()
            value = {k: AUDIO_DEFAULTS[k] if given[k] is None else given[k] for k in given}
        out[key] = value
    return out


def complete(params: dict[str, Any]) -> dict[str, Any]:
    """Every generation field, defaults filled; checks the prompt-or-media_items rule."""
    full = {**DEFAULTS, "audio_option": dict(AUDIO_DEFAULTS), **params}
    has_prompt = bool((full["prompt"] or "").strip())
    if not has_prompt and not full["media_items"]:
        raise _value_error(
            ["body", "prompt"],
            "a prompt or media_items is required to generate a video",
            full["prompt"],
        )
    return full


# ------------------------------------------------------------------------------ inputs


@dataclass
class Inputs:
    """Local files for one generation's media inputs; ``scratch`` is deleted after rendering."""

    scratch: Path
    images: list[Path] = field(default_factory=list)
    soundtrack: list[Path] = field(default_factory=list)
    """Audio media items, joined in order: they replace ``audio_option``."""
    narration: Path | None = None
    music: Path | None = None


_POSITION_ORDER = {"first": 0, "last": 2}


def _fetch(url: str, where: str, env: Env, scratch: Path) -> Path:
    sandbox_url = env.base_url[: -len(NAME) - 1]
    try:
        return inputs.fetch(
            url, sandbox_url=sandbox_url, store_root=env.files.folder.parent, scratch=scratch
        )
    except inputs.Unreachable as exc:
        raise ApiError("JOB_CREATE_FAILED", f"Could not fetch {where}: {exc}") from None


def _still_of(path: Path, kind: str, where: str, scratch: Path) -> Path:
    """An image file for a visual item: the image itself, or a video's first frame."""
    from PIL import Image, UnidentifiedImageError

    from .services.media.probe import frame_at, probe

    if kind == "image":
        try:
            with Image.open(path) as img:
                img.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ApiError("JOB_CREATE_FAILED", f"{where} is not an image.") from None
        return path
    try:
        has_video = probe(path)["video"] is not None
        frame = frame_at(path, 0.0) if has_video else None
    except (ValueError, OSError, RuntimeError):
        frame = None
    if frame is None:
        raise ApiError("JOB_CREATE_FAILED", f"{where} is not a video.")
    still = scratch / f"still-{uuid.uuid4().hex[:8]}.png"
    Image.fromarray(frame).save(still)
    return still


def _audio_file(path: Path, where: str) -> Path:
    from .services.media.probe import probe

    try:
        has_audio = probe(path)["audio"] is not None
    except (ValueError, OSError, RuntimeError):
        has_audio = False
    if not has_audio:
        raise ApiError("JOB_CREATE_FAILED", f"{where} has no audio.")
    return path


def resolve_inputs(params: dict[str, Any], env: Env, scratch: Path) -> Inputs:
    """Fetch and check every input the generation will use (blocking: run it in a thread)."""
    scratch.mkdir(parents=True, exist_ok=True)
    got = Inputs(scratch)
    items = list(enumerate(params["media_items"] or []))
    visual = [(i, it) for i, it in items if it["type"] != "audio"]
    visual.sort(key=lambda p: _POSITION_ORDER.get((p[1]["position"] or "").lower(), 1))
    for i, item in visual:
        where = f"media_items[{i}] ({_shown(item['url'])})"
        path = _fetch(item["url"], where, env, scratch)
        got.images.append(_still_of(path, item["type"], where, scratch))
    for i, item in items:
        if item["type"] == "audio":
            where = f"media_items[{i}] ({_shown(item['url'])})"
            got.soundtrack.append(_audio_file(_fetch(item["url"], where, env, scratch), where))
    if got.soundtrack:
        return got  # audio in media_items: audio_option is ignored
    audio = params["audio_option"]
    for key in ("narration_url", "bg_music_url"):
        if audio[key]:
            where = f"audio_option.{key} ({_shown(audio[key])})"
            path = _audio_file(_fetch(audio[key], where, env, scratch), where)
            setattr(got, "narration" if key == "narration_url" else "music", path)
    return got


def _shown(url: str) -> str:
    return url if len(url) <= 80 else url[:60] + "…"


# --------------------------------------------------------------------------- rendering


@dataclass
class Rendered:
    names: list[str]
    length: float
    size: int


def render_key(number: int, params: dict[str, Any], got: Inputs) -> dict[str, Any]:
    """Everything that decides a generation's output bytes, for the render cache and the seed:
    its number (a regeneration differs from the first take), every generation field, and the
    digests of the fetched inputs."""
    from .services.rendercache import file_digest

    def digests(paths: list[Path]) -> list[str]:
        return [file_digest(p) for p in paths]

    return {
        "provider": NAME,
        "number": number,
        "params": params,
        "images": digests(got.images),
        "soundtrack": digests(got.soundtrack),
        "narration": digests([got.narration] if got.narration else []),
        "music": digests([got.music] if got.music else []),
        "preview": [PREVIEW_MAX_WIDTH, FPS],
    }


def render_generation(
    media_id: str, number: int, params: dict[str, Any], got: Inputs, env: Env
) -> Rendered:
    """``quantity`` MP4s sharing one soundtrack, each with its own seed (so they differ). The
    seed comes from the request, so identical requests share one render (``render_key``)."""
    from .services.rendercache import key_digest

    key = render_key(number, params, got)
    seed = int(key_digest(key)[:8], 16)
    names = [f"{media_id}-g{number}-{i + 1}.mp4" for i in range(params["quantity"])]
    paths = [env.files.path(name) for name in names]

    def make() -> dict[str, Any]:
        return {"length": _render_all(paths, params, got, seed)}

    meta = env.rendercache.render(key, {f"video{i}": p for i, p in enumerate(paths)}, make)
    size = sum(p.stat().st_size for p in paths)
    return Rendered(names, meta["length"], size)


def _render_all(paths: list[Path], params: dict[str, Any], got: Inputs, seed: int) -> float:
    """Render the generation's videos to ``paths``; returns their length in seconds."""
    from .services.media.probe import probe
    from .services.media.video import video_size

    width, height = video_size(params["aspect_ratio"], max_width=PREVIEW_MAX_WIDTH)
    speech = _speech_track(params, got)
    if speech is not None:  # the video lasts as long as the narration; loop is ignored
        length, loops = max(float(params["duration"]), probe(speech)["duration"]), 1
    else:
        length, loops = float(params["duration"] * params["loop"]), params["loop"]
    music = _music_track(params, got, length)
    soundtrack = _mix(got.scratch, speech, music, length)
    for i, path in enumerate(paths):
        text = (params["prompt"] or "").strip()
        if params["quantity"] > 1:
            text = f"{text} ({i + 1}/{params['quantity']})".strip()
        _render_one(path, text, length, loops, width, height, got, soundtrack, seed + i)
    return length


def _speech_track(params: dict[str, Any], got: Inputs) -> Path | None:
    """Audio items (joined), else ``narration_url``, else ``narration`` in the narrator's voice."""
    from .services.media.audio import write_audio
    from .services.media.probe import decode_audio
    from .services.media.speech import synthesize

    if len(got.soundtrack) == 1:
        return got.soundtrack[0]
    if got.soundtrack:
        import numpy as np

        parts = [decode_audio(p, 44100)[0] for p in got.soundtrack]
        return write_audio(got.scratch / "soundtrack.wav", np.concatenate(parts), 44100, "wav")
    if got.narration is not None:
        return got.narration
    audio = params["audio_option"]
    if not (audio["narration"] or "").strip():
        return None
    samples, rate = synthesize(audio["narration"], voice=NARRATORS[audio["narrator"]])
    return write_audio(got.scratch / "narration.wav", samples, rate, "wav")


def _music_track(params: dict[str, Any], got: Inputs, length: float) -> Path | None:
    """``bg_music_url``, else music composed from ``bg_music_prompt``; none with audio items."""
    from .services.media.audio import write_audio
    from .services.media.music import compose

    if got.soundtrack:
        return None
    if got.music is not None:
        return got.music
    audio = params["audio_option"]
    if (audio["bg_music_prompt"] or "").strip():
        samples, rate, _ = compose(duration=length, seed=audio["bg_music_prompt"])
        return write_audio(got.scratch / "music.wav", samples, rate, "wav")
    if audio["native_audio"]:
        return _ambient(got.scratch / "ambient.wav", length)
    return None


def _ambient(path: Path, length: float) -> Path:
    """Native audio stand-in: quiet stereo brown noise (a room tone), ``AMBIENT_RMS`` loud."""
    import numpy as np

    from .services.media.audio import write_audio

    rate = 44100
    rng = np.random.default_rng(len(path.name))
    noise = rng.standard_normal((max(1, round(length * rate)), 2))
    brown = np.cumsum(noise, axis=0)
    brown -= np.linspace(brown[0], brown[-1], len(brown))  # no drift, so no clicks at the ends
    brown *= AMBIENT_RMS / (float(np.sqrt(np.mean(brown**2))) or 1.0)
    return write_audio(path, brown.astype(np.float32), rate, "wav")


def _mix(scratch: Path, speech: Path | None, music: Path | None, length: float) -> Path | None:
    from .services.media.audio import mix_tracks

    if speech is None and music is None:
        return None
    gain = MUSIC_GAIN if speech is not None else MUSIC_ALONE_GAIN
    return mix_tracks(
        scratch / "mix.wav", speech=speech, music=music, duration=length, music_gain=gain
    )


def _render_one(
    out: Path,
    text: str,
    length: float,
    loops: int,
    width: int,
    height: int,
    got: Inputs,
    soundtrack: Path | None,
    seed: int,
) -> None:
    """One output: a scene of ``length / loops`` s repeated ``loops`` times, then the sound."""
    from .services.media import _ffmpeg
    from .services.media.audio import AAC
    from .services.media.video import render_video

    common = {
        "text": text,
        "fps": FPS,
        "width": width,
        "height": height,
        "images": got.images,
        "seed": seed,
    }
    if loops == 1:
        render_video(out, duration=length, audio=soundtrack, **common)
        return
    scene = render_video(got.scratch / f"scene-{seed}.mp4", duration=length / loops, **common)
    args: list[str | Path] = ["-stream_loop", str(loops - 1), "-i", scene]
    maps: list[str | Path] = ["-map", "0:v:0", "-c:v", "copy"]
    if soundtrack is not None:
        args += ["-i", soundtrack]
        maps += ["-map", "1:a:0", *AAC]
    _ffmpeg.run([*args, *maps, "-t", f"{length:.6f}", "-movflags", "+faststart", out])


# ------------------------------------------------------------------------------- media


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


def _iso(epoch: float) -> str:
    """Like the page's example: ``2025-04-01T18:57:37.355064+00:00``."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="microseconds")


def _account(key: str) -> tuple[str, str]:
    """``customer_id`` and ``primary_user_id`` for a key (stable, never the key itself)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"customer-{digest[:12]}", f"user-{digest[12:24]}"


MEDIA_KEYS = (
    "id", "title", "description", "customer_id", "primary_user_id", "media_items",
    "duration_time", "processing_status", "progress_percentage", "pose_preset", "submit_params",
    "result", "visibility_status", "rating", "webhook_url", "created_at", "updated_at", "version",
    "error",
)  # fmt: skip
"""Every key a media object can have, in order: what ``?fields=`` may name."""


class Vimmerse:
    """The state behind the routes of one sandbox: media objects and their generations."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._media: dict[str, Media] = {}

    # -------------------------------------------------------------------- requests

    def authorize(self, request: Request) -> str:
        key = request.headers.get(AUTH_HEADER, "").strip()
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
            "created_at": _iso(media.created),
            "updated_at": _iso(media.updated),
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


def select_fields(obj: dict[str, Any], raw: str | None) -> dict[str, Any]:
    """``?fields=a,b``: only those keys; an unknown key is a 422 naming it."""
    if raw is None or not raw.strip():
        return obj
    wanted = [f.strip() for f in raw.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in MEDIA_KEYS]
    if unknown:
        raise Invalid(
            [
                {
                    "type": "value_error",
                    "loc": ["query", "fields"],
                    "msg": f"Value error, unknown field(s): {', '.join(unknown)}; "
                    f"allowed: {', '.join(MEDIA_KEYS)}",
                    "input": raw,
                }
            ]
        )
    return {k: v for k, v in obj.items() if k in wanted}


# ------------------------------------------------------------------------------ routes

Handler = Callable[[Request, str], Awaitable[Response]]


def _endpoint(api: Vimmerse, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, then run ``handler``; errors become their documented bodies."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, api.authorize(request))
        except (ApiError, Invalid) as exc:
            return exc.response()

    return endpoint


def build(env: Env) -> list[Route]:
    """The Vimmerse routes, relative to the provider's base URL."""
    api = Vimmerse(env)
    env.audit.register(NAME, api.audit_lookup)

    async def create(request: Request, key: str) -> Response:
        media = await api.create(key, await request.body())
        return JSONResponse(api.media_json(media))

    async def one(request: Request, key: str) -> Response:
        media_id = request.path_params["media_id"]
        if request.method == "PATCH":
            media = await api.update(key, media_id, await request.body())
            return JSONResponse(api.media_json(media))
        obj = api.media_json(api.get(key, media_id))
        return JSONResponse(select_fields(obj, request.query_params.get("fields")))

    return [
        Route("/v2/media", _endpoint(api, create), methods=["POST"]),
        Route("/v2/media/{media_id}", _endpoint(api, one), methods=["GET", "PATCH"]),
    ]


def voice_spec(narrator: str) -> str:
    """The eSpeak NG voice a narrator speaks with (voice samples use the same)."""
    from .services.media.speech import voice_for

    return NARRATORS.get(narrator) or voice_for(narrator)
