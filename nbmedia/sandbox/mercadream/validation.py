"""Request bodies and query values, checked in MercaDream's words: each 400 names the field,
the value and the rule. ``null`` means the default; types are strict."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from ..kit.bodies import NotAnObject, json_object
from ..kit.helpers import is_int, parse_iso
from .contract import (
    AUDIO_FORMATS,
    BPM,
    DURATIONS,
    FPS,
    LIST_DEFAULT_LIMIT,
    LIST_LIMIT,
    MUSIC_DEFAULTS,
    MUSIC_DURATION,
    PROMPT_MAX,
    RESOLUTIONS,
    SPEECH_DEFAULTS,
    SPEECH_SPEED,
    STATUSES,
    TEXT_MAX,
    VIDEO_DEFAULTS,
)
from .errors import ApiError, invalid

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


def _one_of(body: dict[str, Any], name: str, choices: tuple, default: Any) -> Any:
    value = _get(body, name, default)
    wants_int = is_int(choices[0])
    ok = (is_int(value) if wants_int else isinstance(value, str)) and value in choices
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
    is_number = is_int(value) or (not integer and isinstance(value, float))
    if not is_number or not lo <= value <= hi:
        kind = "an integer" if integer else "a number"
        raise invalid(name, f"{name} must be {kind} from {lo} to {hi} (got {json.dumps(value)})")
    return value


def url(body: dict[str, Any], name: str) -> str | None:
    """An optional absolute http(s) URL field (``webhook_url``)."""
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


async def json_body(request: Request) -> dict[str, Any]:
    try:
        return json_object(await request.body())
    except NotAnObject:
        raise ApiError("invalid_request", "The request body must be a JSON object.") from None
    except ValueError as exc:  # UnicodeDecodeError is one
        raise ApiError("invalid_json", f"Malformed JSON body: {exc}") from None


def parse_cursor(value: str) -> float:
    """An ISO-8601 ``before`` cursor as epoch milliseconds (naive times are UTC)."""
    moment = parse_iso(value)
    if moment is None:
        raise invalid("before", f"before must be an ISO-8601 timestamp (got {json.dumps(value)})")
    return moment.timestamp() * 1000


def query_limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return LIST_DEFAULT_LIMIT
    lo, hi = LIST_LIMIT
    if not re.fullmatch(r"\d+", raw) or not lo <= int(raw) <= hi:
        raise invalid(
            "limit", f"limit must be an integer from {lo} to {hi} (got {json.dumps(raw)})"
        )
    return int(raw)


def query_before(request: Request) -> float | None:
    raw = request.query_params.get("before")
    return None if raw is None else parse_cursor(raw)


def query_status(request: Request) -> str | None:
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        shown = ", ".join(STATUSES)
        raise invalid("status", f"status must be one of {shown} (got {json.dumps(status)})")
    return status
