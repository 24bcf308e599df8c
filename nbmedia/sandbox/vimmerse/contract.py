"""Vimmerse's facts as tables: auth, enums, narrators, limits, defaults, statuses, timings and
error codes, so that a correction to our reading is one line."""

from __future__ import annotations

from typing import Any

from ..kit.errors import default_codes
from ..services.clock import Stage, Timing

NAME = "vimmerse"
WEBHOOK_SECRET = ""
"""Vimmerse webhooks are unsigned (providers.md): there is no secret to configure."""


# ------------------------------------------------------------------------------- auth

AUTH_HEADER = "X-Api-Key"
NO_CREDIT_MARKER = "_nocredit_"
"""Any non-empty key is valid; one containing this marker has no credit left (402)."""
API_VERSION = "3"

# ------------------------------------------------------------------------------ enums

VIDEO_TOOLS = (
    "Auto", "AutoT3", "KlingAI", "KlingT4", "LumaAI", "LumaRay2", "VeoFast", "Veo", "RunwayML",
    "MinimaxHailuo", "Seedance", "SeedanceFast", "Hunyuan", "Pixverse", "PixverseT3",
    "PicoMotion", "StaticMotion", "Wan", "Sora", "SoraPro", "TryOnVideo",
)  # fmt: skip
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16")
PIPELINE_MODES = ("Advanced", "Quick")
MEDIA_ITEM_TYPES = ("image", "video", "audio")
VISIBILITY_STATUSES = ("0", "1", "2")
"""private, unlisted, public (v1 names)."""

NARRATORS: dict[str, str] = {
    "AutoV": "en-us",
    "Rachel": "en-us+f1",
    "Aria": "en-us+f2",
    "Roger": "en-us+m1",
    "Sarah": "en-us+f3",
    "Laura": "en-us+f4",
    "Charlie": "en+m2",
    "George": "en-gb-x-rp+m3",
    "Callum": "en-gb-scotland+m4",
    "River": "en-us+Annie",
    "Liam": "en-us+m6",
    "Charlotte": "en-gb-x-gbcwmd+f5",
    "Alice": "en-gb-x-rp+Alicia",
    "Matilda": "en-us+belinda",
    "Will": "en-us+m7",
    "Jessica": "en-us+steph",
    "Eric": "en-us+Michael",
    "Chris": "en-us+m8",
    "Brian": "en-us+Denis",
    "Daniel": "en+Gene",
    "Lily": "en+linda",
    "Bill": "en-us+Lee",
}
"""The 22 documented narrators and the eSpeak NG voice each speaks with: one distinct voice per
name (``voice_for`` hashes five pairs of these names onto the same variant, hence a table)."""
NARRATOR_NAMES = tuple(NARRATORS)

# ----------------------------------------------------------------- limits and defaults

LIMITS = {"quantity": (1, 4), "duration": (1, 10), "loop": (1, 6)}
DEFAULTS: dict[str, Any] = {
    "prompt": None,
    "media_items": None,
    "video_tool": "Auto",
    "quantity": 1,
    "duration": 5,
    "loop": 1,
    "aspect_ratio": "16:9",
    "pipeline_mode": "Advanced",
}
"""Generation fields and their defaults (``pipeline_mode``'s default is our reading)."""
AUDIO_DEFAULTS: dict[str, Any] = {
    "narrator": "AutoV",
    "narration": None,
    "narration_url": None,
    "bg_music_prompt": None,
    "bg_music_url": None,
    "native_audio": False,
}
META_DEFAULTS: dict[str, Any] = {
    "title": "",
    "description": "",
    "visibility_status": "1",
    "rating": None,
    "webhook_url": "",
}
"""Metadata fields (a PATCH of only these never regenerates) and their values when not given."""
GENERATION_KEYS = ("audio_option", *DEFAULTS)

# --------------------------------------------------------------------------- rendering

FPS = 24
PREVIEW_MAX_WIDTH = 640
MUSIC_GAIN = 0.3
"""Background music under a narration; without one it plays at ``MUSIC_ALONE_GAIN``."""
MUSIC_ALONE_GAIN = 0.8
AMBIENT_RMS = 0.03
"""``native_audio`` with no other audio: a quiet brown-noise room tone at this level (reading)."""

# ---------------------------------------------------------------------- job lifecycle

STATUS = {
    Stage.WAITING: "new",
    Stage.RUNNING: "new",  # v2 documents new, success, failed: rendering shows as progress
    Stage.SUCCEEDED: "success",
    Stage.FAILED: "failed",
}


def timing(params: dict[str, Any]) -> Timing:
    """Virtual seconds (divided by the sandbox ``speed``): 6.25 s for the defaults, at most 65 s."""
    seconds = params["duration"] * params["loop"] * params["quantity"]
    return Timing(wait=1.0, run=5.0 + 0.25 * seconds)


# ------------------------------------------------------------------------------ errors

ERRORS = {
    "BAD_REQUEST": 400,
    "JOB_CREATE_FAILED": 400,
    "UNAUTHORIZED": 401,
    "INSUFFICIENT_CREDIT": 402,
    "NOT_FOUND": 404,
    "MEDIA_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "VALIDATION_ERROR": 422,
    "RATE_LIMITED": 429,
    "INTERNAL_ERROR": 500,
    "BAD_GATEWAY": 502,
    "SERVICE_UNAVAILABLE": 503,
    "GATEWAY_TIMEOUT": 504,
}
"""Every ``code`` the sandbox answers with and its HTTP status (the first per status is the
default for errors that only know a status: faults, unknown routes)."""
DEFAULT_CODES = default_codes(ERRORS)
MESSAGES = {
    "MEDIA_NOT_FOUND": "The requested media was not found or you do not have access.",
    "UNAUTHORIZED": f"Missing API key: send it in the {AUTH_HEADER} header.",
    "INSUFFICIENT_CREDIT": "Insufficient credit to start a generation.",
}


MEDIA_KEYS = (
    "id", "title", "description", "customer_id", "primary_user_id", "media_items",
    "duration_time", "processing_status", "progress_percentage", "pose_preset", "submit_params",
    "result", "visibility_status", "rating", "webhook_url", "created_at", "updated_at", "version",
    "error",
)  # fmt: skip
"""Every key a media object can have, in order: what ``?fields=`` may name."""
