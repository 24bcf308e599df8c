"""A media: an uploaded video (direct, by URL or through a signed upload) and what the
sandbox learnt of it (probe, analysis, digest)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..services.clock import Lifecycle
from .analysis import Analysis
from .contract import FILENAME_MAX, UPLOAD_PENDING, UPLOAD_STATUS


@dataclass
class Media:
    id: str
    team: str
    filename: str
    content_type: str
    path: Path
    signed: bool
    gcs_path: str
    created: float
    size: int = 0
    info: dict[str, Any] | None = None
    canonical_id: str | None = None
    """Signed uploads: the id issued once verification completes (always a new one)."""
    put_content_type: str | None = None
    upload_expires: float = 0.0
    verification: Lifecycle | None = None
    analysis: Analysis | None = None
    digest: str | None = None
    """SHA-256 of the file, once a job needs it (the render cache's key)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def public_id(self) -> str:
        return self.canonical_id or self.id

    @property
    def upload_status(self) -> str:
        if not self.signed:
            return "completed"
        if self.verification is None:
            return UPLOAD_PENDING
        return UPLOAD_STATUS[self.verification.snapshot().stage]


def safe_filename(name: str) -> str:
    """The last path part, with only letters, digits, dots, dashes and underscores."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1]).strip("._") or "video"
    return base[:FILENAME_MAX]
