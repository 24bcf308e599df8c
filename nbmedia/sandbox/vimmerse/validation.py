"""Request bodies as pydantic models built from the tables (FastAPI's lax coercions, e.g.
``"3"`` -> 3), reported in v2's error shape; the generation fields a request gives; ``?fields=``."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .contract import (
    ASPECT_RATIOS,
    AUDIO_DEFAULTS,
    DEFAULTS,
    GENERATION_KEYS,
    LIMITS,
    MEDIA_ITEM_TYPES,
    MEDIA_KEYS,
    NARRATOR_NAMES,
    PIPELINE_MODES,
    VIDEO_TOOLS,
    VISIBILITY_STATUSES,
)
from .errors import Invalid, value_error


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
        raise value_error(
            ["body", "prompt"],
            "a prompt or media_items is required to generate a video",
            full["prompt"],
        )
    return full


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
