"""A create (or estimate) body once validated: its input items and what the media will need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import GenerationFailure


@dataclass
class Item:
    """One input: the video, a recorded audio, or a text-to-speech script."""

    index: int
    type: str
    url: str | None = None
    asset_id: str | None = None
    """The library asset the input names instead of a URL (``url`` is filled from it)."""
    ref_id: str | None = None
    voice_id: str | None = None
    script: str | None = None
    path: Path | None = None
    seconds: float = 0.0


@dataclass
class Spec:
    """A create (or estimate) body that passed validation."""

    model: str
    items: list[Item]
    input: list[Any]
    options: dict[str, Any]
    segments: list[dict[str, Any]] | None
    webhook_url: str | None
    output_file_name: str | None
    deferred: GenerationFailure | None = None
    """A documented generation error decidable from the body: the generation will fail."""

    @property
    def video(self) -> Item | None:
        return next((i for i in self.items if i.type == "video"), None)

    @property
    def audio(self) -> list[Item]:
        return [i for i in self.items if i.type != "video"]
