"""Mesh API's facts as tables: keys, error codes, models, fields and defaults, media limits,
statuses, timings and usage, so that a correction to our reading is one line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..kit.bodies import MiB
from ..services.clock import Stage, Timing

__all__ = ["MiB"]

NAME = "meshapi"
WEBHOOK_SECRET = ""
"""Mesh API callbacks are unsigned; the server asks every provider for a secret."""

# ------------------------------------------------------------------------------- keys

KEY = re.compile(r"^rsk_[A-Za-z0-9_-]{1,200}$")
NO_SPEND_MARKER = "_nospend_"
"""A key containing this has hit its spend limit: creating a task is 402."""
FORBIDDEN_MARKER = "_forbidden_"
"""A key containing this may not use the video API at all: every request is 403."""

# ------------------------------------------------------------------------------ errors

STATUS_CODES = {
    401: "unauthorized",
    402: "spend_limit_exceeded",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "upstream_error",
    503: "upstream_error",
    504: "gateway_timeout",
}
"""The error ``code`` for each HTTP status; ``model_not_found`` (404) is the one other code."""
MODEL_NOT_FOUND = "model_not_found"

# ------------------------------------------------------------------------------ models


@dataclass(frozen=True)
class Model:
    inputs: frozenset[str]
    """Content item types the model takes."""
    durations: tuple[int, int]
    """Whole seconds, inclusive."""


SEEDANCE_2_INPUTS = frozenset({"text", "image_url", "video_url", "audio_url", "draft_task"})
SEEDANCE_1_INPUTS = frozenset({"text", "image_url", "draft_task"})
MODELS = {
    "byteplus/dreamina-seedance-2-0": Model(SEEDANCE_2_INPUTS, (4, 15)),
    "byteplus/dreamina-seedance-2-0-fast": Model(SEEDANCE_2_INPUTS, (4, 15)),
    "byteplus/seedance-1-5-pro": Model(SEEDANCE_1_INPUTS, (4, 12)),
    "byteplus/seedance-1-0-pro": Model(SEEDANCE_1_INPUTS, (2, 12)),
}
"""Mesh model ids the sandbox serves (our reading: the docs name only the first)."""

# --------------------------------------------------------------------- request fields

ITEM_TYPES = ("text", "image_url", "video_url", "audio_url", "draft_task")
MEDIA_FAMILY = {"image_url": "image", "video_url": "video", "audio_url": "audio"}
"""The MIME family a data URI of each media item type must declare."""
RESOLUTIONS = ("480p", "720p", "1080p")
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
FPS = 24
FRAMES = (29, 289)
FRAMES_BASE, FRAMES_STEP = 25, 4
"""``frames`` must be 25 + 4n (BytePlus's rule)."""
SEED = (-1, 2**32 - 1)
PRIORITY = (0, 9)
EXPIRES_AFTER = (1, 259_200)
DEFAULTS: dict[str, Any] = {
    "callback_url": None,
    "resolution": "720p",
    "ratio": "16:9",
    "duration": 5,
    "frames": None,
    "generate_audio": False,
    "return_last_frame": False,
    "seed": -1,
    "camera_fixed": False,
    "watermark": False,
    "draft": False,
    "service_tier": "default",
    "execution_expires_after": 172_800,
    "priority": 0,
    "safety_identifier": None,
}
"""Every optional field and its default; ``model`` and ``content`` are required."""
FIELDS = ("model", "content", *DEFAULTS)

# ------------------------------------------------------------------------ media limits

MAX_BODY_BYTES = 64 * MiB
MAX_VIDEO_BYTES = 50 * MiB
MAX_AUDIO_BYTES = 15 * MiB
AUDIO_MIME = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mpeg3": "mp3",
    "audio/x-mp3": "mp3",
}
AUDIO_CLIP_SECONDS = (2.0, 15.0)
MAX_AUDIO_CLIPS = 3
MAX_AUDIO_TOTAL_SECONDS = 15.0
AUDIO_SECONDS_SLACK = 0.05
"""Tolerance on measured audio durations (container rounding), seconds."""

# ----------------------------------------------------------------------- lifecycle

STATUS = {
    Stage.WAITING: "queued",
    Stage.RUNNING: "running",
    Stage.SUCCEEDED: "succeeded",
    Stage.FAILED: "failed",
}
EXPIRED = "expired"
"""Status (and ``error.code``) of a task not done within ``execution_expires_after``."""
STATUSES = ("queued", "running", "succeeded", "failed", EXPIRED, "cancelled")
CALLBACK_STATUSES = ("succeeded", "failed", EXPIRED)
ROW_RANK = {Stage.WAITING: 0, Stage.RUNNING: 1, Stage.SUCCEEDED: 2, Stage.FAILED: 2}
"""Order of stored list rows: a terminal row is final."""
CALLBACK_TIMEOUT = 10.0
UNREACHABLE_CODE = "invalid_input"


def timing(seconds: float) -> Timing:
    """Virtual seconds a task waits, then runs (divided by the sandbox ``speed``)."""
    return Timing(wait=1.0, run=4.0 + seconds / 2)


# --------------------------------------------------------------------- outputs, usage

PREVIEW_MAX_WIDTH = 640
NOMINAL_SIZES = {
    "480p": {
        "16:9": (864, 480),
        "4:3": (736, 544),
        "1:1": (640, 640),
        "3:4": (544, 736),
        "9:16": (480, 864),
        "21:9": (960, 416),
    },
    "720p": {
        "16:9": (1248, 704),
        "4:3": (1120, 832),
        "1:1": (960, 960),
        "3:4": (832, 1120),
        "9:16": (704, 1248),
        "21:9": (1504, 640),
    },
    "1080p": {
        "16:9": (1920, 1088),
        "4:3": (1664, 1248),
        "1:1": (1440, 1440),
        "3:4": (1248, 1664),
        "9:16": (1088, 1920),
        "21:9": (2176, 928),
    },
}
"""BytePlus Seedance output sizes, used only to count usage tokens."""


def usage_tokens(resolution: str, ratio: str, frames: int) -> int:
    """Seedance's published formula: width x height x fps x seconds / 1024."""
    width, height = NOMINAL_SIZES[resolution][ratio]
    return width * height * frames // 1024


LIST_LIMIT = (1, 200)
LIST_DEFAULT_LIMIT = 50
