"""The face drawn on every output frame: a disc in the lower middle whose dark elliptic mouth
opens with the loudness of that frame's audio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

PREVIEW_MAX_SIDE = 640
MOUTH_LEVELS = 32
"""Distinct mouth openings drawn (the opening is quantised to these)."""
SKIN = (232, 190, 160)
MOUTH = (60, 12, 18)
EYES = (40, 30, 30)
EMOTION_SKIN = {
    "happy": (245, 205, 140),
    "sad": (185, 190, 215),
    "angry": (235, 150, 135),
    "disgusted": (190, 205, 150),
    "surprised": (245, 215, 200),
    "neutral": SKIN,
}
"""react-1's emotion ``prompt`` tints the face."""


def even(x: float) -> int:
    """The nearest even number of at least 2 (H.264 in yuv420p wants even sizes)."""
    return max(2, 2 * round(x / 2))


def preview_size(width: int, height: int) -> tuple[int, int]:
    """The output size: the input's, scaled to fit ``PREVIEW_MAX_SIDE``."""
    scale = min(1.0, PREVIEW_MAX_SIDE / max(width, height))
    return even(width * scale), even(height * scale)


@dataclass(frozen=True)
class Face:
    """Where the face disc and its mouth box sit in a ``width`` x ``height`` frame."""

    width: int
    height: int

    @property
    def diameter(self) -> int:
        return max(16, even(0.44 * self.height))

    @property
    def center(self) -> tuple[int, int]:
        return self.width // 2, round(0.6 * self.height)

    @property
    def disc_origin(self) -> tuple[int, int]:
        cx, cy = self.center
        return even(cx - self.diameter / 2), even(cy - self.diameter / 2)

    @property
    def mouth_size(self) -> tuple[int, int]:
        return max(8, even(0.5 * self.diameter)), max(6, even(0.36 * self.diameter))

    @property
    def mouth_origin(self) -> tuple[int, int]:
        cx, cy = self.center
        mw, mh = self.mouth_size
        return even(cx - mw / 2), even(cy + 0.2 * self.diameter - mh / 2)


def mouth_sprites(face: Face, temperature: float, skin: tuple[int, int, int]) -> np.ndarray:
    """(levels, h, w, 3) uint8: the mouth box with an ellipse from closed to fully open."""
    mw, mh = face.mouth_size
    y, x = np.mgrid[0:mh, 0:mw].astype(np.float32)
    cx, cy = (mw - 1) / 2, (mh - 1) / 2
    a = 0.45 * mw
    b_min = 1.0
    b_max = max(b_min + 1, (mh / 2) * (0.35 + 0.6 * temperature))
    out = np.empty((MOUTH_LEVELS, mh, mw, 3), dtype=np.uint8)
    for level in range(MOUTH_LEVELS):
        b = b_min + (b_max - b_min) * level / (MOUTH_LEVELS - 1)
        inside = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0
        out[level] = skin
        out[level][inside] = MOUTH
    return out


def face_image(face: Face, skin: tuple[int, int, int]) -> Any:
    """The static face disc (RGBA), eyes included; the mouth is drawn per frame on top."""
    from PIL import Image, ImageDraw

    d = face.diameter
    img = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((0, 0, d - 1, d - 1), fill=(*skin, 255))
    r = max(1, round(d * 0.06))
    for ex in (0.32 * d, 0.68 * d):
        ey = 0.36 * d
        draw.ellipse((ex - r, ey - r, ex + r, ey + r), fill=(*EYES, 255))
    return img
