"""Checks of a generation request's ``input`` and ``generation_config``: each bad field is a
400 ``invalid_request`` naming it, the value and the rule; defaults fill in the rest."""

from __future__ import annotations

from typing import Any

from .catalog import (
    AD_TYPES,
    AUDIO_TRACK_TYPES,
    CATEGORIES,
    CUE_TIMING,
    CUSTOM_CAPTION_FIELDS,
    DEFAULT_CONFIG,
    FORMATS,
    INPUT_FIELDS,
    LANGUAGES,
    ROUTE_FIELDS,
    SAME_LANGUAGE,
    VIDEO_FORMAT,
    VOICES,
    VOLUME_DB_RANGE,
    VOLUME_OPTIONS,
)
from .contract import CUSTOM_INSTRUCTIONS_MAX, FILENAME_MAX
from .errors import invalid, shown


def parse_input(raw: Any, *, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The ``input`` object: a known type and only that type's fields."""
    if not isinstance(raw, dict):
        raise invalid("input", 'must be an object such as {"type": "media_id", "media_id": ...}')
    kind = raw.get("type")
    if kind not in allowed:
        raise invalid("input.type", f"must be one of {', '.join(allowed)} (got {shown(kind)})")
    for key in raw:
        if key not in INPUT_FIELDS[kind]:
            raise invalid(f"input.{key}", f"is not a field of a {kind} input")
    name = raw.get("filename")
    if name is not None and (
        not isinstance(name, str) or not name.strip() or len(name) > FILENAME_MAX
    ):
        raise invalid(
            "input.filename",
            f"must be a file name of 1 to {FILENAME_MAX} characters (got {shown(name)})",
        )
    return raw


def _language(value: Any, where: str) -> str:
    """The canonical code; another region's code of a listed language names the listed one."""
    match = {c.lower(): c for c in LANGUAGES}.get(str(value).lower().replace("_", "-"))
    if isinstance(value, str) and match is not None:
        return match
    primary = str(value).replace("_", "-").split("-")[0].lower()
    primary = SAME_LANGUAGE.get(primary, primary)
    same = [c for c in LANGUAGES if c.split("-")[0].lower() == primary]
    hint = (
        f" (for this language use {' or '.join(same)})" if isinstance(value, str) and same else ""
    )
    raise invalid(
        where,
        f"{shown(value)} is not a supported language{hint}; use one of the "
        f"{len(LANGUAGES)} BCP-47 codes {', '.join(LANGUAGES)}",
    )


def _one_of(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise invalid(where, f"must be one of {', '.join(allowed)} (got {shown(value)})")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(where, f"must be true or false (got {shown(value)})")
    return value


def _volume_db(value: Any, where: str) -> float:
    low, high = VOLUME_DB_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise invalid(
            where, f"must be a number of dBFS from {low:g} to {high:g} (got {shown(value)})"
        )
    return float(value)


def _captions(value: Any, where: str) -> dict[str, str]:
    """``{"content": str, "format"?: str, "filename"?: str}``; cue lines must parse."""
    if not isinstance(value, dict):
        raise invalid(where, 'must be an object such as {"content": "WEBVTT ..."}')
    for key in value:
        if key not in CUSTOM_CAPTION_FIELDS:
            raise invalid(
                f"{where}.{key}", f"is not a field (known: {', '.join(CUSTOM_CAPTION_FIELDS)})"
            )
    content = value.get("content")
    if not isinstance(content, str) or not content.strip():
        raise invalid(f"{where}.content", "is required: the captions as VTT, SRT or plain text")
    for key in ("format", "filename"):
        if key in value and value[key] is not None and not isinstance(value[key], str):
            raise invalid(f"{where}.{key}", f"must be a string (got {shown(value[key])})")
    for n, line in enumerate(content.replace("\r\n", "\n").split("\n"), 1):
        if "-->" in line and not CUE_TIMING.match(line.strip()):
            raise invalid(f"{where}.content", f"line {n} is not a cue timing: {shown(line)}")
    return {k: v for k, v in value.items() if v is not None}


def parse_config(raw: Any, kind: str, prefix: str = "generation_config.") -> dict[str, Any]:
    """The generation config with defaults filled in; the first bad field is a 400 naming it."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid(prefix.rstrip(".") or "generation_config", "must be an object")
    route = f"generate_ad_{kind}"
    for key in raw:
        if key not in DEFAULT_CONFIG:
            raise invalid(
                f"{prefix}{key}", f"is not a known field (known: {', '.join(ROUTE_FIELDS[kind])})"
            )
        if key not in ROUTE_FIELDS[kind]:
            takes = [f"generate_ad_{k}" for k, keys in ROUTE_FIELDS.items() if key in keys]
            raise invalid(
                f"{prefix}{key}", f"is not a field of {route} (it applies to {', '.join(takes)})"
            )
    config = dict(DEFAULT_CONFIG)
    for key, value in raw.items():
        if value is None:
            continue
        where = f"{prefix}{key}"
        if key == "language":
            config[key] = _language(value, where)
        elif key == "format":
            allowed = FORMATS + ((VIDEO_FORMAT,) if kind == "video" else ())
            config[key] = _one_of(value, allowed, where)
        elif key == "ad_type":
            _one_of(value, AD_TYPES, where)
            if kind == "audio" and value != "standard_ad":
                raise invalid(where, "generate_ad_audio is available for Standard AD only")
            config[key] = value
        elif key == "voice":
            match = {v.lower(): v for v in VOICES}.get(str(value).lower())
            if not isinstance(value, str) or match is None:
                raise invalid(
                    where, f"{shown(value)} is not a voice id; use one of {', '.join(VOICES)}"
                )
            config[key] = match
        elif key in ("custom_instructions", "description_content"):
            limit = CUSTOM_INSTRUCTIONS_MAX if key == "custom_instructions" else None
            if not isinstance(value, str) or (limit is not None and len(value) > limit):
                more = f" of at most {limit} characters" if limit is not None else ""
                raise invalid(where, f"must be a string{more} (got {shown(value)})")
            config[key] = value
        elif key in ("read_all_onscreen_text", "auto_fit", "allow_descriptions_over_music"):
            config[key] = _flag(value, where)
        elif key == "video_category":
            config[key] = _one_of(value, CATEGORIES, where)
        elif key == "volume_option":
            config[key] = _one_of(value, VOLUME_OPTIONS, where)
        elif key == "volume_level_db":
            config[key] = _volume_db(value, where)
        elif key == "audio_track_type":
            config[key] = _one_of(value, AUDIO_TRACK_TYPES, where)
        elif key == "custom_captions":
            config[key] = _captions(value, where)
    return config
