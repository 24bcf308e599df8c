"""Requests checked in Mesh API's words: the model, every option (strict types, unknown
fields refused), the content items, list queries, and the body itself (size, JSON object)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from ..kit.bodies import NotAnObject, TooLarge, json_object, read_limited
from ..kit.helpers import is_int, shown
from .contract import (
    DEFAULTS,
    EXPIRES_AFTER,
    FIELDS,
    FRAMES,
    FRAMES_BASE,
    FRAMES_STEP,
    ITEM_TYPES,
    MAX_AUDIO_CLIPS,
    MAX_BODY_BYTES,
    MODEL_NOT_FOUND,
    MODELS,
    PRIORITY,
    RATIOS,
    RESOLUTIONS,
    SEED,
    MiB,
    Model,
)
from .errors import ApiError, Problems


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
        ok = is_int(value) and lo <= value <= hi
        return None if ok else f"duration must be an integer from {lo} to {hi} s for this model"
    if name == "frames":
        lo, hi = FRAMES
        ok = is_int(value) and lo <= value <= hi and (value - FRAMES_BASE) % FRAMES_STEP == 0
        return None if ok else f"frames must be an integer from {lo} to {hi} of the form 25 + 4n"
    bounds = {"seed": SEED, "priority": PRIORITY, "execution_expires_after": EXPIRES_AFTER}
    lo, hi = bounds[name]
    return (
        None
        if is_int(value) and lo <= value <= hi
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
            problems.add(("body", name), f"{why} (got {shown(value)})")
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
            (*loc, "type"), f"content[{index}].type must be one of {allowed} (got {shown(kind)})"
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


def validate(body: dict[str, Any]) -> tuple[str, dict[str, Any], list[Item]]:
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
            f"Model {shown(model_id)} not found; video models: {known}.",
            code=MODEL_NOT_FOUND,
        )
    problems = Problems()
    opts = parse_options(body, MODELS[model_id], problems)
    items = parse_content(body.get("content"), model_id, problems)
    problems.raise_if_any()
    return model_id, opts, items


def parse_time(name: str, raw: str, problems: Problems) -> float | None:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        problems.add(("query", name), f"{name} must be an ISO-8601 timestamp (got {shown(raw)})")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def query_int(
    request: Request, name: str, lo: int, hi: int | None, default: int, problems: Problems
) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if re.fullmatch(r"-?\d+", raw.strip()) and int(raw) >= lo and (hi is None or int(raw) <= hi):
        return int(raw)
    rule = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"
    problems.add(("query", name), f"{name} must be an integer {rule} (got {shown(raw)})")
    return default


async def read_body(request: Request) -> bytes:
    """The whole body, or 413 past ``MAX_BODY_BYTES`` (read to the end either way)."""
    try:
        return await read_limited(request, MAX_BODY_BYTES)
    except TooLarge as exc:
        raise ApiError(
            413,
            f"The request body must be at most {MAX_BODY_BYTES // MiB} MB (got {exc.size / MiB:.1f} MB): pass large media as public URLs, not base64.",
        ) from None


def json_body(raw: bytes) -> dict[str, Any]:
    try:
        return json_object(raw)
    except NotAnObject:
        problems = Problems()
        problems.add(("body",), "The request body must be a JSON object.", "dict_type")
        problems.raise_if_any()
        raise
    except ValueError as exc:  # UnicodeDecodeError is one
        pos = getattr(exc, "pos", 0)
        problems = Problems()
        problems.add(("body", pos), f"JSON decode error: {exc}", "json_invalid")
        problems.raise_if_any()
        raise
