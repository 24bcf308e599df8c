"""What the sandbox 'sees' in a video: frames sampled small, cuts (ffmpeg's scene score and
sharp colour changes), the container's text tags, and per stretch its light, main colours,
motion and brightness trend. Enough to describe a video plausibly, nothing more."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCENE_THRESHOLD = 0.12
"""ffmpeg scene score for a cut (its default 0.3 misses colour cuts of equal brightness)."""
COLOR_CUT = 0.2
"""Mean absolute change (0..1) between two samples that also counts as a cut."""
SAMPLE_FPS = 4.0
MAX_SAMPLES = 1200
SAMPLE_SIZE = (32, 18)
"""Frames are analysed at this size: colour, light and motion need no detail."""
LIGHT_LEVELS = ((0.22, "dark"), (0.5, "dim"), (math.inf, "bright"))
"""Lightness (mean of luma and HSV value, 0..1) below each bound."""
MOTION_LEVELS = ((0.02, "still"), (0.3, "slow"), (math.inf, "fast"))
"""Mean absolute change per second (0..1) below each bound."""
TREND_DELTA = 0.08
ACHROMATIC_SATURATION = 0.18
SECOND_COLOR_SHARE = 0.2
HUE_NAMES = (
    (15, "red"), (45, "orange"), (70, "yellow"), (165, "green"), (200, "cyan"), (255, "blue"),
    (290, "purple"), (345, "pink"), (361, "red"),
)  # fmt: skip
"""Colour name of a saturated pixel by hue: below each bound (degrees)."""
METADATA_TEXT_KEYS = ("title", "comment", "description", "synopsis")


@dataclass(frozen=True)
class Analysis:
    """What the sandbox 'sees' in a video: enough to describe it plausibly."""

    duration: float
    fps: float
    cuts: tuple[float, ...]
    times: np.ndarray
    frames: np.ndarray
    """(n, h, w, 3) float32 RGB 0..1 at ``SAMPLE_SIZE``."""
    texts: tuple[str, ...]


def analyze(path: Path, info: dict[str, Any]) -> Analysis:
    """Sample frames, find cuts and read text tags (blocking; a few ffmpeg calls)."""
    from ..services.media import _ffmpeg
    from ..services.media.probe import scene_changes

    duration = float(info["duration"])
    fps = float(info["video"]["fps"] or 25.0)
    rate = min(SAMPLE_FPS, MAX_SAMPLES / max(duration, 0.1))
    w, h = SAMPLE_SIZE
    proc = _ffmpeg.run(
        ["-i", Path(path).absolute(), "-an", "-sn", "-dn"]
        + ["-vf", f"fps={rate:.6f},scale={w}:{h}:flags=area", "-f", "rawvideo"]
        + ["-pix_fmt", "rgb24", "pipe:1"]
    )
    n = len(proc.stdout) // (w * h * 3)
    raw = np.frombuffer(proc.stdout[: n * w * h * 3], dtype=np.uint8)
    frames = raw.reshape(n, h, w, 3).astype(np.float32) / 255.0
    times = np.minimum(np.arange(n) / rate, max(duration - 1e-3, 0.0))
    cuts = list(scene_changes(path, SCENE_THRESHOLD))
    if n > 1:  # colour cuts the scene score misses (it weighs brightness)
        jumps = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
        for i in np.nonzero(jumps > COLOR_CUT)[0]:
            t = float(times[i] + times[i + 1]) / 2
            if all(abs(t - c) > 1.0 / rate for c in cuts):
                cuts.append(t)
    return Analysis(duration, fps, tuple(sorted(cuts)), times, frames, _metadata_texts(path))


def _metadata_texts(path: Path) -> tuple[str, ...]:
    """Text tags of the container (title, comment, ...): the on-screen text we can know."""
    from ..services.media import _ffmpeg

    text = _ffmpeg.stderr_text(_ffmpeg.run(["-i", Path(path).absolute()], check=False))
    head = text.split("Input #0", 1)[-1].split("Duration:", 1)[0]
    found: dict[str, str] = {}
    for line in head.splitlines():
        m = re.match(r"^\s{4}(\w+)\s*:\s(.*)$", line)
        if m and m[1].lower() in METADATA_TEXT_KEYS and m[2].strip():
            found.setdefault(m[1].lower(), m[2].strip())
    texts: list[str] = []
    for key in METADATA_TEXT_KEYS:
        if key in found and found[key] not in texts:
            texts.append(found[key])
    return tuple(texts)


@dataclass(frozen=True)
class Look:
    light: str
    colors: tuple[str, ...]
    motion: str
    trend: str | None


def _level(value: float, levels: tuple[tuple[float, str], ...]) -> str:
    return next(name for bound, name in levels if value < bound)


def _color_votes(frames: np.ndarray) -> dict[str, float]:
    """Share of pixels per colour name (hue for saturated pixels, else black/grey/white)."""
    px = frames.reshape(-1, 3)
    mx, mn = px.max(axis=1), px.min(axis=1)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    delta = np.maximum(mx - mn, 1e-6)
    hue = np.where(
        mx == r, ((g - b) / delta) % 6, np.where(mx == g, (b - r) / delta + 2, (r - g) / delta + 4)
    )
    hue = hue * 60.0
    chroma = (sat >= ACHROMATIC_SATURATION) & (mx > 0.15)
    hue_names = np.array([name for _, name in HUE_NAMES])
    by_hue = hue_names[np.searchsorted([bound for bound, _ in HUE_NAMES], hue, side="right")]
    by_value = np.where(mx < 0.2, "black", np.where(mx < 0.8, "grey", "white"))
    names, counts = np.unique(np.where(chroma, by_hue, by_value), return_counts=True)
    votes = {str(n): float(c) / len(px) for n, c in zip(names, counts, strict=True)}
    return votes


def look(an: Analysis, start: float, end: float) -> Look:
    """Light, main colours, motion and brightness trend of the frames in [start, end)."""
    sel = np.nonzero((an.times >= start) & (an.times < end))[0]
    if len(sel) == 0:
        sel = np.array([int(np.argmin(np.abs(an.times - (start + end) / 2)))])
    frames = an.frames[sel]
    luma = (frames @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).mean(axis=(1, 2))
    value = frames.max(axis=3).mean(axis=(1, 2))
    lightness = (luma + value) / 2  # a saturated red reads as bright, not dim
    middle = frames[len(frames) // 2 :: max(1, len(frames) // 3)][:3]
    votes = sorted(_color_votes(middle).items(), key=lambda kv: -kv[1])
    colors = tuple(
        n for i, (n, share) in enumerate(votes[:2]) if i == 0 or share >= SECOND_COLOR_SHARE
    )
    if len(frames) > 1:
        dt = float(an.times[sel[-1]] - an.times[sel[0]]) / (len(frames) - 1) or 1.0
        change = float(np.abs(np.diff(frames, axis=0)).mean()) / dt
    else:
        change = 0.0
    third = max(1, len(luma) // 3)
    delta = float(lightness[-third:].mean() - lightness[:third].mean())
    trend = "brighter" if delta > TREND_DELTA else "darker" if delta < -TREND_DELTA else None
    return Look(
        _level(float(lightness.mean()), LIGHT_LEVELS), colors, _level(change, MOTION_LEVELS), trend
    )
