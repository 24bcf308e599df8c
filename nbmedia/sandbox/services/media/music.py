"""A small numpy synthesiser: real, listenable music with a measurable beat, in milliseconds.

The prompt (seed string) picks key, mode, progression and tempo deterministically, so the same
request gives the same track, and the kick on every beat lets tests recover the bpm.
"""

from __future__ import annotations

import hashlib

import numpy as np

RATE = 44100

# Mood words (substrings of the lower-cased prompt).
_MINOR_WORDS = (
    "sad dark rain night melanch lofi lo-fi ambient noir moody cinematic tense horror mystery "
    "storm cold lonely"
)
_MAJOR_WORDS = "happy upbeat bright sunny joy summer pop dance cheer uplifting warm"
_SLOW_WORDS = "calm chill lofi lo-fi ambient relax sleep slow rain meditat soft"
_FAST_WORDS = "energetic dance upbeat edm fast drum techno workout action rock"


def _mentions(text: str, words: str) -> bool:
    return any(w in text for w in words.split())


_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Progressions as scale degrees (0-based), one chord per bar.
_MAJOR_PROGS = ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3))
_MINOR_PROGS = ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 5, 3, 4))


def _hash(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")


def _tempo(seed: str, h: int) -> int:
    text = seed.lower()
    if _mentions(text, _FAST_WORDS):
        return 115 + h % 26
    if _mentions(text, _SLOW_WORDS):
        return 70 + h % 26
    return 70 + h % 71


def compose(
    *, duration: float, bpm: int | None = None, seed: str = ""
) -> tuple[np.ndarray, int, int]:
    """Stereo float32 (n, 2) in -1..1 at 44100 Hz, n = round(duration * 44100), and the bpm.

    Pads on a four-bar chord progression, an arpeggio, a bass note and a kick on every beat,
    a light snare on 2 and 4; minor or major from the mood words of `seed`.
    """
    if not duration > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration!r}")
    h = _hash(seed)
    bpm = int(bpm) if bpm is not None else _tempo(seed, h)
    if not 20 <= bpm <= 300:
        raise ValueError(f"bpm must be in 20..300, got {bpm}")
    text = seed.lower()
    if _mentions(text, _MINOR_WORDS):
        minor = True
    elif _mentions(text, _MAJOR_WORDS):
        minor = False
    else:
        minor = bool(h >> 8 & 1)
    scale = _MINOR if minor else _MAJOR
    prog = (_MINOR_PROGS if minor else _MAJOR_PROGS)[(h >> 16) % 4]
    root_midi = 45 + (h >> 24) % 12  # A2..G#3: the key

    n = max(1, round(duration * RATE))
    out = np.zeros((n, 2), dtype=np.float32)
    beat = 60.0 / bpm
    rng = np.random.default_rng(h % 2**32)
    kick = _kick()
    snare = _snare(rng)
    hat = _hat(rng)
    n_beats = int(np.ceil(duration / beat)) + 1
    for b in range(n_beats):
        start = round(b * beat * RATE)
        if start >= n:
            break
        _add(out, start, kick, (0.9, 0.9))
        if b % 4 in (1, 3):
            _add(out, start, snare, (0.22, 0.26))
        _add(out, start + round(beat * RATE / 2), hat, (0.05, 0.07))
        degree = prog[(b // 4) % len(prog)]
        bass_note = root_midi - 12 + scale[degree]
        bass_len = round(beat * RATE * 0.9)
        _add(out, start, _bass(_hz(bass_note), bass_len), (0.32, 0.32))
        chord = [root_midi + 12 + _chord_tone(scale, degree, k) for k in range(3)]
        for half in range(2):  # arpeggio on eighths, soft attack so the beat stays the kick's
            note = chord[(2 * b + half) % 3] + 12
            pan = (0.06, 0.03) if half else (0.03, 0.06)
            _add(out, start + round(half * beat * RATE / 2), _pluck(_hz(note), beat / 2), pan)
        if b % 4 == 0:
            bar_len = round(4 * beat * RATE)
            for k, note in enumerate(chord):
                _add(out, start, _pad(_hz(note), bar_len, detune=1 + 0.002 * (k - 1)), (0.06, 0.06))

    out = np.tanh(out * 1.2)
    peak = float(np.max(np.abs(out))) or 1.0
    out *= 0.89 / peak
    fade_in, fade_out = min(n, round(0.02 * RATE)), min(n, round(min(1.5, duration / 8) * RATE))
    out[:fade_in] *= np.linspace(0, 1, fade_in, dtype=np.float32)[:, None]
    out[n - fade_out :] *= np.linspace(1, 0, fade_out, dtype=np.float32)[:, None]
    return out.astype(np.float32, copy=False), RATE, bpm


def _hz(midi: int) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _chord_tone(scale: tuple[int, ...], degree: int, k: int) -> int:
    """Semitones above the key root of the k-th note (root, third, fifth) of a diatonic triad."""
    step = degree + 2 * k
    return scale[step % 7] + 12 * (step // 7)


def _add(out: np.ndarray, start: int, sound: np.ndarray, gains: tuple[float, float]) -> None:
    end = min(len(out), start + len(sound))
    if end > start:
        seg = sound[: end - start]
        out[start:end, 0] += gains[0] * seg
        out[start:end, 1] += gains[1] * seg


def _t(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32) / RATE


def _kick() -> np.ndarray:
    t = _t(round(0.3 * RATE))
    freq = 45 + 110 * np.exp(-t * 35)
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    return (np.sin(phase) * np.exp(-t * 11)).astype(np.float32)


def _snare(rng: np.random.Generator) -> np.ndarray:
    t = _t(round(0.18 * RATE))
    noise = rng.standard_normal(len(t)).astype(np.float32)
    noise = np.diff(noise, prepend=0.0)  # crude high-pass
    body = np.sin(2 * np.pi * 190 * t)
    return ((0.5 * noise + 0.6 * body) * np.exp(-t * 25)).astype(np.float32)


def _hat(rng: np.random.Generator) -> np.ndarray:
    t = _t(round(0.05 * RATE))
    noise = np.diff(rng.standard_normal(len(t) + 1)).astype(np.float32)
    return (noise * np.exp(-t * 90)).astype(np.float32)


def _bass(freq: float, n: int) -> np.ndarray:
    t = _t(n)
    wave = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(2 * np.pi * 2 * freq * t)
    env = np.minimum(1.0, t / 0.01) * np.exp(-t * 3.0)
    return (wave * env).astype(np.float32)


def _pluck(freq: float, length_s: float) -> np.ndarray:
    t = _t(round(length_s * RATE))
    wave = np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(2 * np.pi * 3 * freq * t)
    env = np.minimum(1.0, t / 0.03) * np.exp(-t * 6.0)
    return (wave * env).astype(np.float32)


def _pad(freq: float, n: int, detune: float) -> np.ndarray:
    t = _t(n)
    f = freq * detune
    wave = (
        np.sin(2 * np.pi * f * t)
        + 0.45 * np.sin(2 * np.pi * 2 * f * t)
        + 0.2 * np.sin(2 * np.pi * 3 * f * t)
    )
    attack, release = 0.25, 0.4
    env = np.minimum(1.0, t / attack) * np.clip((t[-1] - t) / release, 0.0, 1.0)
    return (wave * env).astype(np.float32)
