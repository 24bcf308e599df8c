"""Descriptions from an ``Analysis``: segments tiling the video, cut at its scenes and split
into short pieces, each saying what its frames show in the config's language."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .analysis import Analysis, look
from .catalog import LANGUAGES
from .wording import CATEGORY_OPENINGS, FALLBACK_NOTE, FALLBACK_WORDING, WORDINGS, Wording

MAX_SEGMENT_SECONDS = {"standard_ad": 8.0, "extended_ad": 4.0}
MIN_SCENE_SECONDS = 0.5
"""Cuts closer than this to each other or to either end are merged."""
ONSCREEN_SEGMENT_SECONDS = 2.0


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


def wording_for(language: str) -> tuple[Wording, str | None]:
    """The templates for ``language`` and, when they are English stand-ins, a note saying so."""
    primary = language.split("-")[0].lower()
    if primary in WORDINGS:
        return WORDINGS[primary], None
    return WORDINGS[FALLBACK_WORDING], FALLBACK_NOTE.format(name=LANGUAGES[language])


def _pieces(an: Analysis, max_len: float) -> list[tuple[float, float, bool]]:
    """(start, end, starts at a cut) tiling [0, duration]: scenes split into short pieces."""
    bounds = [0.0]
    for c in an.cuts:
        if c - bounds[-1] >= MIN_SCENE_SECONDS and an.duration - c >= MIN_SCENE_SECONDS:
            bounds.append(c)
    bounds.append(an.duration)
    out: list[tuple[float, float, bool]] = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        n = max(1, math.ceil((b - a) / max_len - 1e-9))
        for k in range(n):
            out.append((a + (b - a) * k / n, a + (b - a) * (k + 1) / n, i > 0 and k == 0))
    return out


def describe(an: Analysis, config: dict[str, Any]) -> tuple[list[Segment], str | None]:
    """The segments of one generation config, and a note if the wording fell back."""
    words, note = wording_for(config["language"])
    extended = config["ad_type"] == "extended_ad"
    pieces = _pieces(an, MAX_SEGMENT_SECONDS[config["ad_type"]])
    segments: list[Segment] = []
    texts = list(an.texts)
    if extended and config["read_all_onscreen_text"] and texts:
        first_end = pieces[0][1]
        span = min(ONSCREEN_SEGMENT_SECONDS, first_end / (len(texts) + 1))
        for i, text in enumerate(texts):
            segments.append(Segment(i * span, (i + 1) * span, words.onscreen.format(text=text)))
        pieces[0] = (len(texts) * span, first_end, False)
        texts = []
    for i, (start, end, at_cut) in enumerate(pieces):
        seen = look(an, start, end)
        colors = words.joiner.join(words.colors[c] for c in seen.colors)
        template = words.cut if at_cut else words.scene
        sentences = [template.format(light=words.light[seen.light], colors=colors)]
        if extended or seen.motion == "fast":
            sentences.append(words.motion[seen.motion])
        if extended and seen.trend:
            sentences.append(words.trend[seen.trend])
        if i == 0 and texts:
            sentences.append(words.title.format(text=texts[0]))
        if extended and i == 0:
            opening = words.opening
            if words is WORDINGS["en"]:
                opening = CATEGORY_OPENINGS.get(config["video_category"], opening)
            sentences.insert(0, opening)
        if extended and i == len(pieces) - 1:
            sentences.append(words.ending)
        segments.append(Segment(start, end, " ".join(sentences)))
    return segments, note
