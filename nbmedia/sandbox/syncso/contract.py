"""sync.so's tables: models and prices, plans and rates, statuses, option enums and ranges,
field lists, limits and error codes, so that a correction to our reading is one line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..kit.bodies import MiB
from ..services.clock import Stage, Timing

NAME = "syncso"
WEBHOOK_SECRET = "whsec_sandbox_syncso"
SIGNATURE_HEADER = "Sync-Signature"
AUTH_HEADER = "x-api-key"
WEBHOOK_USER_AGENT = "Sync-Webhooks/2.0 (nbmedia sandbox)"

# ------------------------------------------------------------------------------ models


@dataclass(frozen=True)
class Model:
    type: str
    version: str
    description: str
    price_per_second: float
    """List price in USD per second of output at 25 fps."""
    segments: bool
    """Whether the model takes a ``segments`` list."""


MODELS = {
    "lipsync-2": Model("lipsync", "2.0", "Zero-shot lip sync that keeps the speaker's style.", 0.05, True),
    "lipsync-1.9.0-beta": Model("lipsync", "1.9.0-beta", "The previous lip-sync model.", 0.05, False),
    "lipsync-2-pro": Model("lipsync", "2.0-pro", "lipsync-2 with finer detail (teeth, beards).", 0.083, True),
    "react-1": Model("react", "1.0", "Lip sync with emotions and head movement.", 0.133, False),
    "sync-3": Model("lipsync", "3.0", "The newest and most capable lip-sync model.", 0.133, True),
}  # fmt: skip
"""The models the sandbox serves; prices from sync.so's billing page (upper end of each range;
lipsync-1.9.0-beta as lipsync-2, react-1 as sync-3: our reading)."""
PRICING_FPS = 25
"""Prices are quoted per second at this frame rate: per frame they are price / 25."""
SCRIPT_CHARS_PER_SECOND = 15.0
"""How fast a script is assumed to be spoken when estimating a cost (no speech is made)."""

# ------------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class Plan:
    name: str
    concurrency: int


PLANS = {
    "hobbyist": Plan("Hobbyist", 1),
    "creator": Plan("Creator", 3),
    "growth": Plan("Growth", 6),
    "scale": Plan("Scale", 15),
    "enterprise": Plan("Enterprise", 50),
}
PLAN_MARKERS = (
    ("_hobbyist_", "hobbyist"),
    ("_creator_", "creator"),
    ("_growth_", "growth"),
    ("_enterprise_", "enterprise"),
)
"""A key containing the marker is on that plan; any other key is on ``DEFAULT_PLAN``."""
DEFAULT_PLAN = "scale"
NO_CREDIT_MARKER = "_nocredit_"
"""A key containing this has no credit left: creating a generation is 402."""
RATE_LIMITS = {"create": 60, "other": 600}
"""Requests per ``RATE_WINDOW`` per key: ``POST /v2/generate``, and every other route."""
RATE_WINDOW = 60.0
BATCH_PLANS = frozenset({"scale", "enterprise"})
"""The plans that have the Batch API ("available only for Scale and Enterprise plans"); any
other plan's ``POST /v2/batch`` is 402 (the SDK's PaymentRequiredError)."""
BATCH_CONCURRENCY = {"scale": 3, "enterprise": 10}
"""Batches a key may have running at once (not COMPLETED or FAILED); one more is 429
``concurrency_limit_reached``. The docs give no numbers: ours."""

# --------------------------------------------------------------------------- lifecycle

STATUS = {
    Stage.WAITING: "PENDING",
    Stage.RUNNING: "PROCESSING",
    Stage.SUCCEEDED: "COMPLETED",
    Stage.FAILED: "FAILED",
}
REJECTED = "REJECTED"
STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED", REJECTED)
TERMINAL_STATUSES = ("COMPLETED", "FAILED", REJECTED)
LIST_STATUSES = (*STATUSES, "CANCELED")
"""What the list's ``status`` filter takes: the API reference lists CANCELED too (no sandbox
generation is ever cancelled: there is no cancel route)."""
TIMING = Timing(wait=1.5, run=6.0)
"""Virtual seconds a generation waits, then processes (divided by the sandbox ``speed``)."""

# ----------------------------------------------------------------------------- options

SYNC_MODES = ("bounce", "loop", "cut_off", "silence", "remap")
MODEL_MODES = ("lips", "face", "head")
EMOTIONS = ("happy", "sad", "angry", "disgusted", "surprised", "neutral")
TEMPERATURE = (0.0, 1.0)
REACT_ONLY = {"model_mode": "react-1", "prompt": "react-1"}
"""Options only one model takes (a 400 with any other)."""
OPTION_DEFAULTS: dict[str, Any] = {"sync_mode": "cut_off", "temperature": 0.5}
REACT_DEFAULTS: dict[str, Any] = {"model_mode": "face"}
TTS_PROVIDERS = ("elevenlabs",)
VOICE_SETTING = (0.0, 1.0)
"""Range of ``stability`` and ``similarityBoost``."""

FIELDS = ("model", "input", "options", "segments", "webhookUrl", "outputFileName")
ITEM_FIELDS = {
    "video": ("type", "url", "assetId", "segments_secs", "segments_frames"),
    "audio": ("type", "url", "assetId", "refId"),
    "text": ("type", "provider", "refId"),
}
PROVIDER_FIELDS = ("name", "voiceId", "script", "stability", "similarityBoost")
OPTION_FIELDS = (
    "sync_mode",
    "model_mode",
    "prompt",
    "temperature",
    "active_speaker_detection",
    "occlusion_detection_enabled",
)
SPEAKER_FIELDS = ("auto_detect", "frame_number", "coordinates", "bounding_boxes")
SEGMENT_FIELDS = ("startTime", "endTime", "audioInput")
SEGMENT_AUDIO_FIELDS = ("refId", "startTime", "endTime")
JSON_FORM_FIELDS = ("input", "options", "segments")
"""Multipart create fields sent as JSON strings."""

# ------------------------------------------------------------------------------ limits

MAX_UPLOAD_BYTES = 20 * MiB
"""Direct uploads (each multipart file, and a JSON body) above this are 413."""
SCRIPT_MAX_CHARS = 5000
AUDIO_MAX_SECONDS = 300.0
MEDIA_SLACK = 0.05
"""Seconds of tolerance when a range is checked against a measured media length."""
OUTPUT_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
IDEMPOTENCY_TTL = 24 * 3600.0
UPLOAD_SUFFIXES = {
    "video": (".mp4", ".mov", ".webm", ".mkv", ".m4v", ".avi"),
    "audio": (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus"),
}

# ------------------------------------------------------------------------------ errors

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
"""The NestJS ``error`` field for each HTTP status."""
GENERATION_ERRORS = {
    "generation_unsupported_model": "The requested model is not supported for this operation.",
    "generation_media_metadata_missing": "Required media metadata is missing from the request.",
    "generation_audio_length_exceeded": f"The audio is longer than the {AUDIO_MAX_SECONDS:g} s limit.",
    "generation_text_length_exceeded": f"The script is longer than {SCRIPT_MAX_CHARS} characters.",
    "generation_audio_missing": "No audio input was provided or the audio could not be read.",
    "generation_video_missing": "No video input was provided or the video could not be read.",
    "generation_input_validation_failed": "The generation input failed validation.",
    "generation_media_download_failed": "An input media file could not be downloaded.",
    "generation_internal_error": "The generation failed unexpectedly.",
}  # fmt: skip
"""Every ``error_code`` the sandbox itself gives a generation, with its general message (the
generation's ``error`` says what exactly was wrong)."""
UNREACHABLE_CODE = "generation_media_download_failed"
REJECT_CODES = frozenset({UNREACHABLE_CODE})
"""A generation ending with one of these codes is REJECTED rather than FAILED."""

# ------------------------------------------------------------------------ asset library

ASSET_TYPES = ("AUDIO", "VIDEO", "IMAGE")
ASSET_SORTS = {
    "nameAsc": "name", "nameDesc": "name", "dateAsc": "date", "dateDesc": "date",
    "durationAsc": "duration", "durationDesc": "duration", "sizeAsc": "size",
    "sizeDesc": "size", "kindAsc": "kind", "kindDesc": "kind",
}  # fmt: skip
"""``sortBy`` values (the SDK's ``AssetSort``) → what they sort on."""
ASSET_SORT_DEFAULT = "dateDesc"
ASSET_PAGE = (1, 100)
"""``limit`` of ``GET /v2/assets`` ("1-100")."""
ASSET_PAGE_DEFAULT = 20
ASSET_FIELDS = ("url", "type", "name", "projectId")
UPLOAD_FIELDS = ("fileName", "contentType", "size")
ASSET_UPLOAD_MAX = 5 * 1024**3
"""A single asset upload is capped at 5 GiB."""
UPLOAD_URL_TTL = 3600
"""``expiresIn`` of a presigned upload URL, in seconds."""
ASSET_NAME_MAX = 255
ASSET_NEEDS = {"video": ("VIDEO",), "audio": ("AUDIO", "VIDEO")}
"""Which asset types an input item may name (an audio item may take a video's sound)."""
MIME_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")

# ------------------------------------------------------------------------------ batches

BATCH_STATUSES = ("PENDING", "JOBS_CREATED", "PROCESSING", "COMPLETED", "FAILED")
BATCH_SIZE = (20, 500)
"""Requests a batch file must hold: "minimum 20 records", "maximum requests per batch: 500"."""
BATCH_FILE_MAX = 5 * MiB
""""Maximum file size: 5MB"."""
BATCH_ENDPOINT = "/v2/generate"
"""The only ``endpoint`` a batch line may name."""
BATCH_LINE_FIELDS = ("request_id", "endpoint", "payload")
BATCH_FORM_FIELDS = ("webhook_url", "dry_run")
BATCH_SIGNATURE_HEADER = "X-Signature-Primary"
"""The batch webhook's header: hex HMAC-SHA256 of the raw body with the webhook secret (the
docs say "an HMAC signature of the payload"; the scheme is ours)."""
