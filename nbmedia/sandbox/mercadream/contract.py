"""MercaDream's facts as tables: plans, keys, enums, limits, defaults, statuses, timings,
compute units and error codes, so that a correction to our reading is one line."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..kit.errors import default_codes
from ..services.clock import Stage, Timing

NAME = "mercadream"
WEBHOOK_SECRET = "whsec_sandbox_mercadream"
SIGNATURE_HEADER = "MercaDream-Signature"

# ---------------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class Plan:
    name: str
    rpm: int
    concurrent: int
    max_resolution: str | None
    """``None``: no API access at all."""


PLANS = {
    "free": Plan("free", 0, 0, None),
    "regular": Plan("regular", 60, 2, "720p"),
    "advanced": Plan("advanced", 200, 5, "4k"),
    "professional": Plan("professional", 1000, 20, "8k"),
}
PLAN_MARKERS = (("_free_", "free"), ("_regular_", "regular"), ("_advanced_", "advanced"))
"""A test key containing the marker is on that plan; any other test key is Professional."""
DEFAULT_PLAN = "professional"
TEST_KEY = re.compile(r"^mk_test_[A-Za-z0-9_]+$")
LIVE_KEY_PREFIX = "mk_live_"
RATE_WINDOW = 60.0
"""Seconds of the rolling window the per-minute request limit counts."""

# ------------------------------------------------------------------------ request limits

RESOLUTIONS = ("720p", "1080p", "4k", "8k")
"""Ordered from lowest to highest: a plan allows its max and everything before it."""
DURATIONS = (15, 30, 60, 120)
FPS = (24, 30, 60)
AUDIO_FORMATS = ("mp3", "wav", "flac")
PROMPT_MAX = 1000
TEXT_MAX = 5000
SPEECH_SPEED = (0.5, 2.0)
MUSIC_DURATION = (15, 300)
BPM = (60, 200)
LIST_LIMIT = (1, 100)

VIDEO_DEFAULTS = {"resolution": "4k", "duration": 30, "style": "cinematic", "fps": 24}
SPEECH_DEFAULTS = {"voice_id": "neural-narrator-m", "format": "mp3", "speed": 1.0}
MUSIC_DEFAULTS = {"duration": 60, "format": "mp3"}
LIST_DEFAULT_LIMIT = 20

PREVIEW_ASPECT = "16:9"
PREVIEW_MAX_WIDTH = 640
"""Outputs are previews: every resolution is rendered 16:9 at most this wide."""

# ----------------------------------------------------------------------- job lifecycle

STATUS = {
    Stage.WAITING: "queued",
    Stage.RUNNING: "processing",
    Stage.SUCCEEDED: "completed",
    Stage.FAILED: "failed",
}
STATUSES = tuple(STATUS.values())
EVENTS = {
    Stage.RUNNING: "job.processing",
    Stage.SUCCEEDED: "job.completed",
    Stage.FAILED: "job.failed",
}
TIMINGS: dict[str, Callable[[dict[str, Any]], Timing]] = {
    "video": lambda f: Timing(wait=0.5, run=2.5 + f["duration"] / 40),
    "speech": lambda f: Timing(wait=0.3, run=1.0 + len(f["text"]) / 2500),
    "music": lambda f: Timing(wait=0.3, run=1.0 + f["duration"] / 150),
}
"""Virtual seconds per kind (divided by the sandbox ``speed``): video 3.4-6 s, audio 1.3-3.3 s."""

RESOLUTION_UNITS = {"720p": 1, "1080p": 2, "4k": 6, "8k": 24}
COMPUTE_UNITS: dict[str, Callable[[dict[str, Any]], int]] = {
    "video": lambda f: math.ceil(f["duration"] / 15 * RESOLUTION_UNITS[f["resolution"]]),
    "speech": lambda f: max(1, math.ceil(len(f["text"]) / 500)),
    "music": lambda f: max(1, math.ceil(f["duration"] / 30)),
}
"""Video: the doc's example (30 s at 4k = 12 units) per 15 s times a resolution factor."""

# ------------------------------------------------------------------------------ errors

ERRORS = {
    "invalid_request": 400,
    "invalid_json": 400,
    "invalid_api_key": 401,
    "plan_no_api_access": 403,
    "plan_resolution_exceeded": 403,
    "not_found": 404,
    "job_not_found": 404,
    "method_not_allowed": 405,
    "rate_limit_exceeded": 429,
    "concurrency_limit_exceeded": 429,
    "internal_error": 500,
    "bad_gateway": 502,
    "service_unavailable": 503,
    "gateway_timeout": 504,
}
"""Every error ``code`` the sandbox answers with, and its HTTP status."""
DEFAULT_CODES = default_codes(ERRORS)
"""The first code per status: for errors that only know a status (faults, unknown routes)."""
