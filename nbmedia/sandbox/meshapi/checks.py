"""The media inputs themselves, checked where the sandbox can read them: sizes, that an image
or video can be read (and its aspect), audio format and clip lengths, data URI headers."""

from __future__ import annotations

from collections.abc import Callable

from ..services.inputs import data_uri_mime, data_uri_size
from . import contract
from .contract import (
    AUDIO_CLIP_SECONDS,
    AUDIO_MIME,
    AUDIO_SECONDS_SLACK,
    MEDIA_FAMILY,
    MiB,
)
from .validation import Item


def seconds(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") + " s"


def check_size(item: Item, size: int) -> str | None:
    # read at call time: a test lowers a limit on the contract module
    limits = {"video_url": contract.MAX_VIDEO_BYTES, "audio_url": contract.MAX_AUDIO_BYTES}
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
    from ..services.media.probe import probe

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
    from ..services.media.probe import probe

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
        return f"each audio clip must last {lo:g} to {hi:g} s (got {seconds(item.seconds)})"
    return None


CONTENT_CHECKS: dict[str, Callable[[Item], str | None]] = {
    "image_url": _check_image,
    "video_url": _check_video,
    "audio_url": _check_audio,
}


def check_data_uri(item: Item) -> str | None:
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
    return check_size(item, data_uri_size(item.url))
