"""sync.so (Sync Labs) API v2 lip-sync generations on the sandbox, written from
``api-docs/syncso.txt``, section 5 of ``providers.md`` (with its readings) and the wire types of
the public ``syncsdk`` SDK (0.3.0: ``generations/raw_client.py``, ``common/types``); it shares no
code with the client in ``nbmedia/providers/``.

Mounted at ``/syncso``: ``{sandbox}/syncso`` replaces ``https://api.sync.so``, so
``Sync(base_url=f"{sandbox.url}/syncso", api_key=...)`` works unchanged. Models, plans, statuses,
option enums and ranges, limits, prices and error codes are the module-level tables below, so
that a correction to our reading is one line.

Routes (as the SDK calls them, plus the aliases older and newer docs name):
``POST /v2/generate`` (JSON, or multipart "with files"; ``/v2/generate/upload`` too),
``GET /v2/generate/{id}``, ``GET /v2/generations`` (``GET /v2/generate`` too),
``POST /v2/analyze/cost`` (``/v2/generate/estimate-cost``, ``/v2/generations/estimate-cost``
too), ``GET /v2/models``; the asset library (SDK ``assets`` + the docs' Assets API):
``POST /v2/assets/upload`` (a presigned URL), ``PUT {uploadUrl}`` (no key), ``POST /v2/assets``
(register a URL), ``GET /v2/assets`` (``projectId``, ``limit`` 1-100, ``cursor``,
``searchQuery``, ``sortBy``, ``types``), ``GET``/``DELETE /v2/assets/{id}``; batches (SDK
``batch``): ``POST /v2/batch`` (multipart ``input`` JSON Lines file, ``webhook_url``,
``dry_run``), ``GET /v2/batch`` (``status``, ``created_after``, ``created_before``),
``GET /v2/batch/{id}`` and the results file ``GET /v2/batches/{id}/result``.

Our readings where the documentation is silent (beyond those in providers.md):

- Auth: any non-empty ``x-api-key`` is valid (else 401). The plan is read from the key
  (``PLAN_MARKERS``); a key containing ``_nocredit_`` has no credit: creating is 402, reading
  and estimating stay free. Generations, idempotency keys and rate windows are per API key
  (the sandbox's "organization").
- Errors are NestJS bodies ``{"statusCode", "message", "error"}`` (``error`` is the HTTP reason
  phrase). A 400 from body validation lists every problem in ``message`` (a list of strings, in
  class-validator's wording); other errors have a string ``message``. Idempotency errors add
  ``"code"`` (``INVALID_IDEMPOTENCY_KEY``, ``IDEMPOTENCY_KEY_MISMATCH``,
  ``IDEMPOTENCY_REQUEST_IN_PROGRESS``).
- 429: ``POST /v2/generate`` 60 requests a minute, every other route 600 (rolling 60 s window per
  key), and the plan's concurrency (PENDING + PROCESSING generations of the key) on create. The
  documentation promises no ``Retry-After`` and none is ever sent, not even by the
  ``rate_limit_next`` fault: clients must back off on their own (the docs say 1, 2, 4, 8, 16 s).
  ``faults.plan_limits = False`` (a benchmark knob) lifts both the rates and the concurrency.
- Checks run in this order: auth (401), rate (429), the ``Idempotency-Key`` header's form
  (400), body size (413), key reuse (409/422, or a replay), body (400), credit (402),
  concurrency (429).
- What is a 400 and what is a failed generation: everything decidable from the body's shape is
  a 400 (types, enums, ranges, unknown properties, react-1-only options on other models, more
  than one video item, malformed or overlapping segments, a segment ``refId`` no input has, a
  ``url`` that is not http(s) or ``data:``, both ``url`` and ``assetId`` on one item). The documented ``generation_*`` conditions end the generation ``FAILED`` with
  ``error`` and ``error_code``: no video item (``generation_video_missing``), no audio or text
  item (``generation_audio_missing``), a script over 5000 characters
  (``generation_text_length_exceeded``), segments with a model that has none
  (``generation_unsupported_model``: react-1 and lipsync-1.9.0-beta), and whatever needs the
  media: unreadable media or no duration/frame rate (``generation_media_metadata_missing``), a
  video file without a picture (``generation_video_missing``), an audio file without sound
  (``generation_audio_missing``), audio over 300 s (``generation_audio_length_exceeded``),
  segment or crop ranges outside the media, or a speaker frame/point outside the video
  (``generation_input_validation_failed``). A failure surfaces once the generation is
  PROCESSING, as when a real worker downloads the media.
- ``REJECTED``: an input URL the sandbox cannot fetch (any http(s) URL it did not serve itself,
  or a broken ``data:`` URI) gives a generation that goes from PENDING straight to REJECTED with
  ``error_code`` ``generation_media_download_failed``. ``fail_next_jobs`` with a code in
  ``REJECT_CODES`` rejects too; any other code fails.
- ``POST /v2/generate`` answers 201 with the Generation object (NestJS's default for POST);
  so does the cost estimate. The object always carries every key of the SDK's ``Generation``
  (``null`` when unknown); ``input`` is echoed as sent (uploads appear as the URL they were
  stored at), ``options`` with the defaults filled in (``sync_mode`` cut_off, ``temperature``
  0.5, and for react-1 ``model_mode`` face). ``createdAt`` is ISO-8601 UTC with milliseconds.
  ``outputUrl``, ``outputDuration`` (seconds, measured on the file) and ``segmentOutputUrl``
  (segments only) appear once COMPLETED. The output's file name ends ``<outputFileName>.mp4``
  (prefixed by the generation id: names are unique per sandbox).
- Assets: an input may name ``assetId`` instead of ``url`` (create and estimate). An id the
  key does not own (or a deleted one) is 404 ``errorCode: asset_not_found``, as ``GET
  /v2/assets/{id}`` answers; a video item naming an AUDIO asset is a 400. Registering fetches
  the URL (a file this sandbox serves, e.g. a presigned upload's ``url`` once PUT, or a
  ``data:`` URI, copied into the provider's files) and probes it: unfetchable is 400, a file
  without the declared kind of stream is 400, ``projectId`` is 422 ``project_not_found`` (no
  projects here). ``inputType`` is UPLOAD for a presigned upload (named by its ``fileName``),
  else URL; ``visibility`` USER. The presigned PUT needs the declared Content-Type (else 403)
  and takes at most the declared size (else 400); the URL lasts ``UPLOAD_URL_TTL``. Lists are
  sorted by ``sortBy`` (default dateDesc), paged by an opaque ``nextCursor`` (null on the last
  page) with ``totalCount``; ``projectId`` matches nothing.
- Batches: Scale and Enterprise only (``BATCH_PLANS``; any other plan 402,
  ``errorCode: plan_upgrade_required``); 20-500 lines, file ≤ 5 MB, each line
  ``{"request_id" (unique), "endpoint": "/v2/generate", "payload": <a create body>}``; every
  problem is one 400 naming its line. ``dry_run=true`` answers 201 ``{"status": "VALIDATED"}``
  and creates nothing. More running batches than ``BATCH_CONCURRENCY`` is 429
  ``errorCode: concurrency_limit_reached``. The create answers 201 with status PENDING; each
  line becomes an ordinary generation at once (rendered, listed, webhooked like any), outside the
  plan's generation concurrency. The batch's status then follows its generations:
  JOBS_CREATED, PROCESSING once one has started, COMPLETED once all have ended (FAILED if every
  one failed); ``metrics`` count them; ``outputUrl`` is "" until the end, then a JSON Lines file
  of ``{"request_id", "response": <Generation>}`` in file order. When a batch with a
  ``webhook_url`` ends, its object is POSTed once (camelCase metrics, as the payload reference
  shows) signed ``X-Signature-Primary: <hex HMAC-SHA256 of the raw body>``. The docs' 30 s
  input limit for batch lines is not enforced.
- Multipart create: fields ``model``, ``webhookUrl``, ``outputFileName`` as text; ``input``,
  ``options`` and ``segments`` as JSON strings (the SDK's ``create_with_files`` can only send
  ``model``, ``webhookUrl`` and the files: httpx refuses a dict or list as a form field). Files
  ``video`` and ``audio`` (each ≤ 20 MB, else 413) are stored and become inputs: the file fills
  the input item of its type that has no ``url``, or is added; given beside a ``url`` for the
  same kind, the file takes precedence (the docs: "combining both file and url inputs is also
  supported, with the file taking precedence").
- Idempotency (sync.so's guide): ``Idempotency-Key`` of 1–128 characters ``[A-Za-z0-9._~-]``
  (else 400). The same key with the same body (JSON compared after parsing; multipart by fields
  and file digests) answers 201 with the same generation as it is now, plus
  ``Idempotent-Replayed: true``, and starts nothing; with a different body it is 422
  ``IDEMPOTENCY_KEY_MISMATCH``; while the first request is still being handled, 409
  ``IDEMPOTENCY_REQUEST_IN_PROGRESS`` (the IETF draft's split). A request refused before a
  generation exists does not use up its key. Keys are kept 24 hours.
- Webhooks: when a generation ends (COMPLETED, FAILED, and REJECTED too, so a client that only
  listens never waits forever) the exact Generation object ``GET`` returns is POSTed to
  ``webhookUrl`` with ``Sync-Signature: t=<unix>,v1=<hex>``; see ``sign``.
- Cost: ``estimatedFrameCount`` = round(output seconds x the video's frame rate) and
  ``estimatedGenerationCost`` = frames x the model's per-second list price / 25 (prices are per
  frame "at 25 fps"; ``PRICE_PER_SECOND``), rounded to 4 decimals, as a one-element list. Output
  seconds follow ``sync_mode`` (or the video's length with segments); a script's length is
  estimated at ``SCRIPT_CHARS_PER_SECOND``. Unfetchable or unreadable media is a 400 here.
- List: newest first, every generation of the key; ``status`` and ``ids`` each repeatable
  and/or comma-separated (the SDK repeats them); an unknown status is a 400.
- Outputs are previews: the input video (scaled to fit 640 pixels, at its own frame rate) with
  its audio replaced by the first audio input (or eSpeak NG speaking the script in a voice fixed
  by ``voiceId``), timed per ``sync_mode`` as sync.so's behaviour matrix says: cut_off trims to
  the shorter; loop restarts the video, bounce plays it forwards then backwards (buffered in
  memory), remap time-stretches it, each to the audio's length; silence pads the audio with
  silence to the video's length, or holds the last frame when the audio is longer. With
  segments the output has the video's length and each segment's range gets its audio (cropped by
  ``audioInput.startTime/endTime``, cut or padded to fit); the rest is silent. Several audio
  inputs without segments: the first is used. On every frame a face-like disc sits in the lower
  middle with a dark elliptic mouth whose height follows the loudness (RMS) of that frame's
  audio window, scaled by ``temperature``; react-1's ``prompt`` tints the face. The other
  options are validated and change nothing in the picture.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import mimetypes
import re
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .kit.routing import Handler, endpoint
from .services.clock import Lifecycle, Snapshot, Stage, Timing
from .services.inputs import Unreachable, fetch, is_data_uri
from .services.webhooks import Delivery

if TYPE_CHECKING:
    from .kit.env import Env

NAME = "syncso"
WEBHOOK_SECRET = "whsec_sandbox_syncso"
SIGNATURE_HEADER = "Sync-Signature"
AUTH_HEADER = "x-api-key"

log = logging.getLogger("nbmedia.sandbox.syncso")

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

# ------------------------------------------------------------------------------ limits

MiB = 1024 * 1024
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


def error(
    status: int,
    message: str | list[str],
    *,
    code: str | None = None,
    error_code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The NestJS error body. ``retry_after`` is ignored: sync.so documents no Retry-After.
    ``error_code`` is the newer docs' machine-readable ``errorCode`` (asset_not_found,
    concurrency_limit_reached, …); ``code`` is the idempotency guide's field."""
    body: dict[str, Any] = {
        "statusCode": status,
        "message": message,
        "error": REASONS.get(status, "Error"),
    }
    if code is not None:
        body["code"] = code
    if error_code is not None:
        body["errorCode"] = error_code
    return JSONResponse(body, status_code=status, headers=headers)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str | list[str],
        *,
        code: str | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.status, self.message, self.code = status, message, code
        self.error_code = error_code

    def response(self) -> Response:
        return error(self.status, self.message, code=self.code, error_code=self.error_code)


