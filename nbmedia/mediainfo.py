"""Moved to `nbmedia.providers.mediainfo` (providers may import only http, models, errors,
validation and constants). This name stays for the notebooks that import `duration` from it."""

from __future__ import annotations

from .providers.mediainfo import duration

__all__ = ["duration"]
