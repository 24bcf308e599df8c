"""Writing, joining, mixing and muxing audio: wave for WAV, the wheel's ffmpeg for the rest."""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import _ffmpeg
from .probe import probe

FORMATS = ("wav", "mp3", "flac")
# Encoder settings chosen for speed: LAME's -q 7 and ffmpeg's "fast" AAC coder encode about
# twice as fast as the defaults at the same bitrate; previews do not need the last decibel.
MP3 = ["-c:a", "libmp3lame", "-b:a", "128k", "-compression_level", "7"]
AAC = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "128k"]


def to_int16(samples: np.ndarray) -> np.ndarray:
    """int16 as-is; float taken as -1..1 (clipped). Shape kept: (n,) or (n, channels)."""
    a = np.asarray(samples)
    if a.dtype == np.int16:
        return a
    if np.issubdtype(a.dtype, np.floating):
        return (np.clip(a, -1.0, 1.0) * 32767.0).round().astype(np.int16)
    if np.issubdtype(a.dtype, np.integer):
        return np.clip(a, -32768, 32767).astype(np.int16)
    raise TypeError(f"samples must be int16 or float, got {a.dtype}")


def write_audio(path: Path, samples: np.ndarray, rate: int, fmt: str) -> Path:
    """Write mono (n,) or multi-channel (n, ch) samples as wav, mp3 (libmp3lame 128k) or flac."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    pcm = to_int16(samples)
    channels = 1 if pcm.ndim == 1 else pcm.shape[1]
    if pcm.ndim > 2 or channels < 1:
        raise ValueError(f"samples must be (n,) or (n, channels), got shape {pcm.shape}")
    if len(pcm) == 0 and fmt == "mp3":  # an MP3 with no frames is not a readable file
        n = max(1, round(0.01 * rate))
        pcm = np.zeros((n, channels) if pcm.ndim == 2 else n, dtype=np.int16)
    raw = np.ascontiguousarray(pcm).astype("<i2", copy=False).tobytes()
    with _ffmpeg.atomic(path) as part:
        if fmt == "wav":
            with wave.open(str(part), "wb") as w:
                w.setnchannels(channels)
                w.setsampwidth(2)
                w.setframerate(int(rate))
                w.writeframes(raw)
        else:
            codec = MP3 if fmt == "mp3" else ["-c:a", "flac"]
            _ffmpeg.run(
                ["-f", "s16le", "-ar", str(int(rate)), "-ac", str(channels), "-i", "pipe:0"]
                + [*codec, "-f", fmt, part],
                stdin=raw,
            )
    return Path(path)


def resample(samples: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Linear-interpolation resampling: plenty for speech joined at a common rate."""
    if rate == new_rate or len(samples) == 0:
        return samples
    n = max(1, round(len(samples) * new_rate / rate))
    x = np.arange(n) * (rate / new_rate)
    src = samples.astype(np.float32)
    if src.ndim == 1:
        return np.interp(x, np.arange(len(src)), src).astype(samples.dtype)
    cols = [np.interp(x, np.arange(len(src)), src[:, c]) for c in range(src.shape[1])]
    return np.stack(cols, axis=1).astype(samples.dtype)


def concat_speech(
    parts: Sequence[tuple[np.ndarray, int]], gap_s: float = 0.3
) -> tuple[np.ndarray, int]:
    """Join mono utterances (e.g. one per line of a script) with `gap_s` of silence between,
    at the first part's rate; int16 out."""
    if not parts:
        return np.zeros(0, dtype=np.int16), 22050
    rate = int(parts[0][1])
    gap = np.zeros(max(0, round(gap_s * rate)), dtype=np.int16)
    pieces: list[np.ndarray] = []
    for i, (samples, r) in enumerate(parts):
        mono = to_int16(samples)
        if mono.ndim == 2:
            mono = mono.mean(axis=1).astype(np.int16)
        if i:
            pieces.append(gap)
        pieces.append(resample(mono, int(r), rate))
    return np.concatenate(pieces).astype(np.int16, copy=False), rate


_CODECS = {
    ".wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    ".m4a": [*AAC, "-movflags", "+faststart", "-f", "mp4"],
    ".aac": [*AAC, "-f", "adts"],
    ".mp3": [*MP3, "-f", "mp3"],
    ".flac": ["-c:a", "flac", "-f", "flac"],
}


def mix_tracks(
    path: Path,
    *,
    speech: Path | None,
    music: Path | None,
    duration: float,
    music_gain: float = 0.3,
) -> Path:
    """One stereo 44.1 kHz track of exactly `duration` s: speech on top, music looped under it
    at `music_gain`; either may be None (both None gives silence). The codec follows the
    suffix (.wav, .m4a, .aac, .mp3, .flac; anything else is WAV)."""
    if not duration > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration!r}")
    fmt = "aformat=sample_fmts=fltp:sample_rates=44100:channel_layouts=stereo"
    args: list[str | Path] = []
    chains: list[str] = []
    streams: list[str] = []
    if speech is not None:
        args += ["-i", Path(speech).absolute()]
        chains.append(f"[{len(streams)}:a:0]aresample=44100,{fmt},apad[s]")
        streams.append("[s]")
    if music is not None:  # looped so a short jingle still fills the whole duration
        args += ["-stream_loop", "-1", "-i", Path(music).absolute()]
        chains.append(f"[{len(streams)}:a:0]aresample=44100,{fmt},volume={music_gain:.4f}[m]")
        streams.append("[m]")
    if not streams:
        args += ["-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo"]
        chains.append(f"[0:a]{fmt}[z]")
        streams.append("[z]")
    mix = (
        f"amix=inputs={len(streams)}:duration=longest:normalize=0" if len(streams) > 1 else "anull"
    )
    chains.append(f"{''.join(streams)}{mix},atrim=end={duration:.6f}[out]")
    codec = _CODECS.get(Path(path).suffix.lower(), _CODECS[".wav"])
    with _ffmpeg.atomic(path) as part:
        _ffmpeg.run(
            [*args, "-filter_complex", ";".join(chains)]
            + ["-map", "[out]", "-t", f"{duration:.6f}", *codec, part]
        )
    return Path(path)


def mux(video: Path, audio: Path, out: Path) -> Path:
    """`video`'s picture (copied, not re-encoded) with `audio` as AAC, padded or trimmed to the
    video's length."""
    info = probe(video)
    if info["video"] is None:
        raise ValueError(f"{video} has no video stream")
    duration = info["duration"]
    with _ffmpeg.atomic(out) as part:
        _ffmpeg.run(
            ["-i", Path(video).absolute(), "-i", Path(audio).absolute()]
            + ["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy"]
            + ["-af", f"aresample=44100,apad=whole_dur={duration:.6f}"]
            + [*AAC, "-t", f"{duration:.6f}", "-movflags", "+faststart", "-f", "mp4", part]
        )
    return Path(out)