class GenerationFailure(Exception):
    """A generation ends FAILED (or REJECTED) with this ``error_code`` and ``error``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


# --------------------------------------------------------------------------- validation


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if is_data_uri(value):
        return "," in value
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _present(obj: dict[str, Any], name: str) -> bool:
    return obj.get(name) is not None


class Problems:
    """class-validator style messages gathered so one 400 lists every problem."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def unknown(self, obj: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for name in obj:
            if name not in allowed:
                self.add(f"property {where}{name} should not exist")

    def number(
        self, obj: dict[str, Any], name: str, where: str, bounds: tuple[float, float] | None
    ) -> None:
        value = obj.get(name)
        if value is None:
            return
        if not _is_number(value):
            self.add(f"{where}{name} must be a number conforming to the specified constraints")
        elif bounds is not None and value < bounds[0]:
            self.add(f"{where}{name} must not be less than {bounds[0]:g}")
        elif bounds is not None and value > bounds[1]:
            self.add(f"{where}{name} must not be greater than {bounds[1]:g}")

    def one_of(self, obj: dict[str, Any], name: str, where: str, choices: tuple[str, ...]) -> None:
        value = obj.get(name)
        if value is not None and value not in choices:
            self.add(f"{where}{name} must be one of the following values: {', '.join(choices)}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ApiError(400, list(self.items))


@dataclass
class Item:
    """One input: the video, a recorded audio, or a text-to-speech script."""

    index: int
    type: str
    url: str | None = None
    asset_id: str | None = None
    """The library asset the input names instead of a URL (``url`` is filled from it)."""
    ref_id: str | None = None
    voice_id: str | None = None
    script: str | None = None
    path: Path | None = None
    seconds: float = 0.0


@dataclass
class Spec:
    """A create (or estimate) body that passed validation."""

    model: str
    items: list[Item]
    input: list[Any]
    options: dict[str, Any]
    segments: list[dict[str, Any]] | None
    webhook_url: str | None
    output_file_name: str | None
    deferred: GenerationFailure | None = None
    """A documented generation error decidable from the body: the generation will fail."""

    @property
    def video(self) -> Item | None:
        return next((i for i in self.items if i.type == "video"), None)

    @property
    def audio(self) -> list[Item]:
        return [i for i in self.items if i.type != "video"]


def _check_item(raw: Any, n: int, problems: Problems) -> Item | None:
    where = f"input.{n}."
    if not isinstance(raw, dict):
        problems.add(f"input.{n} must be an object")
        return None
    kind = raw.get("type")
    if kind not in ITEM_FIELDS:
        problems.add(f"{where}type must be one of the following values: video, audio, text")
        return None
    problems.unknown(raw, ITEM_FIELDS[kind], where)
    item = Item(n, kind)
    ref = raw.get("refId")
    if ref is not None and not (isinstance(ref, str) and ref):
        problems.add(f"{where}refId must be a non-empty string")
    item.ref_id = ref if isinstance(ref, str) and ref else None
    if kind in ("video", "audio"):
        url, asset = raw.get("url"), raw.get("assetId")
        if url is not None and asset is not None:
            problems.add(f"{where}give either url or assetId, not both")
        elif asset is not None:
            if isinstance(asset, str) and asset.strip():
                item.asset_id = asset
            else:
                problems.add(f"{where}assetId must be a non-empty string")
        elif url is None:
            problems.add(f"{where}url should not be empty (or give assetId)")
        elif not _is_url(url):
            problems.add(f"{where}url must be a URL address (http, https or a data: URI)")
        else:
            item.url = url
        return item
    provider = raw.get("provider")
    if not isinstance(provider, dict):
        problems.add(f"{where}provider must be an object")
        return item
    pw = f"{where}provider."
    problems.unknown(provider, PROVIDER_FIELDS, pw)
    problems.one_of(provider, "name", pw, TTS_PROVIDERS)
    if provider.get("name") is None:
        problems.add(f"{pw}name should not be empty")
    for name in ("voiceId", "script"):
        value = provider.get(name)
        if not (isinstance(value, str) and value.strip()):
            problems.add(f"{pw}{name} must be a non-empty string")
    problems.number(provider, "stability", pw, VOICE_SETTING)
    problems.number(provider, "similarityBoost", pw, VOICE_SETTING)
    voice, script = provider.get("voiceId"), provider.get("script")
    item.voice_id = voice if isinstance(voice, str) else None
    item.script = script if isinstance(script, str) else None
    return item


def _check_options(raw: Any, model: str | None, problems: Problems) -> dict[str, Any]:
    """The options with their defaults (only when valid: they are echoed back)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.add("options must be an object")
        return {}
    where = "options."
    problems.unknown(raw, OPTION_FIELDS, where)
    problems.one_of(raw, "sync_mode", where, SYNC_MODES)
    problems.one_of(raw, "model_mode", where, MODEL_MODES)
    problems.one_of(raw, "prompt", where, EMOTIONS)
    problems.number(raw, "temperature", where, TEMPERATURE)
    if _present(raw, "occlusion_detection_enabled") and not isinstance(
        raw["occlusion_detection_enabled"], bool
    ):
        problems.add("options.occlusion_detection_enabled must be a boolean value")
    for name, only in REACT_ONLY.items():
        if _present(raw, name) and model is not None and model != only:
            problems.add(f"options.{name} is only supported by the {only} model (got {model})")
    speaker = raw.get("active_speaker_detection")
    if speaker is not None:
        _check_speaker(speaker, problems)
    options = {k: v for k, v in raw.items() if v is not None}
    defaults = {**OPTION_DEFAULTS, **(REACT_DEFAULTS if model == "react-1" else {})}
    return {**defaults, **options}


def _check_speaker(raw: Any, problems: Problems) -> None:
    where = "options.active_speaker_detection."
    if not isinstance(raw, dict):
        problems.add("options.active_speaker_detection must be an object")
        return
    problems.unknown(raw, SPEAKER_FIELDS, where)
    if _present(raw, "auto_detect") and not isinstance(raw["auto_detect"], bool):
        problems.add(f"{where}auto_detect must be a boolean value")
    frame = raw.get("frame_number")
    if frame is not None and not (_is_int(frame) and frame >= 0):
        problems.add(f"{where}frame_number must be an integer of at least 0")
    point = raw.get("coordinates")
    if point is not None and not (
        isinstance(point, list) and len(point) == 2 and all(_is_int(v) and v >= 0 for v in point)
    ):
        problems.add(f"{where}coordinates must be [x, y]: two integers of at least 0")
    if (frame is None) != (point is None):
        problems.add(f"{where}frame_number and coordinates must be given together")
    boxes = raw.get("bounding_boxes")
    if boxes is not None:
        ok = isinstance(boxes, list) and all(
            box is None
            or (
                isinstance(box, list)
                and len(box) == 4
                and all(_is_int(v) and v >= 0 for v in box)
                and box[0] < box[2]
                and box[1] < box[3]
            )
            for box in boxes
        )
        if not ok:
            problems.add(
                f"{where}bounding_boxes must be a list of [x1, y1, x2, y2] boxes "
                "(x1 < x2, y1 < y2) or null per frame"
            )
        if point is not None:
            problems.add(f"{where}give bounding_boxes or frame_number + coordinates, not both")


def _check_segments(raw: Any, items: list[Item], problems: Problems) -> list[dict[str, Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        problems.add("segments must be a non-empty array")
        return None
    refs = {i.ref_id for i in items if i.type != "video" and i.ref_id}
    spans: list[tuple[float, float, int]] = []
    for n, seg in enumerate(raw):
        where = f"segments.{n}."
        if not isinstance(seg, dict):
            problems.add(f"segments.{n} must be an object")
            continue
        problems.unknown(seg, SEGMENT_FIELDS, where)
        for name in ("startTime", "endTime"):
            if seg.get(name) is None:
                problems.add(f"{where}{name} should not be empty")
            problems.number(seg, name, where, (0.0, math.inf))
        start, end = seg.get("startTime"), seg.get("endTime")
        if _is_number(start) and _is_number(end):
            if start >= end:
                problems.add(f"{where}startTime must be less than endTime")
            else:
                spans.append((float(start), float(end), n))
        audio = seg.get("audioInput")
        if not isinstance(audio, dict):
            problems.add(f"{where}audioInput must be an object")
            continue
        aw = f"{where}audioInput."
        problems.unknown(audio, SEGMENT_AUDIO_FIELDS, aw)
        ref = audio.get("refId")
        if not (isinstance(ref, str) and ref):
            problems.add(f"{aw}refId must be a non-empty string")
        elif ref not in refs:
            problems.add(f"{aw}refId {json.dumps(ref)} does not match the refId of any audio input")
        a0, a1 = audio.get("startTime"), audio.get("endTime")
        if (a0 is None) != (a1 is None):
            problems.add(f"{aw}startTime and endTime must be given together")
        problems.number(audio, "startTime", aw, (0.0, math.inf))
        problems.number(audio, "endTime", aw, (0.0, math.inf))
        if _is_number(a0) and _is_number(a1) and a0 >= a1:
            problems.add(f"{aw}startTime must be less than endTime")
    spans.sort()
    for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
        if start < end:
            problems.add(f"segments.{a} and segments.{b} overlap")
    for item in items:
        if item.type != "video" and not item.ref_id:
            problems.add(f"input.{item.index}.refId is required when segments are given")
    return raw


def validate(body: Any) -> Spec:
    """The body as a ``Spec``, or the 400 that lists everything wrong with it."""
    problems = Problems()
    if not isinstance(body, dict):
        raise ApiError(400, ["the request body must be a JSON object"])
    problems.unknown(body, FIELDS, "")
    model = body.get("model")
    if model is None:
        problems.add("model should not be empty")
    elif model not in MODELS:
        problems.add(f"model must be one of the following values: {', '.join(MODELS)}")
    model_ok = model if model in MODELS else None
    raw_input = body.get("input")
    items: list[Item] = []
    if not isinstance(raw_input, list) or not raw_input:
        problems.add("input must be a non-empty array")
        raw_input = []
    for n, raw in enumerate(raw_input):
        item = _check_item(raw, n, problems)
        if item is not None:
            items.append(item)
    videos = [i for i in items if i.type == "video"]
    if len(videos) > 1:
        problems.add(f"input must contain exactly one video item (got {len(videos)})")
    refs = [i.ref_id for i in items if i.type != "video" and i.ref_id]
    for ref in sorted({r for r in refs if refs.count(r) > 1}):
        problems.add(f"refId {json.dumps(ref)} is used by more than one input")
    options = _check_options(body.get("options"), model_ok, problems)
    segments = _check_segments(body.get("segments"), items, problems)
    webhook = body.get("webhookUrl")
    if webhook is not None:
        parts = urlsplit(webhook) if isinstance(webhook, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            problems.add("webhookUrl must be a URL address")
    name = body.get("outputFileName")
    if name is not None and not (isinstance(name, str) and OUTPUT_FILE_NAME.fullmatch(name)):
        problems.add(
            "outputFileName must be 1-255 characters: letters, digits, underscores and hyphens "
            "only (.mp4 is added)"
        )
    problems.raise_if_any()
    assert isinstance(model, str)
    spec = Spec(
        model=model,
        items=items,
        input=list(raw_input),
        options=options,
        segments=segments,
        webhook_url=webhook,
        output_file_name=name,
    )
    spec.deferred = _deferred_failure(spec)
    return spec


def _deferred_failure(spec: Spec) -> GenerationFailure | None:
    """The documented generation errors that the body alone decides."""
    if spec.segments and not MODELS[spec.model].segments:
        with_segments = ", ".join(m for m, info in MODELS.items() if info.segments)
        return GenerationFailure(
            "generation_unsupported_model",
            f"{spec.model} does not support segments; models that do: {with_segments}.",
        )
    if spec.video is None:
        return GenerationFailure("generation_video_missing", "The input has no video item.")
    if not spec.audio:
        return GenerationFailure(
            "generation_audio_missing", "The input has no audio or text-to-speech item."
        )
    for item in spec.audio:
        if item.script is not None and len(item.script) > SCRIPT_MAX_CHARS:
            return GenerationFailure(
                "generation_text_length_exceeded",
                f"input.{item.index}: the script has {len(item.script)} characters; "
                f"the limit is {SCRIPT_MAX_CHARS}.",
            )
    return None


# ------------------------------------------------------------------------ media checks


@dataclass
class VideoInfo:
    path: Path
    seconds: float
    fps: Fraction
    width: int
    height: int

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * self.fps))


def _fps(value: float) -> Fraction:
    """A frame rate as a fraction: 29.97 -> 30000/1001, 25.0 -> 25."""
    if abs(value - round(value)) < 0.01:
        return Fraction(round(value))
    return Fraction(value).limit_denominator(1001)


def probe_video(item: Item) -> VideoInfo:
    from .services.media.probe import probe

    assert item.path is not None
    try:
        info = probe(item.path)
    except (ValueError, OSError):
        raise GenerationFailure(
            "generation_media_metadata_missing",
            f"input.{item.index}: the video cannot be read (no duration or frame rate).",
        ) from None
    video = info["video"]
    if video is None:
        raise GenerationFailure(
            "generation_video_missing", f"input.{item.index}: the file has no video stream."
        )
    if not info["duration"] or not video["fps"] or not video["width"] or not video["height"]:
        raise GenerationFailure(
            "generation_media_metadata_missing",
            f"input.{item.index}: the video's duration or frame rate is missing.",
        )
    return VideoInfo(
        item.path, float(info["duration"]), _fps(video["fps"]), video["width"], video["height"]
    )


def probe_audio(item: Item) -> float:
    """The audio file's length in seconds, or the generation error it causes."""
    from .services.media.probe import probe

    assert item.path is not None
    try:
        info = probe(item.path)
    except (ValueError, OSError):
        raise GenerationFailure(
            "generation_media_metadata_missing",
            f"input.{item.index}: the audio cannot be read (no duration).",
        ) from None
    if info["audio"] is None:
        raise GenerationFailure(
            "generation_audio_missing", f"input.{item.index}: the file has no audio stream."
        )
    if not info["duration"]:
        raise GenerationFailure(
            "generation_media_metadata_missing",
            f"input.{item.index}: the audio's duration is missing.",
        )
    return float(info["duration"])


def check_audio_length(item: Item) -> None:
    if item.seconds > AUDIO_MAX_SECONDS + MEDIA_SLACK:
        raise GenerationFailure(
            "generation_audio_length_exceeded",
            f"input.{item.index}: the audio lasts {item.seconds:.1f} s; "
            f"the limit is {AUDIO_MAX_SECONDS:g} s.",
        )


def check_against_media(spec: Spec, video: VideoInfo) -> None:
    """Ranges and points that only the media's own size and length can validate."""
    by_ref = {i.ref_id: i for i in spec.audio if i.ref_id}
    for n, seg in enumerate(spec.segments or []):
        if seg["endTime"] > video.seconds + MEDIA_SLACK:
            raise GenerationFailure(
                "generation_input_validation_failed",
                f"segments.{n}: {seg['startTime']:g}-{seg['endTime']:g} s is outside the "
                f"video (0-{video.seconds:.2f} s).",
            )
        crop = seg["audioInput"]
        audio = by_ref[crop["refId"]]
        if crop.get("endTime") is not None and crop["endTime"] > audio.seconds + MEDIA_SLACK:
            raise GenerationFailure(
                "generation_input_validation_failed",
                f"segments.{n}.audioInput: {crop['startTime']:g}-{crop['endTime']:g} s is "
                f"outside the audio {crop['refId']!r} (0-{audio.seconds:.2f} s).",
            )
    speaker = spec.options.get("active_speaker_detection") or {}
    frame, point = speaker.get("frame_number"), speaker.get("coordinates")
    if frame is not None and frame >= video.frames:
        raise GenerationFailure(
            "generation_input_validation_failed",
            f"options.active_speaker_detection.frame_number {frame} is past the video's last "
            f"frame ({video.frames - 1}).",
        )
    boxes = [b for b in speaker.get("bounding_boxes") or [] if b]
    points = ([point] if point else []) + [b[2:] for b in boxes]
    for x, y in points:
        if x > video.width or y > video.height:
            raise GenerationFailure(
                "generation_input_validation_failed",
                f"options.active_speaker_detection: ({x}, {y}) is outside the "
                f"{video.width}x{video.height} video.",
            )


def output_seconds(spec: Spec, video: float, audio: float) -> float:
    """How long the output is, per sync.so's sync_mode behaviour matrix (or segments)."""
    if spec.segments:
        return video
    mode = spec.options["sync_mode"]
    if mode == "cut_off":
        return min(video, audio)
    if mode == "silence":
        return max(video, audio)
    return audio  # bounce, loop, remap


def estimate(spec: Spec, video: VideoInfo, audio_seconds: float) -> dict[str, float]:
    seconds = output_seconds(spec, video.seconds, audio_seconds)
    frames = max(1, round(seconds * video.fps))
    cost = frames * MODELS[spec.model].price_per_second / PRICING_FPS
    return {"estimatedFrameCount": frames, "estimatedGenerationCost": round(cost, 4)}


# ------------------------------------------------------------------------- generations


@dataclass
class Generation:
    id: str
    key: str
    seq: int
    created_ms: int
    spec: Spec
    scratch: Path
    lifecycle: Lifecycle = field(init=False)
    output_name: str | None = None
    segment_name: str | None = None
    output_duration: float | None = None
    batch_id: str | None = None
    """The batch that made it (batch generations bypass the plan's concurrency)."""


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status(snap: Snapshot) -> str:
    if snap.stage is Stage.FAILED and snap.error and snap.error[0] in REJECT_CODES:
        return REJECTED
    return STATUS[snap.stage]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Sync-Signature`` value: ``t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass
class Upload:
    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Body:
    """A parsed create request: the JSON-like body, its uploads, and its fingerprint."""

    fields: Any
    uploads: dict[str, Upload]
    fingerprint: str


class SyncSo:
    """The state behind the routes of one sandbox: generations, idempotency keys, rate windows."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._generations: dict[str, Generation] = {}
        self._seq = 0
        self._last_ms = 0
        self._requests: dict[tuple[str, str], deque[float]] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, str, float]] = {}
        self._in_flight: set[tuple[str, str]] = set()
        self._assets: dict[str, Asset] = {}
        self._uploads: dict[str, PendingUpload] = {}
        self._presigned_urls: dict[str, str] = {}
        """URL of a file PUT to a presigned upload → the fileName it was declared with."""
        self._batches: dict[str, Batch] = {}
        self._sandbox_url = env.base_url.rsplit("/", 1)[0]
        self._inputs = env.files.folder / ".inputs"

    # ---------------------------------------------------------------------- request gate

    def authorize(self, request: Request, bucket: str) -> str:
        key = request.headers.get(AUTH_HEADER, "").strip()
        if not key:
            raise ApiError(401, "Unauthorized: send your API key in the x-api-key header.")
        if not self.env.faults.plan_limits:
            return key
        now = time.monotonic()
        limit = RATE_LIMITS[bucket]
        with self._lock:
            window = self._requests.setdefault((key, bucket), deque())
            while window and window[0] <= now - RATE_WINDOW:
                window.popleft()
            if len(window) >= limit:
                raise ApiError(
                    429,
                    f"ThrottlerException: Too Many Requests (limit {limit} requests per minute).",
                )
            window.append(now)
        return key

    @staticmethod
    def plan_for(key: str) -> Plan:
        return PLANS[next((p for m, p in PLAN_MARKERS if m in key), DEFAULT_PLAN)]

    def check_credit_and_concurrency(self, key: str) -> None:
        if NO_CREDIT_MARKER in key:
            raise ApiError(
                402,
                "Insufficient credits: add credits or upgrade your plan to start a generation.",
            )
        if not self.env.faults.plan_limits:
            return
        plan = self.plan_for(key)
        active = sum(
            1
            for g in self._owned(key)
            if g.batch_id is None and not g.lifecycle.snapshot().stage.terminal
        )  # batch generations bypass the plan's concurrency
        if active >= plan.concurrency:
            raise ApiError(
                429,
                f"Concurrency limit reached: the {plan.name} plan runs {plan.concurrency} "
                f"generation{'s' if plan.concurrency > 1 else ''} at a time "
                f"({active} pending or processing).",
            )

    # ---------------------------------------------------------------------- idempotency

    def claim(self, key: str, idem: str, fingerprint: str) -> Generation | None:
        """The generation a replay returns, or None after reserving ``idem`` for this request."""
        slot = (key, idem)
        with self._lock:
            now = time.time()
            for k in [k for k, v in self._idempotency.items() if now - v[2] > IDEMPOTENCY_TTL]:
                del self._idempotency[k]
            if slot in self._in_flight:
                raise ApiError(
                    409,
                    "A request with this Idempotency-Key is still being processed: retry later "
                    "with the same key.",
                    code="IDEMPOTENCY_REQUEST_IN_PROGRESS",
                )
            known = self._idempotency.get(slot)
            if known is not None:
                if known[0] != fingerprint:
                    raise ApiError(
                        422,
                        "This Idempotency-Key was used with a different request body: reuse a "
                        "key only to retry the same request.",
                        code="IDEMPOTENCY_KEY_MISMATCH",
                    )
                return self._generations[known[1]]
            self._in_flight.add(slot)
            return None

    def settle(self, key: str, idem: str, fingerprint: str, gen: Generation | None) -> None:
        with self._lock:
            self._in_flight.discard((key, idem))
            if gen is not None:
                self._idempotency[(key, idem)] = (fingerprint, gen.id, time.time())

    # ------------------------------------------------------------------------- creating

    def new_scratch(self) -> Path:
        """A folder for one request's decoded inputs (never served: it is under ``.inputs``)."""
        self._inputs.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="gen-", dir=self._inputs))

    def store_uploads(self, body: Body, names: list[str]) -> None:
        """Save uploaded files where the sandbox serves them (``names`` gets each file name, for
        clean-up); merge them into ``input``."""
        fields = body.fields
        if not body.uploads:
            return
        if fields.get("input") is None:
            fields["input"] = []
        items = fields["input"]
        if not isinstance(items, list):
            return
        for kind in ("video", "audio"):
            upload = body.uploads.get(kind)
            if upload is None:
                continue
            name = f"upload-{uuid.uuid4().hex[:16]}{_upload_suffix(kind, upload)}"
            path = self.env.files.path(name)
            path.write_bytes(upload.data)
            names.append(name)
            url = self.env.files.url(name)
            same = [i for i in items if isinstance(i, dict) and i.get("type") == kind]
            empty = [i for i in same if i.get("url") is None]
            if empty:
                empty[0]["url"] = url
            elif same:  # "combining both file and url inputs is supported, the file taking
                same[0]["url"] = url  # precedence": the file replaces the first item's url
            elif kind == "video":
                items.insert(0, {"type": "video", "url": url})
            else:
                items.append({"type": "audio", "url": url})

    def fetch_inputs(self, spec: Spec, scratch: Path) -> list[str]:
        """Local paths for every URL input (blocking); why any of them cannot be fetched."""
        unreachable: list[str] = []
        for item in spec.items:
            if item.url is None:
                continue
            try:
                item.path = fetch(
                    item.url,
                    sandbox_url=self._sandbox_url,
                    store_root=self.env.files.folder.parent,
                    scratch=scratch,
                )
            except Unreachable as exc:
                unreachable.append(f"input.{item.index}.url could not be downloaded: {exc.reason}")
        return unreachable

    def _next_ms(self) -> tuple[int, int]:
        with self._lock:
            self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
            self._seq += 1
            return self._last_ms, self._seq

    def create(
        self,
        key: str,
        spec: Spec,
        scratch: Path,
        unreachable: list[str],
        *,
        batch_id: str | None = None,
    ) -> Generation:
        created, seq = self._next_ms()
        gen = Generation(str(uuid.uuid4()), key, seq, created, spec, scratch, batch_id=batch_id)
        gen.lifecycle = Lifecycle(
            self.env.clock, TIMING, on_change=lambda s, snap: self._changed(gen, s, snap)
        )
        with self._lock:
            self._generations[gen.id] = gen
        self.env.audit.created(NAME, gen.id, key, "generate", label=spec.output_file_name)
        failure = self.env.faults.take_job_failure()
        if unreachable:
            gen.lifecycle.fail(UNREACHABLE_CODE, "; ".join(unreachable))
        elif failure is not None:
            gen.lifecycle.fail(*failure, scheduled=True)
        elif spec.deferred is not None:
            gen.lifecycle.fail(spec.deferred.code, spec.deferred.message)
        else:
            self.env.render.submit(self._render, gen)
        if unreachable or failure is not None or spec.deferred is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        self.env.clock.track(gen.lifecycle)  # stamps each stage on time, fires the webhook
        return gen

    def _render(self, gen: Generation) -> None:
        """Check the media and make the output (in the render pool); COMPLETED only after."""
        try:
            render(gen, self.env)
        except GenerationFailure as exc:
            gen.lifecycle.fail(exc.code, exc.message)
            return
        except Exception as exc:
            log.exception("rendering %s failed", gen.id)
            gen.lifecycle.fail("generation_internal_error", f"Rendering failed: {exc}")
            return
        finally:
            shutil.rmtree(gen.scratch, ignore_errors=True)
        gen.lifecycle.output_ready()

    def _changed(self, gen: Generation, stage: Stage, snap: Snapshot) -> None:
        """Called once per stage reached: a terminal one is POSTed to the webhook, signed."""
        if stage.terminal and gen.batch_id is not None:
            with self._lock:
                batch = self._batches.get(gen.batch_id)
            if batch is not None:  # from a thread of its own: this generation's lock is held
                threading.Thread(target=self._batch_changed, args=(batch,), daemon=True).start()
        url = gen.spec.webhook_url
        if not url or not stage.terminal:
            return
        body = json.dumps(self.generation_json(gen, snap), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Sync-Webhooks/2.0 (nbmedia sandbox)",
            SIGNATURE_HEADER: sign(self.env.webhook_secret, int(time.time()), body),
        }
        self.env.webhooks.send(Delivery(NAME, url, _status(snap), body, headers, key=gen.id))

    # -------------------------------------------------------------------------- reading

    def _owned(self, key: str) -> list[Generation]:
        with self._lock:
            return [g for g in self._generations.values() if g.key == key]

    def get(self, key: str, gen_id: str) -> Generation:
        with self._lock:
            gen = self._generations.get(gen_id)
        if gen is None or gen.key != key:
            raise ApiError(404, f"Generation with id {gen_id} not found")
        return gen

    def audit_lookup(self, gen_id: str, ref: Any = None) -> dict[str, Any] | None:
        """The sandbox audit's view of a generation: its status now, the files it points at."""
        with self._lock:
            gen = self._generations.get(gen_id)
        if gen is None:
            return None
        snap = gen.lifecycle.snapshot()
        names = [gen.output_name, gen.segment_name] if snap.stage is Stage.SUCCEEDED else []
        return {
            "status": _status(snap),
            "outputs": [n for n in names if n],
            "ended_at": snap.ended_at,
        }

    def generation_json(self, gen: Generation, snap: Snapshot | None = None) -> dict[str, Any]:
        """The Generation object, identical for create, GET, list rows and webhooks."""
        snap = snap or gen.lifecycle.snapshot()
        done = snap.stage is Stage.SUCCEEDED
        failed = snap.stage is Stage.FAILED and snap.error is not None
        files = self.env.files
        return {
            "id": gen.id,
            "createdAt": _iso(gen.created_ms),
            "status": _status(snap),
            "model": gen.spec.model,
            "input": gen.spec.input,
            "options": gen.spec.options,
            "segments": gen.spec.segments,
            "outputUrl": files.url(gen.output_name) if done and gen.output_name else None,
            "outputDuration": gen.output_duration if done else None,
            "segmentOutputUrl": (
                files.url(gen.segment_name) if done and gen.segment_name else None
            ),
            "webhookUrl": gen.spec.webhook_url,
            "error": snap.error[1] if failed and snap.error else None,
            "error_code": snap.error[0] if failed and snap.error else None,
        }

    def list_json(self, key: str, request: Request) -> list[dict[str, Any]]:
        statuses = _query_list(request, "status")
        bad = [s for s in statuses if s not in LIST_STATUSES]
        if bad:
            raise ApiError(
                400,
                [
                    "each value in status must be one of the following values: "
                    + ", ".join(LIST_STATUSES)
                ],
            )
        ids = set(_query_list(request, "ids"))
        rows = []
        for gen in sorted(self._owned(key), key=lambda g: g.seq, reverse=True):
            if ids and gen.id not in ids:
                continue
            row = self.generation_json(gen)
            if not statuses or row["status"] in statuses:
                rows.append(row)
        return rows

    # ----------------------------------------------------------------------- asset library

    def resolve_assets(self, key: str, spec: Spec) -> None:
        """Point every ``assetId`` input at its asset's file: an id the key does not own is 404
        ``asset_not_found`` (as ``GET /v2/assets/{id}``), an asset of the wrong type a 400."""
        for item in spec.items:
            if item.asset_id is None:
                continue
            asset = self.asset(key, item.asset_id)
            allowed = ASSET_NEEDS[item.type]
            if asset.type not in allowed:
                raise ApiError(
                    400,
                    [
                        f"input.{item.index}.assetId names a{'n' if asset.type == 'AUDIO' else ''} "
                        f"{asset.type} asset; a {item.type} input takes {' or '.join(allowed)}"
                    ],
                )
            item.url = asset.url

    def asset(self, key: str, asset_id: str) -> Asset:
        with self._lock:
            asset = self._assets.get(asset_id)
        if asset is None or asset.key != key:
            raise ApiError(404, f"Asset with id {asset_id} not found", error_code="asset_not_found")
        return asset

    def presign(self, key: str, body: Any) -> dict[str, Any]:
        name, mime, size = _check_upload_request(body)
        suffix = Path(name).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""
        stored = f"asset-{uuid.uuid4().hex[:16]}{suffix}"
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._uploads[token] = PendingUpload(
                key, stored, name, mime, size, time.time() + UPLOAD_URL_TTL
            )
        return {
            "uploadUrl": f"{self.env.base_url}/uploads/{token}",
            "url": self.env.files.url(stored),
            "expiresIn": UPLOAD_URL_TTL,
        }

    async def receive_upload(self, request: Request) -> Response:
        """The presigned PUT: no key; the Content-Type must be the one declared; at most the
        declared size (S3-style 403s for a bad or expired URL or a different Content-Type)."""
        with self._lock:
            pending = self._uploads.get(request.path_params["token"])
        if pending is None or pending.expires < time.time():
            return Response("AccessDenied: the upload URL is unknown or has expired", 403)
        if request.headers.get("content-type", "") != pending.content_type:
            return Response(
                "SignatureDoesNotMatch: the Content-Type must be the one given to "
                f"/v2/assets/upload ({pending.content_type})",
                403,
            )
        try:
            data = await _read_body(request, pending.size)
        except ApiError:
            return Response(f"EntityTooLarge: more than the declared {pending.size} bytes", 400)
        self.env.files.path(pending.name).write_bytes(data)
        with self._lock:
            self._presigned_urls[self.env.files.url(pending.name)] = pending.file_name
        return Response(status_code=200)

    def register_asset(self, key: str, body: Any) -> Asset:
        """``POST /v2/assets`` (blocking): the URL's file is fetched and probed; a ``data:`` URI
        or a file of another provider is copied into this one's files so the asset has a URL."""
        from .services.media.probe import probe

        url, kind, name = _check_asset_request(body)
        scratch = self.new_scratch()
        try:
            try:
                path = fetch(
                    url,
                    sandbox_url=self._sandbox_url,
                    store_root=self.env.files.folder.parent,
                    scratch=scratch,
                )
            except Unreachable as exc:
                raise ApiError(400, [f"url could not be verified: {exc.reason}"]) from None
            try:
                info = probe(path)
            except (ValueError, OSError):
                info = {"duration": None, "video": None, "audio": None}
            stream = info["audio"] if kind == "AUDIO" else info["video"]
            if stream is None:
                raise ApiError(400, [f"url is not a readable {kind.lower()} file"])
            if path.parent != self.env.files.folder:
                suffix = (
                    path.suffix
                    if path.suffix
                    else {"VIDEO": ".mp4", "AUDIO": ".wav"}.get(kind, ".png")
                )
                stored = f"asset-{uuid.uuid4().hex[:16]}{suffix}"
                shutil.copyfile(path, self.env.files.path(stored))
                path, url = self.env.files.path(stored), self.env.files.url(stored)
            with self._lock:
                uploaded = self._presigned_urls.get(url)
            created, seq = self._next_ms()
            video = info["video"] if kind != "AUDIO" else None
            asset = Asset(
                id=str(uuid.uuid4()),
                key=key,
                seq=seq,
                created_ms=created,
                type=kind,
                url=url,
                name=name or uploaded or path.name,
                size=path.stat().st_size,
                format=path.suffix.lstrip(".").lower(),
                input_type="UPLOAD" if uploaded is not None else "URL",
                duration=round(float(info["duration"]), 3)
                if info["duration"] and kind != "IMAGE"
                else None,
                width=video["width"] if video else None,
                height=video["height"] if video else None,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        with self._lock:
            self._assets[asset.id] = asset
        return asset

    def delete_asset(self, key: str, asset_id: str) -> dict[str, str]:
        asset = self.asset(key, asset_id)
        with self._lock:
            self._assets.pop(asset.id, None)
        return {"id": asset.id}

    def list_assets(self, key: str, request: Request) -> dict[str, Any]:
        q = request.query_params
        problems = Problems()
        types = _query_list(request, "types")
        if any(t not in ASSET_TYPES for t in types):
            problems.add(
                f"each value in types must be one of the following values: {', '.join(ASSET_TYPES)}"
            )
        sort = q.get("sortBy", ASSET_SORT_DEFAULT)
        if sort not in ASSET_SORTS:
            problems.add(f"sortBy must be one of the following values: {', '.join(ASSET_SORTS)}")
        limit = ASSET_PAGE_DEFAULT
        if q.get("limit") is not None:
            raw = q["limit"]
            if not (raw.isdigit() and ASSET_PAGE[0] <= int(raw) <= ASSET_PAGE[1]):
                problems.add(f"limit must be an integer from {ASSET_PAGE[0]} to {ASSET_PAGE[1]}")
            else:
                limit = int(raw)
        start = 0
        cursor = q.get("cursor")
        if cursor is not None:
            if not re.fullmatch(r"o[0-9]{1,9}", cursor):
                problems.add("cursor is not a cursor this API returned")
            else:
                start = int(cursor[1:])
        problems.raise_if_any()
        search = (q.get("searchQuery") or "").lower()
        with self._lock:
            rows = [a for a in self._assets.values() if a.key == key]
        if q.get("projectId"):
            rows = []  # no asset of the sandbox belongs to a project
        rows = [a for a in rows if (not types or a.type in types) and search in a.name.lower()]
        by = ASSET_SORTS[sort]
        rows.sort(key=lambda a: a.seq)
        rows.sort(key=lambda a: _asset_sort(a, by), reverse=sort.endswith("Desc"))
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        return {
            "items": [a.json() for a in page],
            "nextCursor": f"o{start + limit}" if more else None,
            "totalCount": len(rows),
        }

    # ----------------------------------------------------------------------------- batches

    def check_batch_allowed(self, key: str) -> Plan:
        plan_id = next((p for m, p in PLAN_MARKERS if m in key), DEFAULT_PLAN)
        plan = PLANS[plan_id]
        if plan_id not in BATCH_PLANS:
            raise ApiError(
                402,
                f"The Batch API is available only on the Scale and Enterprise plans (this key "
                f"is on {plan.name}).",
                error_code="plan_upgrade_required",
            )
        if NO_CREDIT_MARKER in key:
            raise ApiError(402, "Insufficient credits: add credits to start a batch.")
        return plan

    def check_batch_concurrency(self, key: str) -> None:
        if not self.env.faults.plan_limits:
            return
        plan_id = next((p for m, p in PLAN_MARKERS if m in key), DEFAULT_PLAN)
        limit = BATCH_CONCURRENCY[plan_id]
        with self._lock:
            mine = [b for b in self._batches.values() if b.key == key]
        running = [b for b in mine if self.batch_json(b)["status"] not in ("COMPLETED", "FAILED")]
        if len(running) >= limit:
            raise ApiError(
                429,
                "Batch concurrency limit reached. Please wait for an existing batch to complete "
                f"or upgrade your plan ({len(running)} of {limit} running).",
                error_code="concurrency_limit_reached",
            )

    def start_batch(
        self, key: str, rows: list[tuple[str, Spec, Path, list[str]]], webhook_url: str | None
    ) -> Batch:
        created, seq = self._next_ms()
        batch = Batch(f"batch_{uuid.uuid4().hex}", key, seq, created, webhook_url, [])
        with self._lock:
            self._batches[batch.id] = batch
        for request_id, spec, scratch, unreachable in rows:
            gen = self.create(key, spec, scratch, unreachable, batch_id=batch.id)
            batch.rows.append((request_id, gen))
        self._batch_changed(batch)  # a batch whose generations all failed at once ends here
        return batch

    def batch(self, key: str, batch_id: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or batch.key != key:
            raise ApiError(404, f"Batch with id {batch_id} not found", error_code="batch_not_found")
        return batch

    def batch_json(self, batch: Batch, *, status: str | None = None) -> dict[str, Any]:
        """The SDK's ``BatchResponse``; ``status`` overrides the derived one (the create answer
        says PENDING)."""
        stages = [_status(g.lifecycle.snapshot()) for _, g in batch.rows]
        derived = batch_status(stages) if stages else "PENDING"
        done = derived in ("COMPLETED", "FAILED") and len(stages) == len(batch.rows) and stages
        return {
            "id": batch.id,
            "created_at": _iso(batch.created_ms),
            "status": status or derived,
            "metrics": {
                "total_generations": len(batch.rows),
                "success_count": stages.count("COMPLETED"),
                "failed_count": sum(s in ("FAILED", REJECTED) for s in stages),
                "pending_count": sum(s not in TERMINAL_STATUSES for s in stages),
            },
            "webhookUrl": batch.webhook_url,
            "outputUrl": f"{self.env.base_url}/v2/batches/{batch.id}/result" if done else "",
        }

    def batch_results(self, batch_id: str) -> bytes | None:
        """The results file once the batch has ended: one line per request, in file order,
        ``{"request_id", "response": <the Generation object>}``."""
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or not self.batch_json(batch)["outputUrl"]:
            return None
        lines = [
            json.dumps({"request_id": rid, "response": self.generation_json(g)})
            for rid, g in batch.rows
        ]
        return ("\n".join(lines) + "\n").encode()

    def list_batches(self, key: str, request: Request) -> list[dict[str, Any]]:
        q = request.query_params
        problems = Problems()
        status = q.get("status")
        if status is not None and status not in BATCH_STATUSES:
            problems.add(f"status must be one of the following values: {', '.join(BATCH_STATUSES)}")
        bounds: dict[str, float] = {}
        for name in ("created_after", "created_before"):
            raw = q.get(name)
            if raw is None:
                continue
            try:
                moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                problems.add(f"{name} must be an ISO 8601 date-time")
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            bounds[name] = moment.timestamp() * 1000
        problems.raise_if_any()
        with self._lock:
            mine = sorted((b for b in self._batches.values() if b.key == key), key=lambda b: -b.seq)
        rows = []
        for b in mine:
            if "created_after" in bounds and b.created_ms <= bounds["created_after"]:
                continue
            if "created_before" in bounds and b.created_ms >= bounds["created_before"]:
                continue
            row = self.batch_json(b)
            if status is None or row["status"] == status:
                rows.append(row)
        return rows

    def _batch_changed(self, batch: Batch) -> None:
        """Once every generation of the batch has ended, POST the batch once to its webhook."""
        if not batch.webhook_url or len(batch.rows) == 0:
            return
        row = self.batch_json(batch)
        if (
            row["status"] not in ("COMPLETED", "FAILED")
            or len(batch.rows) < row["metrics"]["total_generations"]
        ):
            return
        with self._lock:
            if batch.notified:
                return
            batch.notified = True
        m = row["metrics"]
        payload = {
            "id": batch.id,
            "status": row["status"],
            "metrics": {
                "totalGenerations": m["total_generations"],
                "successCount": m["success_count"],
                "failedCount": m["failed_count"],
                "pendingCount": m["pending_count"],
            },
            "outputUrl": row["outputUrl"],
            "webhookUrl": batch.webhook_url,
            "createdAt": row["created_at"],
            "options": {},
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        digest = hmac.new(self.env.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Sync-Webhooks/2.0 (nbmedia sandbox)",
            BATCH_SIGNATURE_HEADER: digest,
        }
        self.env.webhooks.send(
            Delivery(NAME, batch.webhook_url, row["status"], body, headers, key=batch.id)
        )

    def estimate(self, spec: Spec, scratch: Path) -> list[dict[str, float]]:
        """Frames and cost of ``spec`` (blocking: the media are fetched and probed)."""
        failure = spec.deferred
        if failure is not None:
            raise ApiError(400, [failure.message])
        unreachable = self.fetch_inputs(spec, scratch)
        if unreachable:
            raise ApiError(400, unreachable)
        try:
            assert spec.video is not None
            video = probe_video(spec.video)
            for item in spec.audio:
                if item.script is not None:
                    item.seconds = len(item.script) / SCRIPT_CHARS_PER_SECOND
                else:
                    item.seconds = probe_audio(item)
                    check_audio_length(item)
            check_against_media(spec, video)
        except GenerationFailure as exc:
            raise ApiError(400, [exc.message]) from None
        return [estimate(spec, video, spec.audio[0].seconds)]


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


@dataclass
class Asset:
    """One file of a key's media library."""

    id: str
    key: str
    seq: int
    created_ms: int
    type: str
    url: str
    name: str
    size: int
    format: str
    input_type: str
    duration: float | None
    width: int | None
    height: int | None

    def json(self) -> dict[str, Any]:
        """The SDK's ``Asset`` (every key, ``null`` when unknown)."""
        return {
            "id": self.id,
            "createdAt": _iso(self.created_ms),
            "updatedAt": _iso(self.created_ms),
            "name": self.name,
            "url": self.url,
            "size": self.size,
            "format": self.format,
            "type": self.type,
            "inputType": self.input_type,
            "durationSeconds": self.duration,
            "thumbnailUrl": None,
            "visibility": "USER",
            "width": self.width,
            "height": self.height,
            "projectId": None,
        }


@dataclass
class PendingUpload:
    """A presigned upload URL handed out by ``POST /v2/assets/upload``."""

    key: str
    name: str
    """Where the bytes are stored (a file of the provider's folder)."""
    file_name: str
    """The ``fileName`` declared: the asset's name unless registered with another."""
    content_type: str
    size: int
    expires: float


def _check_upload_request(body: Any) -> tuple[str, str, int]:
    if not isinstance(body, dict):
        raise ApiError(400, ["the request body must be a JSON object"])
    problems = Problems()
    problems.unknown(body, UPLOAD_FIELDS, "")
    name, mime, size = body.get("fileName"), body.get("contentType"), body.get("size")
    if not (isinstance(name, str) and 0 < len(name) <= ASSET_NAME_MAX):
        problems.add(f"fileName must be a string of 1-{ASSET_NAME_MAX} characters")
    if not (isinstance(mime, str) and MIME_TYPE.fullmatch(mime)):
        problems.add("contentType must be a MIME type such as video/mp4")
    if not (_is_int(size) and 1 <= size <= ASSET_UPLOAD_MAX):
        problems.add(f"size must be an integer from 1 to {ASSET_UPLOAD_MAX} (5 GB)")
    problems.raise_if_any()
    return name, mime, size


def _check_asset_request(body: Any) -> tuple[str, str, str | None]:
    if not isinstance(body, dict):
        raise ApiError(400, ["the request body must be a JSON object"])
    problems = Problems()
    problems.unknown(body, ASSET_FIELDS, "")
    url, kind, name = body.get("url"), body.get("type"), body.get("name")
    if url is None:
        problems.add("url should not be empty")
    elif not _is_url(url):
        problems.add("url must be a URL address (http, https or a data: URI)")
    if kind is None:
        problems.add("type should not be empty")
    problems.one_of(body, "type", "", ASSET_TYPES)
    if name is not None and not (isinstance(name, str) and 0 < len(name) <= ASSET_NAME_MAX):
        problems.add(f"name must be a string of 1-{ASSET_NAME_MAX} characters")
    problems.raise_if_any()
    if body.get("projectId") is not None:
        raise ApiError(
            422,
            f"Project {body['projectId']} not found in your organization (the sandbox has no "
            "projects).",
            error_code="project_not_found",
        )
    return url, kind, name


def _asset_sort(asset: Asset, by: str) -> Any:
    return {
        "name": asset.name.lower(),
        "date": asset.seq,
        "duration": asset.duration if asset.duration is not None else -1.0,
        "size": asset.size,
        "kind": asset.type,
    }[by]


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


@dataclass
class Batch:
    id: str
    key: str
    seq: int
    created_ms: int
    webhook_url: str | None
    rows: list[tuple[str, Generation]]
    """(request_id, generation) in file order."""
    notified: bool = False


def batch_status(stages: list[str]) -> str:
    """A batch's status from its generations' (ours: COMPLETED once every one has ended, FAILED
    if every one failed; PROCESSING once any has started; JOBS_CREATED before)."""
    ended = [s for s in stages if s in TERMINAL_STATUSES]
    if len(ended) == len(stages):
        return "COMPLETED" if "COMPLETED" in stages else "FAILED"
    if any(s != "PENDING" for s in stages):
        return "PROCESSING"
    return "JOBS_CREATED"


TERMINAL_STATUSES = ("COMPLETED", "FAILED", REJECTED)


def parse_batch_file(data: bytes, resolve: Callable[[Spec], None]) -> list[tuple[str, Spec]]:
    """The lines of a batch file as (request_id, Spec), or one 400 listing every problem by line
    (``resolve`` fills asset inputs, raising the generate route's error)."""
    if len(data) > BATCH_FILE_MAX:
        raise ApiError(
            400,
            [f"input file is {len(data) / MiB:.1f} MB; the limit is {BATCH_FILE_MAX // MiB} MB"],
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, ["input must be a UTF-8 JSON Lines file"]) from None
    problems: list[str] = []
    rows: list[tuple[str, Spec]] = []
    seen: set[str] = set()
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    for n, line in lines:
        where = f"line {n}: "
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"{where}not valid JSON")
            continue
        if not isinstance(record, dict):
            problems.append(f"{where}must be a JSON object")
            continue
        problems += [
            f"{where}property {k} should not exist" for k in record if k not in BATCH_LINE_FIELDS
        ]
        rid = record.get("request_id")
        if not (isinstance(rid, str) and rid):
            problems.append(f"{where}request_id must be a non-empty string")
        elif rid in seen:
            problems.append(f"{where}request_id {json.dumps(rid)} is not unique")
        else:
            seen.add(rid)
        if record.get("endpoint") != BATCH_ENDPOINT:
            problems.append(f"{where}endpoint must be {BATCH_ENDPOINT}")
        try:
            spec = validate(record.get("payload"))
            resolve(spec)
        except ApiError as exc:
            messages = exc.message if isinstance(exc.message, list) else [exc.message]
            problems += [f"{where}payload: {m}" for m in messages]
            continue
        if isinstance(rid, str):
            rows.append((rid, spec))
    if not problems and not BATCH_SIZE[0] <= len(lines) <= BATCH_SIZE[1]:
        problems.append(
            f"input must hold {BATCH_SIZE[0]} to {BATCH_SIZE[1]} requests (got {len(lines)})"
        )
    if problems:
        raise ApiError(400, problems)
    return rows


def _query_list(request: Request, name: str) -> list[str]:
    """A query parameter given repeatedly and/or comma-separated."""
    return [
        v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()
    ]


def _upload_suffix(kind: str, upload: Upload) -> str:
    suffix = Path(upload.filename).suffix.lower()
    if suffix in UPLOAD_SUFFIXES[kind]:
        return suffix
    guessed = mimetypes.guess_extension(upload.content_type.split(";")[0].strip() or "")
    if guessed in UPLOAD_SUFFIXES[kind]:
        return guessed
    return UPLOAD_SUFFIXES[kind][0]


# ---------------------------------------------------------------------------- rendering

RATE = 44_100
"""Sample rate of the soundtrack the output is made from."""
PREVIEW_MAX_SIDE = 640
MOUTH_LEVELS = 32
"""Distinct mouth openings drawn (the opening is quantised to these)."""
MOUTH_MIN_REF = 0.02
"""Loudness (RMS) that opens the mouth fully is the clip's 95th percentile, at least this."""
SKIN = (232, 190, 160)
MOUTH = (60, 12, 18)
EYES = (40, 30, 30)
EMOTION_SKIN = {
    "happy": (245, 205, 140),
    "sad": (185, 190, 215),
    "angry": (235, 150, 135),
    "disgusted": (190, 205, 150),
    "surprised": (245, 215, 200),
    "neutral": SKIN,
}
"""react-1's emotion ``prompt`` tints the face."""


@dataclass(frozen=True)
class Face:
    """Where the face disc and its mouth box sit in a ``width`` x ``height`` frame."""

    width: int
    height: int

    @property
    def diameter(self) -> int:
        return max(16, _even(0.44 * self.height))

    @property
    def center(self) -> tuple[int, int]:
        return self.width // 2, round(0.6 * self.height)

    @property
    def disc_origin(self) -> tuple[int, int]:
        cx, cy = self.center
        return _even(cx - self.diameter / 2), _even(cy - self.diameter / 2)

    @property
    def mouth_size(self) -> tuple[int, int]:
        return max(8, _even(0.5 * self.diameter)), max(6, _even(0.36 * self.diameter))

    @property
    def mouth_origin(self) -> tuple[int, int]:
        cx, cy = self.center
        mw, mh = self.mouth_size
        return _even(cx - mw / 2), _even(cy + 0.2 * self.diameter - mh / 2)


def _even(x: float) -> int:
    return max(2, 2 * round(x / 2))


def preview_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, PREVIEW_MAX_SIDE / max(width, height))
    return _even(width * scale), _even(height * scale)


def voice_spec(voice_id: str) -> str:
    """The eSpeak NG voice a ``voiceId`` speaks with (used by the voice picker's samples)."""
    from .services.media.speech import voice_for

    return voice_for(voice_id)


def _samples(item: Item) -> np.ndarray:
    """Mono float32 at ``RATE``: the decoded audio, or the script spoken in its voice."""
    from .services.media.audio import resample
    from .services.media.probe import decode_audio

    if item.script is not None:
        from .services.media.speech import synthesize

        assert item.voice_id is not None
        pcm, rate = synthesize(item.script, voice=voice_spec(item.voice_id))
        return resample(pcm.astype(np.float32) / 32768.0, rate, RATE)
    assert item.path is not None
    return decode_audio(item.path, RATE)[0]


def _fit(samples: np.ndarray, n: int) -> np.ndarray:
    """Exactly ``n`` samples: cut, or padded with silence."""
    if len(samples) >= n:
        return samples[:n]
    return np.concatenate([samples, np.zeros(n - len(samples), dtype=np.float32)])


def soundtrack(spec: Spec, sounds: dict[int, np.ndarray], n_samples: int) -> np.ndarray:
    """The output's audio: the first input fitted to the output, or each segment's audio."""
    if not spec.segments:
        return _fit(sounds[spec.audio[0].index], n_samples)
    by_ref = {i.ref_id: i.index for i in spec.audio if i.ref_id}
    track = np.zeros(n_samples, dtype=np.float32)
    for seg in spec.segments:
        crop = seg["audioInput"]
        audio = sounds[by_ref[crop["refId"]]]
        if crop.get("startTime") is not None:
            audio = audio[round(crop["startTime"] * RATE) : round(crop["endTime"] * RATE)]
        start = min(n_samples, round(seg["startTime"] * RATE))
        end = min(n_samples, round(seg["endTime"] * RATE))
        track[start:end] = _fit(audio, end - start)
    return track


def mouth_openings(track: np.ndarray, frames: int, fps: Fraction) -> np.ndarray:
    """0..1 per frame: the RMS of the frame's audio window over the clip's loud level."""
    bounds = np.round(np.arange(frames + 1) * (RATE / float(fps))).astype(np.int64)
    bounds = np.clip(bounds, 0, len(track))
    energy = np.concatenate([[0.0], np.cumsum(track.astype(np.float64) ** 2)])
    counts = np.maximum(np.diff(bounds), 1)
    rms = np.sqrt((energy[bounds[1:]] - energy[bounds[:-1]]) / counts)
    ref = max(float(np.percentile(rms, 95)) if len(rms) else 0.0, MOUTH_MIN_REF)
    return np.clip(rms / ref, 0.0, 1.0)


def mouth_sprites(face: Face, temperature: float, skin: tuple[int, int, int]) -> np.ndarray:
    """(levels, h, w, 3) uint8: the mouth box with an ellipse from closed to fully open."""
    mw, mh = face.mouth_size
    y, x = np.mgrid[0:mh, 0:mw].astype(np.float32)
    cx, cy = (mw - 1) / 2, (mh - 1) / 2
    a = 0.45 * mw
    b_min = 1.0
    b_max = max(b_min + 1, (mh / 2) * (0.35 + 0.6 * temperature))
    out = np.empty((MOUTH_LEVELS, mh, mw, 3), dtype=np.uint8)
    for level in range(MOUTH_LEVELS):
        b = b_min + (b_max - b_min) * level / (MOUTH_LEVELS - 1)
        inside = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0
        out[level] = skin
        out[level][inside] = MOUTH
    return out


def face_image(face: Face, skin: tuple[int, int, int]) -> Any:
    """The static face disc (RGBA), eyes included; the mouth is drawn per frame on top."""
    from PIL import Image, ImageDraw

    d = face.diameter
    img = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((0, 0, d - 1, d - 1), fill=(*skin, 255))
    r = max(1, round(d * 0.06))
    for ex in (0.32 * d, 0.68 * d):
        ey = 0.36 * d
        draw.ellipse((ex - r, ey - r, ex + r, ey + r), fill=(*EYES, 255))
    return img


def _timeline(spec: Spec, video: VideoInfo, seconds: float, frames: int) -> tuple[list[str], str]:
    """Input options for the video and the filter chain that lays it on the output's timeline."""
    fps = f"{video.fps.numerator}/{video.fps.denominator}"
    mode = None if spec.segments else spec.options["sync_mode"]
    longer = seconds > video.seconds + 1 / float(video.fps)
    head = "[0:v]setpts=PTS-STARTPTS,"
    in_opts: list[str] = []
    if mode == "loop" and longer:
        in_opts = ["-stream_loop", "-1"]
    elif mode == "bounce" and longer:
        size = 2 * (video.frames + 8)
        head = (
            "[0:v]setpts=PTS-STARTPTS,split[fw][bw];[bw]reverse[rv];"
            f"[fw][rv]concat=n=2:v=1:a=0,loop=loop=-1:size={size},setpts=N/({fps}*TB),"
        )
    else:
        if mode == "remap":
            head += f"setpts={seconds / video.seconds:.6f}*PTS,"
        # Holds the last frame: silence's rule when the audio is longer, and a guard for videos
        # whose picture ends before the container's stated duration.
        pad = max(0.0, seconds - video.seconds) + 1
        head += f"tpad=stop_mode=clone:stop_duration={pad:.3f},"
    width, height = preview_size(video.width, video.height)
    chain = (
        f"{head}fps={fps},trim=end_frame={frames},setpts=PTS-STARTPTS,"
        f"scale={width}:{height}:flags=bilinear,setsar=1,format=yuv420p[base]"
    )
    return in_opts, chain


def render_key(spec: Spec) -> dict[str, Any]:
    """Everything that decides a generation's output bytes, for the render cache: the model,
    options and segments, and each input as sent with its file's digest in place of its URL
    (the same media under two URLs is the same input)."""
    from .services.rendercache import file_digest

    items = [
        {
            **{k: v for k, v in spec.input[i.index].items() if k != "url"},
            "file": file_digest(i.path) if i.path else None,
        }
        for i in spec.items
    ]
    return {
        "provider": NAME,
        "model": spec.model,
        "options": spec.options,
        "segments": spec.segments,
        "items": items,
        "preview": PREVIEW_MAX_SIDE,
    }


def render(gen: Generation, env: Env) -> None:
    """The lip-synced MP4 (and the segments' WAV), or an identical earlier generation's."""
    suffix = f"-{gen.spec.output_file_name[:150]}" if gen.spec.output_file_name else ""
    name = f"{gen.id}{suffix}.mp4"
    outputs = {"video": env.files.path(name)}
    if gen.spec.segments:
        outputs["segments"] = env.files.path(f"{gen.id}-segments.wav")
    meta = env.rendercache.render(render_key(gen.spec), outputs, lambda: _render(gen.spec, outputs))
    gen.segment_name = outputs["segments"].name if "segments" in outputs else None
    gen.output_duration = meta["output_duration"]
    gen.output_name = name


def _render(spec: Spec, outputs: dict[str, Path]) -> dict[str, Any]:
    """Check the media, then write the lip-synced MP4 (and the segments' WAV)."""
    from .services.media import _ffmpeg
    from .services.media.audio import AAC, write_audio
    from .services.media.probe import probe

    assert spec.video is not None
    video = probe_video(spec.video)
    sounds: dict[int, np.ndarray] = {}
    for item in spec.audio:
        if item.script is None:  # before decoding: a too-long file is refused unread
            item.seconds = probe_audio(item)
            check_audio_length(item)
    for item in spec.audio:
        sounds[item.index] = _samples(item)
        item.seconds = len(sounds[item.index]) / RATE
        check_audio_length(item)
    check_against_media(spec, video)
    seconds = output_seconds(spec, video.seconds, spec.audio[0].seconds)
    frames = max(1, round(seconds * video.fps))
    exact = frames / float(video.fps)
    track = soundtrack(spec, sounds, round(exact * RATE))

    width, height = preview_size(video.width, video.height)
    face = Face(width, height)
    skin = EMOTION_SKIN.get(spec.options.get("prompt") or "neutral", SKIN)
    sprites = mouth_sprites(face, float(spec.options["temperature"]), skin)
    levels = np.round(mouth_openings(track, frames, video.fps) * (MOUTH_LEVELS - 1)).astype(int)
    fps = f"{video.fps.numerator}/{video.fps.denominator}"
    mw, mh = face.mouth_size
    fx, fy = face.disc_origin
    mx, my = face.mouth_origin
    with tempfile.TemporaryDirectory(prefix="nbmedia-syncso-") as tmp:
        work = Path(tmp)
        write_audio(work / "track.wav", track, RATE, "wav")
        face_image(face, skin).save(work / "face.png")
        np.ascontiguousarray(sprites[levels]).tofile(work / "mouth.rgb")
        in_opts, chain = _timeline(spec, video, seconds, frames)
        graph = (
            f"{chain};[base][1:v]overlay=x={fx}:y={fy}:format=auto[faced];"
            f"[faced][2:v]overlay=x={mx}:y={my}:eof_action=repeat:format=auto,format=yuv420p[v]"
        )
        with _ffmpeg.atomic(outputs["video"]) as part:
            _ffmpeg.run(
                [*in_opts, "-i", video.path.absolute(), "-i", "face.png"]
                + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{mw}x{mh}"]
                + ["-framerate", fps, "-i", "mouth.rgb", "-i", "track.wav"]
                + ["-filter_complex", graph, "-map", "[v]", "-map", "3:a", *AAC]
                + ["-frames:v", str(frames), "-r", fps, "-c:v", "libx264"]
                + ["-preset", "superfast", "-crf", "26", "-pix_fmt", "yuv420p"]
                + ["-movflags", "+faststart", "-t", f"{exact:.6f}", "-f", "mp4", part],
                cwd=work,
            )
    if "segments" in outputs:
        write_audio(outputs["segments"], track, RATE, "wav")
    return {"output_duration": round(float(probe(outputs["video"])["duration"]), 3)}


# ------------------------------------------------------------------------------- bodies


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413 past ``limit`` (read to the end either way)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise ApiError(413, f"request entity too large ({size / MiB:.1f} MB)")
    return b"".join(chunks)


def parse_multipart(raw: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """Form fields and files of a ``multipart/form-data`` body (no dependency needed)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise ApiError(400, ["multipart body without a boundary"])
    delimiter = b"--" + m[1].encode("latin-1")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in raw.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data[:-2] if data.endswith(b"\r\n") else data
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if not name:
            continue
        if filename is not None:
            if len(data) > MAX_UPLOAD_BYTES:
                raise ApiError(
                    413,
                    f"File too large: {name[1]} is {len(data) / MiB:.1f} MB; direct uploads are "
                    f"limited to {MAX_UPLOAD_BYTES // MiB} MB: pass a URL instead.",
                )
            files[name[1]] = Upload(
                name[1], filename[1], headers.get("content-type", ""), bytes(data)
            )
        else:
            fields[name[1]] = data.decode("utf-8", errors="replace")
    return fields, files


JSON_FORM_FIELDS = ("input", "options", "segments")


async def read_create_body(request: Request) -> Body:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        raw = await _read_body(request, 2 * MAX_UPLOAD_BYTES + MiB)
        form, files = parse_multipart(raw, content_type)
        unknown = [n for n in files if n not in ("video", "audio")]
        problems = [f"property {n} should not exist" for n in unknown]
        fields: dict[str, Any] = {}
        for key, value in form.items():
            if key in JSON_FORM_FIELDS:
                try:
                    fields[key] = json.loads(value)
                except ValueError:
                    problems.append(f"{key} must be a JSON string")
            else:
                fields[key] = value
        if problems:
            raise ApiError(400, problems)
        digests = {n: hashlib.sha256(u.data).hexdigest() for n, u in files.items()}
        fingerprint = _canonical({"fields": fields, "files": digests})
        return Body(fields, files, hashlib.sha256(fingerprint.encode()).hexdigest())
    raw = await _read_body(request, MAX_UPLOAD_BYTES)
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Unexpected token in JSON: {exc}") from None
    fingerprint = hashlib.sha256(_canonical(parsed).encode()).hexdigest()
    return Body(parsed, {}, fingerprint)


def _idempotency_key(request: Request) -> str | None:
    values = request.headers.getlist("idempotency-key")
    if not values:
        return None
    if len(values) > 1 or not IDEMPOTENCY_KEY.fullmatch(values[0]):
        raise ApiError(
            400,
            "Idempotency-Key must be one header of 1-128 characters from A-Z a-z 0-9 . _ ~ -",
            code="INVALID_IDEMPOTENCY_KEY",
        )
    return values[0]


# ------------------------------------------------------------------------------- routes


def _endpoint(handler: Handler) -> Handler:
    """Run ``handler``; an ``ApiError`` becomes this provider's error body."""
    return endpoint(handler, ApiError)


def build(env: Env) -> list[Route]:
    """The sync.so v2 routes, relative to the provider's base URL."""
    api = SyncSo(env)
    env.audit.register(NAME, api.audit_lookup)

    async def create(request: Request) -> Response:
        key = api.authorize(request, "create")
        idem = _idempotency_key(request)
        body = await read_create_body(request)
        if idem is not None:
            replay = api.claim(key, idem, body.fingerprint)
            if replay is not None:
                env.audit.created(NAME, replay.id, key, "generate")  # counted as a replay
                return JSONResponse(
                    api.generation_json(replay),
                    status_code=201,
                    headers={"Idempotent-Replayed": "true"},
                )
        gen: Generation | None = None
        try:
            gen = await _create(api, key, body)
        finally:
            if idem is not None:
                api.settle(key, idem, body.fingerprint, gen)
        return JSONResponse(api.generation_json(gen), status_code=201)

    async def get_generation(request: Request) -> Response:
        key = api.authorize(request, "other")
        return JSONResponse(api.generation_json(api.get(key, request.path_params["id"])))

    async def list_generations(request: Request) -> Response:
        key = api.authorize(request, "other")
        return JSONResponse(api.list_json(key, request))

    async def estimate_cost(request: Request) -> Response:
        key = api.authorize(request, "other")
        raw = await _read_body(request, MAX_UPLOAD_BYTES)
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"Unexpected token in JSON: {exc}") from None
        spec = validate(parsed)
        api.resolve_assets(key, spec)
        scratch = api.new_scratch()
        try:
            result = await asyncio.to_thread(api.estimate, spec, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return JSONResponse(result, status_code=201)

    async def models(request: Request) -> Response:
        api.authorize(request, "other")
        return JSONResponse(
            [
                {
                    "id": model_id,
                    "name": model_id,
                    "type": info.type,
                    "version": info.version,
                    "description": info.description,
                }
                for model_id, info in MODELS.items()
            ]
        )

    async def json_body(request: Request) -> Any:
        raw = await _read_body(request, MAX_UPLOAD_BYTES)
        try:
            return json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"Unexpected token in JSON: {exc}") from None

    async def create_upload(request: Request) -> Response:
        key = api.authorize(request, "other")
        return JSONResponse(api.presign(key, await json_body(request)), status_code=201)

    async def create_asset(request: Request) -> Response:
        key = api.authorize(request, "other")
        body = await json_body(request)
        asset = await asyncio.to_thread(api.register_asset, key, body)
        return JSONResponse(asset.json(), status_code=201)

    async def list_assets(request: Request) -> Response:
        key = api.authorize(request, "other")
        return JSONResponse(api.list_assets(key, request))

    async def get_asset(request: Request) -> Response:
        key = api.authorize(request, "other")
        return JSONResponse(api.asset(key, request.path_params["id"]).json())

    async def delete_asset(request: Request) -> Response:
        key = api.authorize(request, "other")
        return JSONResponse(api.delete_asset(key, request.path_params["id"]))

    async def create_batch(request: Request) -> Response:
        key = api.authorize(request, "create")
        api.check_batch_allowed(key)
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise ApiError(400, ["the body must be multipart/form-data with an input file"])
        raw = await _read_body(request, BATCH_FILE_MAX + MiB)
        form, files = parse_multipart(raw, content_type)
        problems = [
            f"property {n} should not exist"
            for n in [*form, *files]
            if n not in (*BATCH_FORM_FIELDS, "input")
        ]
        if "input" not in files:
            problems.append("input should not be empty: send the JSON Lines file as input")
        dry = form.get("dry_run", "false").strip().lower()
        if dry not in ("true", "false"):
            problems.append("dry_run must be a boolean value")
        webhook = form.get("webhook_url") or None
        if webhook is not None and not (
            urlsplit(webhook).scheme in ("http", "https") and urlsplit(webhook).netloc
        ):
            problems.append("webhook_url must be a URL address")
        if problems:
            raise ApiError(400, problems)
        rows = parse_batch_file(files["input"].data, lambda spec: api.resolve_assets(key, spec))
        if dry == "true":
            return JSONResponse({"status": "VALIDATED"}, status_code=201)
        api.check_batch_concurrency(key)
        prepared = []
        for request_id, spec in rows:
            scratch = api.new_scratch()
            unreachable = await asyncio.to_thread(api.fetch_inputs, spec, scratch)
            prepared.append((request_id, spec, scratch, unreachable))
        batch = api.start_batch(key, prepared, webhook)
        return JSONResponse(api.batch_json(batch, status="PENDING"), status_code=201)

    async def get_batch(request: Request) -> Response:
        key = api.authorize(request, "other")
        return JSONResponse(api.batch_json(api.batch(key, request.path_params["id"])))

    async def list_batches(request: Request) -> Response:
        key = api.authorize(request, "other")
        return JSONResponse(api.list_batches(key, request))

    async def batch_result(request: Request) -> Response:
        data = api.batch_results(request.path_params["id"])
        if data is None:
            raise ApiError(404, "No results for this batch (unknown, or not finished yet)")
        return Response(data, media_type="application/jsonl")

    return [
        Route("/v2/assets/upload", _endpoint(create_upload), methods=["POST"]),
        Route("/v2/assets", _endpoint(create_asset), methods=["POST"]),
        Route("/v2/assets", _endpoint(list_assets), methods=["GET"]),
        Route("/v2/assets/{id}", _endpoint(get_asset), methods=["GET"]),
        Route("/v2/assets/{id}", _endpoint(delete_asset), methods=["DELETE"]),
        Route("/uploads/{token}", api.receive_upload, methods=["PUT"]),
        Route("/v2/batch", _endpoint(create_batch), methods=["POST"]),
        Route("/v2/batch", _endpoint(list_batches), methods=["GET"]),
        Route("/v2/batch/{id}", _endpoint(get_batch), methods=["GET"]),
        Route("/v2/batches/{id}/result", _endpoint(batch_result), methods=["GET"]),
        Route("/v2/generate", _endpoint(create), methods=["POST"]),
        Route("/v2/generate/upload", _endpoint(create), methods=["POST"]),
        Route("/v2/generate", _endpoint(list_generations), methods=["GET"]),
        Route("/v2/generations", _endpoint(list_generations), methods=["GET"]),
        Route("/v2/analyze/cost", _endpoint(estimate_cost), methods=["POST"]),
        Route("/v2/generate/estimate-cost", _endpoint(estimate_cost), methods=["POST"]),
        Route("/v2/generations/estimate-cost", _endpoint(estimate_cost), methods=["POST"]),
        Route("/v2/models", _endpoint(models), methods=["GET"]),
        Route("/v2/generate/{id}", _endpoint(get_generation), methods=["GET"]),
    ]


async def _create(api: SyncSo, key: str, body: Body) -> Generation:
    """Validate, check credit and concurrency, store uploads, fetch inputs, create."""
    stored: list[str] = []
    try:
        if not isinstance(body.fields, dict):
            raise ApiError(400, ["the request body must be a JSON object"])
        api.store_uploads(body, stored)
        spec = validate(body.fields)
        api.resolve_assets(key, spec)
        api.check_credit_and_concurrency(key)
    except ApiError:
        for name in stored:
            api.env.files.path(name).unlink(missing_ok=True)
        raise
    scratch = api.new_scratch()
    try:
        unreachable = await asyncio.to_thread(api.fetch_inputs, spec, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return api.create(key, spec, scratch, unreachable)
