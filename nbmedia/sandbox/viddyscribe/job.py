"""A generation job: which media and config, its lifecycle on the clock, and what it made."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..services.clock import Lifecycle
from .media import Media


@dataclass
class Job:
    id: str
    team: str
    kind: str
    media: Media
    config: dict[str, Any]
    created: float
    lifecycle: Lifecycle
    output: dict[str, Any] | None = None
    audio_name: str | None = None
    video_name: str | None = None
    filename: str | None = None
    """``input.filename``: the name the outputs give the video (else the upload's)."""

    @property
    def title(self) -> str:
        return self.filename or self.media.filename


def iso(epoch: float) -> str:
    """ISO-8601 UTC in whole seconds with ``Z`` (the kit's ``iso_ms``/``iso_us`` carry fractions,
    which ViddyScribe's timestamps do not)."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "task_" + "".join(secrets.choice(alphabet) for _ in range(12))
