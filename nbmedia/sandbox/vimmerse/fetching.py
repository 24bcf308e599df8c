"""A generation's media inputs, fetched and checked before it is accepted: images, a still of
each video item, audio items, ``narration_url`` and ``bg_music_url``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..kit.env import Env
from ..services import inputs
from .errors import ApiError


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
    try:
        return inputs.fetch(
            url, sandbox_url=env.sandbox_url, store_root=env.files.folder.parent, scratch=scratch
        )
    except inputs.Unreachable as exc:
        raise ApiError("JOB_CREATE_FAILED", f"Could not fetch {where}: {exc}") from None


def _still_of(path: Path, kind: str, where: str, scratch: Path) -> Path:
    """An image file for a visual item: the image itself, or a video's first frame."""
    from PIL import Image, UnidentifiedImageError

    from ..services.media.probe import frame_at, probe

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
    from ..services.media.probe import probe

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
