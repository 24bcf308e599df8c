"""One MercaDream job as the sandbox keeps it."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from ..services.clock import Lifecycle, Stage


@dataclass
class Job:
    id: str
    key: str
    kind: str
    fields: dict[str, Any]
    created_ms: int
    webhook_url: str | None
    compute_units: int
    asset_id: str
    lifecycle: Lifecycle = field(init=False)
    stage_ms: dict[Stage, int] = field(default_factory=dict)
    file_name: str | None = None
    thumbnail_name: str | None = None
    file_size: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    """Fields known only once rendered (e.g. the ``bpm`` music was composed at)."""


def new_id(prefix: str) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(16))
