"""Still layers drawn once with Pillow and composited by ffmpeg on every frame.

Drawing per frame in Python is what makes naive renderers slow; a caption, a few soft shapes and
a palette are all the sandbox needs, so they are drawn here a single time per render.
"""

from __future__ import annotations

import colorsys
import functools
import random
import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Pillow's built-in scalable font (Aileron); needs no system fonts.
FontT = ImageFont.FreeTypeFont
# Cached FreeType faces are shared; the sandbox renders from several threads.
_draw_lock = threading.Lock()


@functools.lru_cache(maxsize=32)
def font(size: int) -> FontT:
    loaded = ImageFont.load_default(size=size)
    if not isinstance(loaded, ImageFont.FreeTypeFont):  # Pillow built without FreeType
        raise RuntimeError("Pillow lacks FreeType; ImageFont.load_default(size=...) is bitmap-only")
    return loaded


def write_font_file(directory: Path) -> Path:
    """The same font as a .ttf file, for ffmpeg's drawtext (the running timecode)."""
    path = directory / "font.ttf"
    path.write_bytes(font(16).font_bytes)
    return path


def wrap(text: str, fnt: FontT, max_width: float) -> list[str]:
    """Greedy word wrap by measured width; words longer than a line are split."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            while fnt.getlength(word) > max_width and len(word) > 1:
                cut = len(word)
                while cut > 1 and fnt.getlength(word[:cut]) > max_width:
                    cut -= 1
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cut])
                word = word[cut:]
            candidate = f"{line} {word}" if line else word
            if fnt.getlength(candidate) <= max_width:
                line = candidate
            else:
                lines.append(line)
                line = word
        if line:
            lines.append(line)
    return lines


def caption(
    text: str, width: int, height: int, *, max_lines: int = 5, scale: float = 1 / 13
) -> Image.Image | None:
    """White text on a translucent dark box, sized to the frame; None for empty text.

    The font shrinks (down to a legible minimum) before lines are dropped, and a cut is marked
    with an ellipsis so nobody mistakes a truncated prompt for the whole one.
    """
    with _draw_lock:
        return _caption(text, width, height, max_lines, scale)


def _caption(
    text: str, width: int, height: int, max_lines: int, scale: float
) -> Image.Image | None:
    text = drawable(text)
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if not text:
        return None
    max_w = width * 0.86
    short = min(width, height)
    size = max(12, round(short * scale))
    min_size = max(10, round(short / 28))
    while True:
        fnt = font(size)
        lines = wrap(text, fnt, max_w)
        if len(lines) <= max_lines or size <= min_size:
            break
        size -= 2
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and fnt.getlength(last + " …") > max_w:
            last = last[:-1]
        lines[-1] = last.rstrip() + " …"
    ascent, descent = fnt.getmetrics()
    line_h = ascent + descent + max(2, size // 6)
    text_w = max(fnt.getlength(line) for line in lines)
    pad = max(6, size // 2)
    box_w = int(text_w + 2 * pad)
    box_h = int(line_h * len(lines) - max(2, size // 6) + 2 * pad)
    img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=pad, fill=(0, 0, 0, 150))
    stroke = max(1, size // 16)
    for i, line in enumerate(lines):
        x = (box_w - fnt.getlength(line)) / 2
        draw.text(
            (x, pad + i * line_h),
            line,
            font=fnt,
            fill=(255, 255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255),
        )
    return img


def disc(diameter: int, rgb: tuple[int, int, int], opacity: float = 0.45) -> Image.Image:
    """A soft-edged translucent disc: a shape that reads as motion when it drifts."""
    r = np.linspace(-1.0, 1.0, diameter, dtype=np.float32)
    dist = np.sqrt(r[None, :] ** 2 + r[:, None] ** 2)
    alpha = np.clip((1.0 - dist) * 4.0, 0.0, 1.0) * (255 * opacity)
    rgba = np.empty((diameter, diameter, 4), dtype=np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = alpha.astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def palette(seed: int, n: int = 3) -> list[tuple[int, int, int]]:
    """Darkish, related colours (white text stays legible on all of them), fixed by seed."""
    rnd = random.Random(seed)
    hue = rnd.random()
    out = []
    for i in range(n):
        h = (hue + i * rnd.uniform(0.08, 0.3)) % 1.0
        s = rnd.uniform(0.45, 0.8)
        v = rnd.uniform(0.25, 0.6)
        out.append(tuple(round(c * 255) for c in colorsys.hsv_to_rgb(h, s, v)))
    return out  # type: ignore[return-value]


def bright(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    return tuple(round(c * 255) for c in colorsys.hsv_to_rgb(h, s * 0.7, min(1.0, v + 0.45)))  # type: ignore[return-value]


def hex_color(rgb: tuple[int, int, int]) -> str:
    return "0x{:02x}{:02x}{:02x}".format(*rgb)


def cover(image: Path, width: int, height: int) -> Image.Image:
    """Scale and centre-crop `image` to exactly width x height (RGB), honouring EXIF rotation."""
    from PIL import ImageOps

    with Image.open(image) as src:
        img = ImageOps.exif_transpose(src).convert("RGB")
    return ImageOps.fit(img, (width, height), Image.Resampling.BILINEAR)


# Pillow's embedded font is a subset (no accented letters, no dashes): map what it lacks to
# the nearest it has, so "Café — Paris" is drawn as "Cafe - Paris" and not as boxes.
_FALLBACK = {
    "\u2014": "-", "\u2013": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-",
    "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE",
    "\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u0111": "d", "\u0110": "D",
    "\u00fe": "th", "\u00de": "Th", "\u00f0": "d", "\u00d0": "D", "\u0131": "i",
    "\u20ac": "EUR", "\u00a3": "GBP", "\u00a5": "JPY", "\u00d7": "x", "\u00f7": "/",
    "\u2022": "\u00b7", "\u00bf": "", "\u00a1": "", "\u2032": "'", "\u2033": '"',
    "\u00a0": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u2002": " ", "\u2003": " ",
}  # fmt: skip


@functools.cache
def _supported() -> frozenset[str]:
    """Characters the embedded font really draws (others come out as the same empty box)."""
    fnt = font(12)

    def shape(ch: str) -> bytes:
        img = Image.new("L", (24, 20))
        ImageDraw.Draw(img).text((2, 0), ch, font=fnt, fill=255)
        return img.tobytes()

    tofu = shape("\U0010fffd")
    candidates = [chr(c) for c in range(0x20, 0x250)] + [chr(c) for c in range(0x2000, 0x2070)]
    return frozenset(ch for ch in candidates if ch == " " or shape(ch) != tofu)


def drawable(text: str) -> str:
    """`text` with every character the font lacks replaced by its nearest drawable form."""
    import unicodedata

    ok = _supported()
    out = []
    for ch in text:
        if ch in ok or ch == "\n":
            out.append(ch)
        elif ch in _FALLBACK:
            out.append(_FALLBACK[ch])
        elif ch.isspace():
            out.append(" ")
        else:  # accents: 'é' -> 'e'; anything else (CJK, emoji) is left out
            out.append("".join(c for c in unicodedata.normalize("NFKD", ch) if c in ok))
    return "".join(out)
