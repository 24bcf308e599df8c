"""nbmedia: AI media generation that feels native in Jupyter.

import nbmedia as nm
studio = nm.Studio()            # keys from the environment; no key → the embedded sandbox
job = studio.generate("Neon rain on Tokyo streets", duration=15)
job                             # live progress, then the video inline
"""

from __future__ import annotations

from .errors import (
    AuthError,
    DownloadError,
    JobFailed,
    JobTimeout,
    JobUnconfirmed,
    MalformedResponse,
    NbmediaError,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
    TransportError,
    UnknownStatus,
    ValidationError,
    WebhookError,
)
from .http import Secret
from .models import Job, JobStatus, Output
from .studio import AsyncStudio, Studio

__version__ = "0.1.0"

__all__ = [
    "AsyncStudio",
    "AuthError",
    "DownloadError",
    "Job",
    "JobFailed",
    "JobStatus",
    "JobTimeout",
    "JobUnconfirmed",
    "MalformedResponse",
    "NbmediaError",
    "NotFound",
    "Output",
    "PermissionDenied",
    "ProviderError",
    "RateLimited",
    "Secret",
    "Studio",
    "TransportError",
    "UnknownStatus",
    "ValidationError",
    "WebhookError",
]


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext nbmedia` registers the `%%nbmedia` cell magic and `%nbmedia jobs`."""
    from .magic import load

    load(ipython)
