"""Small helpers every fake API wants in its own wording of JSON and times."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def is_int(value: Any) -> bool:
    """A JSON integer: ``True`` and ``30.0`` are not."""
    return isinstance(value, int) and not isinstance(value, bool)


def iso_ms(ms: int | float) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds and ``Z``."""
    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_us(epoch: float) -> str:
    """Epoch seconds as ISO-8601 with microseconds and ``+00:00``."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="microseconds")


def parse_iso(raw: str) -> datetime | None:
    """An ISO-8601 time (``Z`` or ``z`` allowed; naive means UTC), or None if it is not one."""
    try:
        moment = datetime.fromisoformat(raw.strip().replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def shown(value: Any, limit: int = 60) -> str:
    """A value as JSON for an error message, cut short past `limit` characters."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
