"""What only the media can decide: their length, frame rate and size, and the generation
errors they cause (a worker finds these once it has downloaded the files)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .contract import AUDIO_MAX_SECONDS, MEDIA_SLACK
from .errors import GenerationFailure
from .spec import Item, Spec


@dataclass
class VideoInfo:
    path: Path
    seconds: float
    fps: Fraction
    width: int
    height: int

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * self.fps))


def _fps(value: float) -> Fraction:
    """A frame rate as a fraction: 29.97 -> 30000/1001, 25.0 -> 25."""
    if abs(value - round(value)) < 0.01:
        return Fraction(round(value))
    return Fraction(value).limit_denominator(1001)


def probe_video(item: Item) -> VideoInfo:
    """The video file's length, frame rate and size, or the generation error it causes."""
    from ..services.media.probe import probe

    assert item.path is not None
    try:
        info = probe(item.path)
    except (ValueError, OSError):
        raise GenerationFailure(
            "generation_media_metadata_missing",
            f"input.{item.index}: the video cannot be read (no duration or frame rate).",
        ) from None
    video = info["video"]
    if video is None:
        raise GenerationFailure(
            "generation_video_missing", f"input.{item.index}: the file has no video stream."
        )
    if not info["duration"] or not video["fps"] or not video["width"] or not video["height"]:
        raise GenerationFailure(
            "generation_media_metadata_missing",
            f"input.{item.index}: the video's duration or frame rate is missing.",
        )
    return VideoInfo(
        item.path, float(info["duration"]), _fps(video["fps"]), video["width"], video["height"]
    )


def probe_audio(item: Item) -> float:
    """The audio file's length in seconds, or the generation error it causes."""
    from ..services.media.probe import probe

    assert item.path is not None
    try:
        info = probe(item.path)
    except (ValueError, OSError):
        raise GenerationFailure(
            "generation_media_metadata_missing",
            f"input.{item.index}: the audio cannot be read (no duration).",
        ) from None
    if info["audio"] is None:
        raise GenerationFailure(
            "generation_audio_missing", f"input.{item.index}: the file has no audio stream."
        )
    if not info["duration"]:
        raise GenerationFailure(
            "generation_media_metadata_missing",
            f"input.{item.index}: the audio's duration is missing.",
        )
    return float(info["duration"])


def check_audio_length(item: Item) -> None:
    if item.seconds > AUDIO_MAX_SECONDS + MEDIA_SLACK:
        raise GenerationFailure(
            "generation_audio_length_exceeded",
            f"input.{item.index}: the audio lasts {item.seconds:.1f} s; "
            f"the limit is {AUDIO_MAX_SECONDS:g} s.",
        )


def check_against_media(spec: Spec, video: VideoInfo) -> None:
    """Ranges and points that only the media's own size and length can validate."""
    by_ref = {i.ref_id: i for i in spec.audio if i.ref_id}
    for n, seg in enumerate(spec.segments or []):
        if seg["endTime"] > video.seconds + MEDIA_SLACK:
            raise GenerationFailure(
                "generation_input_validation_failed",
                f"segments.{n}: {seg['startTime']:g}-{seg['endTime']:g} s is outside the "
                f"video (0-{video.seconds:.2f} s).",
            )
        crop = seg["audioInput"]
        audio = by_ref[crop["refId"]]
        if crop.get("endTime") is not None and crop["endTime"] > audio.seconds + MEDIA_SLACK:
            raise GenerationFailure(
                "generation_input_validation_failed",
                f"segments.{n}.audioInput: {crop['startTime']:g}-{crop['endTime']:g} s is "
                f"outside the audio {crop['refId']!r} (0-{audio.seconds:.2f} s).",
            )
    speaker = spec.options.get("active_speaker_detection") or {}
    frame, point = speaker.get("frame_number"), speaker.get("coordinates")
    if frame is not None and frame >= video.frames:
        raise GenerationFailure(
            "generation_input_validation_failed",
            f"options.active_speaker_detection.frame_number {frame} is past the video's last "
            f"frame ({video.frames - 1}).",
        )
    boxes = [b for b in speaker.get("bounding_boxes") or [] if b]
    points = ([point] if point else []) + [b[2:] for b in boxes]
    for x, y in points:
        if x > video.width or y > video.height:
            raise GenerationFailure(
                "generation_input_validation_failed",
                f"options.active_speaker_detection: ({x}, {y}) is outside the "
                f"{video.width}x{video.height} video.",
            )


def output_seconds(spec: Spec, video: float, audio: float) -> float:
    """How long the output is, per sync.so's sync_mode behaviour matrix (or segments)."""
    if spec.segments:
        return video
    mode = spec.options["sync_mode"]
    if mode == "cut_off":
        return min(video, audio)
    if mode == "silence":
        return max(video, audio)
    return audio  # bounce, loop, remap
