"""ViddyScribe's facts as tables: keys, plans, limits, statuses, timings and error codes, so
that a correction to our reading is one line. What a ``generation_config`` may say is in
``catalog``; the description wording in ``wording``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..kit.bodies import MiB
from ..kit.errors import default_codes
from ..services.clock import Stage, Timing

NAME = "viddyscribe"
WEBHOOK_SECRET = ""
"""ViddyScribe documents no webhooks; the server asks every provider for a secret."""

API = "/enterprise/api"
AUTH_HEADER = "X-API-Key"

# ------------------------------------------------------------------------------- keys, plans

KEY = re.compile(r"^vsk_[A-Za-z0-9_-]{1,200}$")
EXHAUSTED_MARKER = "_exhausted_"
"""A key containing this has used up its team allocation: generation is 429."""

GiB = 1024 * MiB


@dataclass(frozen=True)
class Plan:
    name: str
    max_seconds: float
    max_bytes: int


PLANS = {
    "starter": Plan("starter", 10 * 60, 32 * MiB),
    "enterprise": Plan("enterprise", 2 * 3600, 2 * GiB),
}
PLAN_MARKERS = (("_starter_", "starter"),)
"""A key containing the marker is on that plan; any other key is on ``DEFAULT_PLAN``."""
DEFAULT_PLAN = "enterprise"

# ------------------------------------------------------------------------------ limits

DIRECT_UPLOAD_MAX = 32 * MiB
"""Largest multipart file (and decoded data: URI); larger files use the signed-URL flow."""
JSON_BODY_MAX = 48 * MiB
"""Room for a base64 data: URI of a 32 MB file."""
MULTIPART_OVERHEAD = 1 * MiB
CUSTOM_INSTRUCTIONS_MAX = 2000
FILENAME_MAX = 255
SUBMISSIONS_IN_FLIGHT = 3
"""Upload and generation requests one team may have in validation at the same time."""
PROCESSING_SLOTS = 2
"""Jobs of one team processed at the same time; the others wait queued."""
MAX_QUEUED_JOBS = 6
"""A team's jobs that have not started yet; one more is 429 ``queue_limit_exceeded``."""
CONCURRENCY_RETRY_AFTER = 1

JOB_KINDS = {"generate_ad_text": "text", "generate_ad_audio": "audio", "generate_ad_video": "video"}

# ----------------------------------------------------------------------------- lifecycle

STATUS = {
    Stage.WAITING: "queued",
    Stage.RUNNING: "processing",
    Stage.SUCCEEDED: "done",
    Stage.FAILED: "failed",
}
UPLOAD_STATUS = {
    Stage.WAITING: "processing",
    Stage.RUNNING: "processing",
    Stage.SUCCEEDED: "completed",
    Stage.FAILED: "failed",
}
UPLOAD_PENDING = "pending"
"""``upload_status`` of a signed upload before ``notify_upload_complete``."""
QUEUE_WAIT = 0.5
RUN_BASE = {"text": 2.0, "audio": 3.0, "video": 4.0}
RUN_PER_VIDEO_SECOND = 0.5
"""The docs: about 5 minutes of processing for a 10-minute video."""
VERIFY_SECONDS = 2.0
"""Virtual seconds a signed upload's verification takes after notify."""
SIGNED_URL_TTL = 15 * 60
UPLOAD_URL_TTL = 60 * 60


def timing(kind: str, seconds: float) -> Timing:
    """Virtual seconds a job waits (at least), then runs; both divided by the sandbox speed."""
    return Timing(wait=QUEUE_WAIT, run=RUN_BASE[kind] + RUN_PER_VIDEO_SECOND * seconds)


# -------------------------------------------------------------------------------- errors

ERRORS = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "video_too_long": 403,
    "file_too_large": 403,
    "signed_url_expired": 403,
    "signature_mismatch": 403,
    "not_found": 404,
    "media_not_found": 404,
    "job_not_found": 404,
    "method_not_allowed": 405,
    "upload_not_ready": 409,
    "upload_failed": 409,
    "no_video_stream": 415,
    "rate_limit_exceeded": 429,
    "plan_limit_exceeded": 429,
    "concurrency_limit_exceeded": 429,
    "queue_limit_exceeded": 429,
    "internal_error": 500,
    "bad_gateway": 502,
    "service_unavailable": 503,
    "gateway_timeout": 504,
}
"""Every error ``code`` the sandbox answers with, and its HTTP status; the first listed per
status is the code of errors that only know a status (faults, unknown routes, crashes)."""
DEFAULT_CODES = default_codes(ERRORS)
JOB_FAILURE_CODE = "internal_error"
