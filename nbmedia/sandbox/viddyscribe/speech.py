"""Narration: eSpeak NG speaks each segment at its start into a track of the video's length,
and the described MP4 is the input's picture with that track mixed over its own sound."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .describe import Segment

SPEECH_LEAD_IN = 0.1
SPEECH_GAP = 0.05
MAX_SPEECH_SPEED = 1.8
FADE_SECONDS = 0.03
ORIGINAL_AUDIO_GAIN = 0.5
"""Level of the video's own sound under the description in the described MP4."""


def voice_spec(voice: str, language: str = "en-US") -> str:
    """The eSpeak NG voice for a ViddyScribe voice id (also used for free voice samples)."""
    from ..services.media.speech import voice_for

    return voice_for(voice, language)


def speak_track(
    segments: list[Segment],
    *,
    language: str,
    voice: str,
    duration: float,
    out: Path,
    peak_db: float | None = None,
) -> Path:
    """A WAV of ``duration`` s with each segment spoken from its start, fitted before the next;
    with ``peak_db`` (``volume_option: max``) its loudest sample is that many dBFS."""
    from ..services.media.audio import write_audio
    from ..services.media.speech import synthesize

    spec = voice_spec(voice, language)
    rate = 22050
    track = np.zeros(max(1, round(duration * rate)), dtype=np.int16)
    for seg in segments:
        start = min(seg.start + SPEECH_LEAD_IN, seg.start + (seg.end - seg.start) / 4)
        slot = max(0.2, seg.end - start - SPEECH_GAP)
        samples, rate_got = synthesize(seg.text, voice=spec)
        if len(samples) / rate_got > slot:
            speed = min(MAX_SPEECH_SPEED, len(samples) / rate_got / slot)
            samples, rate_got = synthesize(seg.text, voice=spec, speed=speed)
        if rate_got != rate:  # the eSpeak rate is fixed; resample defensively
            from ..services.media.audio import resample

            samples = resample(samples, rate_got, rate)
        pos = round(start * rate)
        room = min(len(track) - pos, round(slot * rate))
        if room <= 0:
            continue
        clip = samples[:room].astype(np.float32)
        if len(samples) > room:  # cut short: fade out rather than click
            fade = min(len(clip), round(FADE_SECONDS * rate))
            clip[len(clip) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        track[pos : pos + len(clip)] = clip.astype(np.int16)
    peak = int(np.abs(track.astype(np.int32)).max())
    if peak_db is not None and peak > 0:
        target = 32767 * 10 ** (peak_db / 20)
        track = np.round(track.astype(np.float64) * (target / peak)).astype(np.int16)
    return write_audio(out, track, rate, "wav")


def described_video(video: Path, track: Path, has_audio: bool, duration: float, out: Path) -> Path:
    """``video``'s picture with ``track`` mixed over its own sound (the picture is copied)."""

    from ..services.media import _ffmpeg
    from ..services.media.audio import mix_tracks, mux

    with tempfile.TemporaryDirectory(prefix="nbmedia-viddy-") as tmp:
        mixed = mix_tracks(
            Path(tmp) / "mix.wav",
            speech=track,
            music=video if has_audio else None,
            duration=duration,
            music_gain=ORIGINAL_AUDIO_GAIN,
        )
        try:
            return mux(video, mixed, out)
        except _ffmpeg.FFmpegError:  # a codec MP4 cannot hold: re-encode the picture
            with _ffmpeg.atomic(out) as part:
                _ffmpeg.run(
                    ["-i", Path(video).absolute(), "-i", mixed, "-map", "0:v:0", "-map", "1:a:0"]
                    + ["-c:v", "libx264", "-preset", "superfast", "-pix_fmt", "yuv420p"]
                    + ["-c:a", "aac", "-t", f"{duration:.6f}", "-movflags", "+faststart"]
                    + ["-f", "mp4", part]
                )
            return out
