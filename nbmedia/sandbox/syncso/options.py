"""Validation of a body's ``options`` (with the active speaker detection) and ``segments``:
each problem is added to the request's ``Problems``."""

from __future__ import annotations

import json
import math
from typing import Any

from ..kit.helpers import is_int
from .checks import present
from .contract import (
    EMOTIONS,
    MODEL_MODES,
    OPTION_DEFAULTS,
    OPTION_FIELDS,
    REACT_DEFAULTS,
    REACT_ONLY,
    SEGMENT_AUDIO_FIELDS,
    SEGMENT_FIELDS,
    SPEAKER_FIELDS,
    SYNC_MODES,
    TEMPERATURE,
)
from .errors import Problems, is_number
from .spec import Item


def check_options(raw: Any, model: str | None, problems: Problems) -> dict[str, Any]:
    """The options with their defaults (only when valid: they are echoed back)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.add("options must be an object")
        return {}
    where = "options."
    problems.unknown(raw, OPTION_FIELDS, where)
    problems.one_of(raw, "sync_mode", where, SYNC_MODES)
    problems.one_of(raw, "model_mode", where, MODEL_MODES)
    problems.one_of(raw, "prompt", where, EMOTIONS)
    problems.number(raw, "temperature", where, TEMPERATURE)
    if present(raw, "occlusion_detection_enabled") and not isinstance(
        raw["occlusion_detection_enabled"], bool
    ):
        problems.add("options.occlusion_detection_enabled must be a boolean value")
    for name, only in REACT_ONLY.items():
        if present(raw, name) and model is not None and model != only:
            problems.add(f"options.{name} is only supported by the {only} model (got {model})")
    speaker = raw.get("active_speaker_detection")
    if speaker is not None:
        _check_speaker(speaker, problems)
    options = {k: v for k, v in raw.items() if v is not None}
    defaults = {**OPTION_DEFAULTS, **(REACT_DEFAULTS if model == "react-1" else {})}
    return {**defaults, **options}


def _is_box(box: Any) -> bool:
    return (
        isinstance(box, list)
        and len(box) == 4
        and all(is_int(v) and v >= 0 for v in box)
        and box[0] < box[2]
        and box[1] < box[3]
    )


def _check_speaker(raw: Any, problems: Problems) -> None:
    where = "options.active_speaker_detection."
    if not isinstance(raw, dict):
        problems.add("options.active_speaker_detection must be an object")
        return
    problems.unknown(raw, SPEAKER_FIELDS, where)
    if present(raw, "auto_detect") and not isinstance(raw["auto_detect"], bool):
        problems.add(f"{where}auto_detect must be a boolean value")
    frame = raw.get("frame_number")
    if frame is not None and not (is_int(frame) and frame >= 0):
        problems.add(f"{where}frame_number must be an integer of at least 0")
    point = raw.get("coordinates")
    if point is not None and not (
        isinstance(point, list) and len(point) == 2 and all(is_int(v) and v >= 0 for v in point)
    ):
        problems.add(f"{where}coordinates must be [x, y]: two integers of at least 0")
    if (frame is None) != (point is None):
        problems.add(f"{where}frame_number and coordinates must be given together")
    boxes = raw.get("bounding_boxes")
    if boxes is not None:
        if not (isinstance(boxes, list) and all(box is None or _is_box(box) for box in boxes)):
            problems.add(
                f"{where}bounding_boxes must be a list of [x1, y1, x2, y2] boxes "
                "(x1 < x2, y1 < y2) or null per frame"
            )
        if point is not None:
            problems.add(f"{where}give bounding_boxes or frame_number + coordinates, not both")


def check_segments(raw: Any, items: list[Item], problems: Problems) -> list[dict[str, Any]] | None:
    """The segments as sent (``None`` without them); overlaps and unknown refIds are 400s."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        problems.add("segments must be a non-empty array")
        return None
    refs = {i.ref_id for i in items if i.type != "video" and i.ref_id}
    spans: list[tuple[float, float, int]] = []
    for n, seg in enumerate(raw):
        where = f"segments.{n}."
        if not isinstance(seg, dict):
            problems.add(f"segments.{n} must be an object")
            continue
        problems.unknown(seg, SEGMENT_FIELDS, where)
        for name in ("startTime", "endTime"):
            if seg.get(name) is None:
                problems.add(f"{where}{name} should not be empty")
            problems.number(seg, name, where, (0.0, math.inf))
        start, end = seg.get("startTime"), seg.get("endTime")
        if is_number(start) and is_number(end):
            if start >= end:
                problems.add(f"{where}startTime must be less than endTime")
            else:
                spans.append((float(start), float(end), n))
        audio = seg.get("audioInput")
        if not isinstance(audio, dict):
            problems.add(f"{where}audioInput must be an object")
            continue
        _check_segment_audio(audio, f"{where}audioInput.", refs, problems)
    spans.sort()
    for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
        if start < end:
            problems.add(f"segments.{a} and segments.{b} overlap")
    for item in items:
        if item.type != "video" and not item.ref_id:
            problems.add(f"input.{item.index}.refId is required when segments are given")
    return raw


def _check_segment_audio(
    audio: dict[str, Any], where: str, refs: set[str | None], problems: Problems
) -> None:
    problems.unknown(audio, SEGMENT_AUDIO_FIELDS, where)
    ref = audio.get("refId")
    if not (isinstance(ref, str) and ref):
        problems.add(f"{where}refId must be a non-empty string")
    elif ref not in refs:
        problems.add(f"{where}refId {json.dumps(ref)} does not match the refId of any audio input")
    a0, a1 = audio.get("startTime"), audio.get("endTime")
    if (a0 is None) != (a1 is None):
        problems.add(f"{where}startTime and endTime must be given together")
    problems.number(audio, "startTime", where, (0.0, math.inf))
    problems.number(audio, "endTime", where, (0.0, math.inf))
    if is_number(a0) and is_number(a1) and a0 >= a1:
        problems.add(f"{where}startTime must be less than endTime")
