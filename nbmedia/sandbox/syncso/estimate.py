"""The cost estimate: the media are fetched and probed as for a generation, and every problem
(a generation would fail) is a 400 here; frames and price follow the output's length."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .contract import MODELS, PRICING_FPS, SCRIPT_CHARS_PER_SECOND
from .errors import ApiError, GenerationFailure
from .media import (
    VideoInfo,
    check_against_media,
    check_audio_length,
    output_seconds,
    probe_audio,
    probe_video,
)
from .spec import Spec

Fetcher = Callable[[Spec, Path], list[str]]
"""Fetches a spec's URL inputs into a scratch folder; returns why any could not be."""


def price(spec: Spec, video: VideoInfo, audio_seconds: float) -> dict[str, float]:
    """``estimatedFrameCount`` at the video's frame rate; the model's price per frame at 25 fps."""
    seconds = output_seconds(spec, video.seconds, audio_seconds)
    frames = max(1, round(seconds * video.fps))
    cost = frames * MODELS[spec.model].price_per_second / PRICING_FPS
    return {"estimatedFrameCount": frames, "estimatedGenerationCost": round(cost, 4)}


def estimate(spec: Spec, scratch: Path, fetch_inputs: Fetcher) -> list[dict[str, float]]:
    """Frames and cost of ``spec`` (blocking: the media are fetched and probed)."""
    failure = spec.deferred
    if failure is not None:
        raise ApiError(400, [failure.message])
    unreachable = fetch_inputs(spec, scratch)
    if unreachable:
        raise ApiError(400, unreachable)
    try:
        assert spec.video is not None
        video = probe_video(spec.video)
        for item in spec.audio:
            if item.script is not None:
                item.seconds = len(item.script) / SCRIPT_CHARS_PER_SECOND
            else:
                item.seconds = probe_audio(item)
                check_audio_length(item)
        check_against_media(spec, video)
    except GenerationFailure as exc:
        raise ApiError(400, [exc.message]) from None
    return [price(spec, video, spec.audio[0].seconds)]
