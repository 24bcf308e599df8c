"""The output's soundtrack: each audio input decoded (or its script spoken), fitted to the
output or laid on its segments, and the loudness per frame that opens the mouth."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .spec import Item, Spec

RATE = 44_100
"""Sample rate of the soundtrack the output is made from."""
MOUTH_MIN_REF = 0.02
"""Loudness (RMS) that opens the mouth fully is the clip's 95th percentile, at least this."""


def voice_spec(voice_id: str) -> str:
    """The eSpeak NG voice a ``voiceId`` speaks with (used by the voice picker's samples)."""
    from ..services.media.speech import voice_for

    return voice_for(voice_id)


def samples(item: Item) -> np.ndarray:
    """Mono float32 at ``RATE``: the decoded audio, or the script spoken in its voice."""
    from ..services.media.audio import resample
    from ..services.media.probe import decode_audio

    if item.script is not None:
        from ..services.media.speech import synthesize

        assert item.voice_id is not None
        pcm, rate = synthesize(item.script, voice=voice_spec(item.voice_id))
        return resample(pcm.astype(np.float32) / 32768.0, rate, RATE)
    assert item.path is not None
    return decode_audio(item.path, RATE)[0]


def _fit(sound: np.ndarray, n: int) -> np.ndarray:
    """Exactly ``n`` samples: cut, or padded with silence."""
    if len(sound) >= n:
        return sound[:n]
    return np.concatenate([sound, np.zeros(n - len(sound), dtype=np.float32)])


def soundtrack(spec: Spec, sounds: dict[int, np.ndarray], n_samples: int) -> np.ndarray:
    """The output's audio: the first input fitted to the output, or each segment's audio."""
    if not spec.segments:
        return _fit(sounds[spec.audio[0].index], n_samples)
    by_ref = {i.ref_id: i.index for i in spec.audio if i.ref_id}
    track = np.zeros(n_samples, dtype=np.float32)
    for seg in spec.segments:
        crop = seg["audioInput"]
        audio = sounds[by_ref[crop["refId"]]]
        if crop.get("startTime") is not None:
            audio = audio[round(crop["startTime"] * RATE) : round(crop["endTime"] * RATE)]
        start = min(n_samples, round(seg["startTime"] * RATE))
        end = min(n_samples, round(seg["endTime"] * RATE))
        track[start:end] = _fit(audio, end - start)
    return track


def mouth_openings(track: np.ndarray, frames: int, fps: Fraction) -> np.ndarray:
    """0..1 per frame: the RMS of the frame's audio window over the clip's loud level."""
    bounds = np.round(np.arange(frames + 1) * (RATE / float(fps))).astype(np.int64)
    bounds = np.clip(bounds, 0, len(track))
    energy = np.concatenate([[0.0], np.cumsum(track.astype(np.float64) ** 2)])
    counts = np.maximum(np.diff(bounds), 1)
    rms = np.sqrt((energy[bounds[1:]] - energy[bounds[:-1]]) / counts)
    ref = max(float(np.percentile(rms, 95)) if len(rms) else 0.0, MOUTH_MIN_REF)
    return np.clip(rms / ref, 0.0, 1.0)
