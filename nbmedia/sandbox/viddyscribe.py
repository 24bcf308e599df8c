"""ViddyScribe Enterprise API on the sandbox, written from ``api-docs/viddyscribe.txt``, section 3
of ``providers.md`` and its readings ("Choices where the documentation is silent"); it shares no
code with the client in ``nbmedia/providers/``.

Mounted at ``/viddyscribe``: ``{sandbox}/viddyscribe`` replaces ``https://api.viddyscribe.com``,
so every documented path (``/enterprise/api/upload_media`` ...) works unchanged under it.
Languages, voices, categories, formats, plans, statuses, timings, limits and error codes are the
module-level tables below, so that a correction to our reading is one line.

Our readings where the documentation is silent (beyond those in providers.md):

- Keys: ``X-API-Key: vsk_<letters, digits, _ or ->``; anything else is 401 ``unauthorized``.
  Limits are per team and a key is its own team. A key containing ``_starter_`` is on the
  Starter plan (videos up to 10 min, files up to 32 MB), any other on Enterprise (2 h, 2 GB).
  A key containing ``_exhausted_`` has used up its allocation: every generation request is
  429 ``plan_limit_exceeded`` (uploads and reads still work); that 429 has no ``retry_after``,
  since waiting does not help.
- Errors: ``{"code", "message"}``; a 400 is ``invalid_request`` and its message names the field
  (``generation_config.language``, ``input.url`` ...). Every 429 except ``plan_limit_exceeded``
  adds ``retry_after`` (whole seconds) and a ``Retry-After`` header. The codes and statuses are
  ``ERRORS``. Checks run: auth (401), allocation (429 plan), submissions in flight (429
  concurrency), body and config (400), queue (429 queue), then the input (404, 409, 403, 415).
- ``concurrency_limit_exceeded``: at most ``SUBMISSIONS_IN_FLIGHT`` upload or generation
  requests of one team may be received and validated at once (counted from the headers to the
  answer, so a slow body holds its slot). ``queue_limit_exceeded``: a team runs
  ``PROCESSING_SLOTS`` jobs at a time; jobs beyond wait ``queued``, and a new job is refused
  while ``MAX_QUEUED_JOBS`` of the team's jobs have not started. ``rate_limit_exceeded``: only
  through the sandbox's ``rate_limit_next`` fault. ``faults.plan_limits = False`` (a benchmark
  knob) lifts the submissions in flight, the processing slots and the queue limit.
- Uploads. Direct (multipart ``file``, optional ``input={"type":"file"}``) and URL uploads are
  verified while the request waits: the answer is ``{media_id, status: "created",
  duration_seconds, frame_rate, width, height, file_size_bytes, filename, content_type}`` and the
  media can be used at once. A direct upload (or a data: URI) above 32 MB is 403
  ``file_too_large`` (the page lists no 413; the message points to the signed-URL flow); a
  file that is not decodable media, or has no video stream, is 415 ``no_video_stream``; a video
  longer than the plan allows is 403 ``video_too_long``. URL inputs: files this sandbox served
  (any provider's outputs, ViddyScribe's own signed links while fresh) and base64 data: URIs;
  any other URL cannot be fetched offline and is 400 ``invalid_request`` naming ``input.url``.
- Signed-URL flow: ``upload_url`` is a PUT on this sandbox (``/viddyscribe/upload/...``, no key,
  valid ``UPLOAD_URL_TTL`` s) that needs the ``Content-Type`` that was signed (else 403
  ``signature_mismatch``) and can be written until ``notify_upload_complete``. Notify checks the
  size (403 ``file_too_large`` over the plan; 409 ``upload_not_ready`` if nothing was PUT) and
  starts verification, which takes ``VERIFY_SECONDS`` on the clock: ``get_upload_status`` says
  ``pending`` (before notify), ``processing``, then ``completed`` or ``failed`` (with
  ``error_code`` ``no_video_stream`` / ``video_too_long`` and ``error``). ``canonical_media_id``
  is ``null`` until ``completed`` and then **always differs** from the provisional id; both ids
  are accepted from then on, and jobs report the canonical one. ``gcs_path`` is required by
  notify and optional (but checked) in ``get_upload_status``. Generating from a signed upload
  before it completed is 409 ``upload_not_ready``; after it failed, 409 ``upload_failed``.
- Generation: ``{"input": {...}, "generation_config": {...}}`` (JSON, or multipart with
  ``input`` and ``generation_config`` as JSON strings plus ``file``), or the overview's flat
  ``{"media_id", "language", ...}``. Unknown fields are 400; ``null`` means the default
  (``DEFAULT_CONFIG``: en-US, json, standard_ad, Achernar, Auto). ``language`` and ``voice``
  match case-insensitively and are reported in their canonical spelling. ``format`` is
  ``FORMATS`` (srt included); ``video`` (the page's fourth output) is accepted by
  ``generate_ad_video`` only and then gives the JSON output. ``custom_instructions`` (at most
  ``CUSTOM_INSTRUCTIONS_MAX`` characters) is validated and kept, and changes nothing.
  ``read_all_onscreen_text`` applies to ``extended_ad`` only, as the docs say.
- The API reference's further fields, per route as its pages list them (``ROUTE_FIELDS``; a
  field of another route is a 400 naming the routes that take it): ``auto_fit`` and
  ``allow_descriptions_over_music`` (booleans, default true, the reference's example; the
  sandbox detects no speech or music, so they change nothing), ``custom_captions``
  (``{"content", "format"?, "filename"?}``: content required, cue timing lines must parse;
  kept, changes nothing), ``description_content`` (audio and video; a string, kept, its meaning
  is not documented). ``volume_option`` ``auto`` | ``max`` and ``volume_level_db`` (-10 to 0
  dBFS, used with ``max``; ``max`` without a level is ``VOLUME_DB_DEFAULT``) set the narration's
  peak, in the audio track and in the described MP4's mix. ``audio_track_type`` (audio route
  only) ``mixed`` (default: the source's own sound under the narration, a stereo WAV) or
  ``ad_only`` (the narration alone, mono). ``input.filename`` (every input type) names the video
  in the outputs (the EDL's title and clip) and, for uploads, the media.
- Languages: the page's 52, as the Google Chirp 3 HD codes the star-name voices come with
  (Arabic ``ar-XA``, Bengali ``bn-IN``, Swahili ``sw-KE``, Urdu ``ur-IN``; Chinese ``zh-CN``,
  Norwegian ``nb-NO``). The docs give BCP-47 codes and no aliases: another region's code
  (``ar-SA``, ``no-NO``) is a 400 that names the listed code of that language.
  Voices: the 30 Chirp 3 HD / Gemini star names (the newer page says 31; the 31st is unknown).
- Jobs: ids ``task_<12 chars>``; statuses queued, processing, done, failed; timestamps
  ISO-8601 UTC (``...Z``, seconds). Timing is ``timing()``: half the video's length plus a few
  seconds (the docs' ~5 min per 10-min video), divided by the sandbox speed. A failed job has
  ``error_code`` and ``error`` (the ``fail_next_jobs`` fault, or ``internal_error``).
- Results: every done job has ``output``: json ``{"format": "json", "language", "ad_type",
  "segments": [{start, end, text}]}``; vtt/srt/edl ``{"format", "language", "ad_type",
  "content"}``; plus ``note`` when the wording fell back to English. Audio jobs add
  ``audio_signed_url`` (WAV), video jobs ``video_signed_url`` (MP4) and, for standard_ad,
  ``audio_signed_url``. Links are signed, valid ``SIGNED_URL_TTL`` s (15 min) of sandbox clock
  from the ``get_results`` call that made them; an expired or altered link is 403 (code
  ``signed_url_expired`` / ``signature_mismatch``); each ``get_results`` signs fresh links.
- Descriptions are made from the video itself: segments tile the video from 0 to its end, cut
  at its scene changes (ffmpeg's scene score and sharp colour changes) and split into pieces of
  at most ``MAX_SEGMENT_SECONDS`` (shorter for extended_ad, whose text is also longer). Each
  says what the frames show: light, main colours, motion, brightening or darkening, cuts.
  On-screen text is what the file's metadata carries (``title``, ``comment``, ``description``:
  pixels are not read, and the sandbox's own renders carry none): standard_ad names the title,
  extended_ad with ``read_all_onscreen_text`` reads every such text in its own segment(s) at the
  start. Wording: real templates for English, Spanish, French, German, Italian, Portuguese and
  Dutch (``WORDINGS``); the other languages get English text and a ``note``. The category
  changes the English opening only.
- Audio: eSpeak NG speaks each segment at its start (sped up, then cut, to fit before the next),
  in the language of the wording (English for the fallbacks), with the voice's eSpeak variant;
  a mono 16-bit WAV exactly the video's length. Extended AD does not pause the picture. The
  described MP4 is the input's picture (copied) with that track mixed over its own audio
  (``ORIGINAL_AUDIO_GAIN``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import shutil
import string
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .kit.routing import Handler, endpoint
from .services.clock import Lifecycle, Stage, Timing
from .services.inputs import Unreachable, data_uri_size, fetch, is_data_uri

if TYPE_CHECKING:
    from .kit.env import Env

NAME = "viddyscribe"
WEBHOOK_SECRET = ""
"""ViddyScribe documents no webhooks; the server asks every provider for a secret."""

log = logging.getLogger("nbmedia.sandbox.viddyscribe")

API = "/enterprise/api"
AUTH_HEADER = "X-API-Key"

# ------------------------------------------------------------------------------- keys, plans

KEY = re.compile(r"^vsk_[A-Za-z0-9_-]{1,200}$")
EXHAUSTED_MARKER = "_exhausted_"
"""A key containing this has used up its team allocation: generation is 429."""

MiB = 1024 * 1024
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

# ------------------------------------------------------------------------ request tables

LANGUAGES = {
    "en-US": "English (US)",
    "en-GB": "English (GB)",
    "en-AU": "English (AU)",
    "en-IN": "English (IN)",
    "es-ES": "Spanish (ES)",
    "es-US": "Spanish (US)",
    "fr-FR": "French (FR)",
    "fr-CA": "French (CA)",
    "de-DE": "German",
    "it-IT": "Italian",
    "pt-BR": "Portuguese (BR)",
    "ja-JP": "Japanese",
    "ko-KR": "Korean",
    "zh-CN": "Chinese",
    "ar-XA": "Arabic",
    "hi-IN": "Hindi",
    "bn-IN": "Bengali",
    "bg-BG": "Bulgarian",
    "hr-HR": "Croatian",
    "cs-CZ": "Czech",
    "da-DK": "Danish",
    "nl-NL": "Dutch (NL)",
    "nl-BE": "Dutch (BE)",
    "et-EE": "Estonian",
    "fi-FI": "Finnish",
    "el-GR": "Greek",
    "gu-IN": "Gujarati",
    "he-IL": "Hebrew",
    "hu-HU": "Hungarian",
    "id-ID": "Indonesian",
    "kn-IN": "Kannada",
    "lv-LV": "Latvian",
    "lt-LT": "Lithuanian",
    "ml-IN": "Malayalam",
    "mr-IN": "Marathi",
    "nb-NO": "Norwegian",
    "pl-PL": "Polish",
    "pa-IN": "Punjabi (India)",
    "ro-RO": "Romanian",
    "ru-RU": "Russian",
    "sr-RS": "Serbian (Cyrillic)",
    "sk-SK": "Slovak",
    "sl-SI": "Slovenian",
    "sv-SE": "Swedish",
    "sw-KE": "Swahili",
    "ta-IN": "Tamil",
    "te-IN": "Telugu",
    "th-TH": "Thai",
    "tr-TR": "Turkish",
    "uk-UA": "Ukrainian",
    "ur-IN": "Urdu",
    "vi-VN": "Vietnamese",
}
"""The page's 52 languages as BCP-47 codes, with the page's names."""

VOICES = (
    "Achernar", "Achird", "Algenib", "Algieba", "Alnilam", "Aoede", "Autonoe", "Callirrhoe",
    "Charon", "Despina", "Enceladus", "Erinome", "Fenrir", "Gacrux", "Iapetus", "Kore",
    "Laomedeia", "Leda", "Orus", "Puck", "Pulcherrima", "Rasalgethi", "Sadachbia",
    "Sadaltager", "Schedar", "Sulafat", "Umbriel", "Vindemiatrix", "Zephyr", "Zubenelgenubi",
)  # fmt: skip
"""Voice ids (the Gemini / Chirp 3 HD star names; the docs' example is Achernar)."""

SAME_LANGUAGE = {"no": "nb", "cmn": "zh"}
"""Primary subtags naming a listed language under another code (the 400's hint only)."""

CATEGORIES = (
    "Auto",
    "Educational Lecture",
    "Educational Kids",
    "Government Meeting",
    "Documentary",
    "Narrative Story",
    "Social Media",
    "Tutorial/How-To",
    "Vlog",
    "Commercial/Advertisement",
    "News",
    "Entertainment",
    "Home Video",
    "Video Call",
)
FORMATS = ("json", "vtt", "edl", "srt")
VIDEO_FORMAT = "video"
"""The page's fourth output format: accepted by ``generate_ad_video`` only."""
AD_TYPES = ("standard_ad", "extended_ad")
DEFAULT_CONFIG: dict[str, Any] = {
    "language": "en-US",
    "format": "json",
    "ad_type": "standard_ad",
    "voice": "Achernar",
    "custom_instructions": None,
    "read_all_onscreen_text": False,
    "video_category": "Auto",
    "auto_fit": True,
    "allow_descriptions_over_music": True,
    "custom_captions": None,
    "volume_option": "auto",
    "volume_level_db": None,
    "audio_track_type": "mixed",
    "description_content": None,
}
"""Every ``generation_config`` field and its default (``auto_fit`` and
``allow_descriptions_over_music`` default to the API reference's example value, true)."""
BASE_FIELDS = (
    "language", "format", "ad_type", "voice", "custom_instructions", "read_all_onscreen_text",
    "video_category", "auto_fit", "allow_descriptions_over_music", "custom_captions",
)  # fmt: skip
ROUTE_FIELDS = {
    "text": BASE_FIELDS,
    "audio": BASE_FIELDS
    + ("volume_option", "volume_level_db", "audio_track_type", "description_content"),
    "video": BASE_FIELDS + ("volume_option", "volume_level_db", "description_content"),
}
"""The ``generation_config`` fields each route takes: its API reference page's request body and
"Generation Config Options" table (the audio track type is the audio route's only: it picks the
track ``audio_signed_url`` returns)."""
VOLUME_OPTIONS = ("auto", "max")
"""``max`` sets the AD narration's peak to ``volume_level_db``; ``auto`` is the default level."""
VOLUME_DB_RANGE = (-10.0, 0.0)
"""``volume_level_db``: max peak in dBFS, "supported range is -10 to 0"."""
VOLUME_DB_DEFAULT = -5.0
"""The reference's example value, used when ``max`` comes without a level (our reading)."""
AUDIO_TRACK_TYPES = ("mixed", "ad_only")
"""``mixed`` (default): the source's own sound plus the narration; ``ad_only``: the narration."""
CUSTOM_CAPTION_FIELDS = ("content", "format", "filename")
"""``custom_captions`` is ``{"content": "<VTT/SRT/plaintext>"}``; format and filename are hints."""

INPUT_TYPES = ("media_id", "url", "file")
INPUT_FIELDS = {
    "media_id": ("type", "media_id", "filename"),
    "url": ("type", "url", "filename"),
    "file": ("type", "filename"),
    "signed_url": ("type", "filename", "content_type"),
}
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


def timing(kind: str, seconds: float) -> tuple[float, float]:
    """Virtual seconds a job waits (at least), then runs; both divided by the sandbox speed."""
    return QUEUE_WAIT, RUN_BASE[kind] + RUN_PER_VIDEO_SECOND * seconds


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
    "plan_limit_exceeded": 429,
    "concurrency_limit_exceeded": 429,
    "queue_limit_exceeded": 429,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
    "bad_gateway": 502,
    "service_unavailable": 503,
    "gateway_timeout": 504,
}
"""Every error ``code`` the sandbox answers with, and its HTTP status."""
DEFAULT_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "upload_not_ready",
    415: "no_video_stream",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
"""The code for errors that only know a status (faults, unknown routes, crashes)."""
JOB_FAILURE_CODE = "internal_error"


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """``{"code", "message"}``, plus ``retry_after`` and ``Retry-After`` when given."""
    body: dict[str, Any] = {"code": code or DEFAULT_CODES.get(status, "error"), "message": message}
    out_headers = dict(headers or {})
    if retry_after is not None:
        body["retry_after"] = int(retry_after)
        out_headers["Retry-After"] = str(int(retry_after))
    return JSONResponse(body, status_code=status, headers=out_headers)


class ApiError(Exception):
    """An error answer; its HTTP status comes from ``ERRORS``."""

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after

    def response(self) -> Response:
        return error(ERRORS[self.code], self.message, code=self.code, retry_after=self.retry_after)


def _invalid(field_name: str, why: str) -> ApiError:
    return ApiError("invalid_request", f"{field_name}: {why}")


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- descriptions


@dataclass(frozen=True)
class Wording:
    """One language's sentence templates and words."""

    scene: str
    cut: str
    light: dict[str, str]
    colors: dict[str, str]
    joiner: str
    motion: dict[str, str]
    trend: dict[str, str]
    title: str
    onscreen: str
    opening: str
    ending: str


COLOR_NAMES = (
    "red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "black", "grey", "white",
)  # fmt: skip


def _colors(names: str) -> dict[str, str]:
    """Colour words in ``COLOR_NAMES`` order, space-separated."""
    return dict(zip(COLOR_NAMES, names.split(), strict=True))


WORDINGS = {
    "en": Wording(
        scene="A {light} scene in {colors}.",
        cut="Cut to a {light} scene in {colors}.",
        light={"dark": "dark", "dim": "dimly lit", "bright": "bright"},
        colors=_colors(" ".join(COLOR_NAMES)),
        joiner=" and ",
        motion={
            "still": "The picture holds still.",
            "slow": "Soft shapes drift slowly across the frame.",
            "fast": "The picture moves quickly.",
        },
        trend={"darker": "It grows darker.", "brighter": "It grows brighter."},
        title='The title on screen reads "{text}".',
        onscreen='On-screen text: "{text}".',
        opening="The video begins.",
        ending="The video ends.",
    ),
    "es": Wording(
        scene="Una escena {light} en {colors}.",
        cut="Corte a una escena {light} en {colors}.",
        light={"dark": "oscura", "dim": "tenue", "bright": "luminosa"},
        colors=_colors("rojo naranja amarillo verde cian azul morado rosa negro gris blanco"),
        joiner=" y ",
        motion={
            "still": "La imagen permanece quieta.",
            "slow": "Formas suaves se desplazan lentamente por el encuadre.",
            "fast": "La imagen se mueve rápidamente.",
        },
        trend={"darker": "Se vuelve más oscura.", "brighter": "Se vuelve más luminosa."},
        title='El título en pantalla dice "{text}".',
        onscreen='Texto en pantalla: "{text}".',
        opening="Comienza el vídeo.",
        ending="Termina el vídeo.",
    ),
    "fr": Wording(
        scene="Une scène {light} en {colors}.",
        cut="Coupe vers une scène {light} en {colors}.",
        light={"dark": "sombre", "dim": "tamisée", "bright": "lumineuse"},
        colors=_colors("rouge orange jaune vert cyan bleu violet rose noir gris blanc"),
        joiner=" et ",
        motion={
            "still": "L'image reste immobile.",
            "slow": "Des formes douces glissent lentement dans le cadre.",
            "fast": "L'image bouge rapidement.",
        },
        trend={"darker": "Elle s'assombrit.", "brighter": "Elle s'éclaircit."},
        title="Le titre à l'écran indique « {text} ».",
        onscreen="Texte à l'écran : « {text} ».",
        opening="La vidéo commence.",
        ending="La vidéo se termine.",
    ),
    "de": Wording(
        scene="Eine {light} Szene in {colors}.",
        cut="Schnitt auf eine {light} Szene in {colors}.",
        light={"dark": "dunkle", "dim": "gedämpfte", "bright": "helle"},
        colors=_colors("Rot Orange Gelb Grün Cyan Blau Violett Rosa Schwarz Grau Weiß"),
        joiner=" und ",
        motion={
            "still": "Das Bild steht still.",
            "slow": "Weiche Formen gleiten langsam durch das Bild.",
            "fast": "Das Bild bewegt sich schnell.",
        },
        trend={"darker": "Es wird dunkler.", "brighter": "Es wird heller."},
        title="Der Titel im Bild lautet „{text}“.",
        onscreen="Text im Bild: „{text}“.",
        opening="Das Video beginnt.",
        ending="Das Video endet.",
    ),
    "it": Wording(
        scene="Una scena {light} in {colors}.",
        cut="Stacco su una scena {light} in {colors}.",
        light={"dark": "scura", "dim": "soffusa", "bright": "luminosa"},
        colors=_colors("rosso arancione giallo verde ciano blu viola rosa nero grigio bianco"),
        joiner=" e ",
        motion={
            "still": "L'immagine resta ferma.",
            "slow": "Forme morbide scivolano lentamente nell'inquadratura.",
            "fast": "L'immagine si muove rapidamente.",
        },
        trend={"darker": "Diventa più scura.", "brighter": "Diventa più luminosa."},
        title='Il titolo sullo schermo dice "{text}".',
        onscreen='Testo sullo schermo: "{text}".',
        opening="Il video inizia.",
        ending="Il video finisce.",
    ),
    "pt": Wording(
        scene="Uma cena {light} em {colors}.",
        cut="Corte para uma cena {light} em {colors}.",
        light={"dark": "escura", "dim": "suave", "bright": "clara"},
        colors=_colors("vermelho laranja amarelo verde ciano azul roxo rosa preto cinza branco"),
        joiner=" e ",
        motion={
            "still": "A imagem permanece parada.",
            "slow": "Formas suaves deslizam lentamente pelo quadro.",
            "fast": "A imagem se move rapidamente.",
        },
        trend={"darker": "Fica mais escura.", "brighter": "Fica mais clara."},
        title='O título na tela diz "{text}".',
        onscreen='Texto na tela: "{text}".',
        opening="O vídeo começa.",
        ending="O vídeo termina.",
    ),
    "nl": Wording(
        scene="Een {light} scène in {colors}.",
        cut="Overgang naar een {light} scène in {colors}.",
        light={"dark": "donkere", "dim": "gedempte", "bright": "heldere"},
        colors=_colors("rood oranje geel groen cyaan blauw paars roze zwart grijs wit"),
        joiner=" en ",
        motion={
            "still": "Het beeld staat stil.",
            "slow": "Zachte vormen drijven langzaam door het beeld.",
            "fast": "Het beeld beweegt snel.",
        },
        trend={"darker": "Het wordt donkerder.", "brighter": "Het wordt lichter."},
        title='De titel in beeld luidt "{text}".',
        onscreen='Tekst in beeld: "{text}".',
        opening="De video begint.",
        ending="De video eindigt.",
    ),
}
"""Languages (by primary subtag) with real templates; the others fall back to ``en``."""
FALLBACK_WORDING = "en"
FALLBACK_NOTE = "The sandbox has no {name} wording: the descriptions are in English."

CATEGORY_OPENINGS = {
    "Educational Lecture": "The lecture begins.",
    "Educational Kids": "The children's video begins.",
    "Government Meeting": "The meeting begins.",
    "Documentary": "The documentary begins.",
    "Narrative Story": "The story begins.",
    "Social Media": "The clip begins.",
    "Tutorial/How-To": "The tutorial begins.",
    "Vlog": "The vlog begins.",
    "Commercial/Advertisement": "The commercial begins.",
    "News": "The news report begins.",
    "Entertainment": "The show begins.",
    "Home Video": "The home video begins.",
    "Video Call": "The video call begins.",
}
"""English openings by category (extended_ad); ``Auto`` and other languages use ``opening``."""

MAX_SEGMENT_SECONDS = {"standard_ad": 8.0, "extended_ad": 4.0}
MIN_SCENE_SECONDS = 0.5
"""Cuts closer than this to each other or to either end are merged."""
ONSCREEN_SEGMENT_SECONDS = 2.0
SCENE_THRESHOLD = 0.12
"""ffmpeg scene score for a cut (its default 0.3 misses colour cuts of equal brightness)."""
COLOR_CUT = 0.2
"""Mean absolute change (0..1) between two samples that also counts as a cut."""
SAMPLE_FPS = 4.0
MAX_SAMPLES = 1200
SAMPLE_SIZE = (32, 18)
"""Frames are analysed at this size: colour, light and motion need no detail."""
LIGHT_LEVELS = ((0.22, "dark"), (0.5, "dim"), (math.inf, "bright"))
"""Lightness (mean of luma and HSV value, 0..1) below each bound."""
MOTION_LEVELS = ((0.02, "still"), (0.3, "slow"), (math.inf, "fast"))
"""Mean absolute change per second (0..1) below each bound."""
TREND_DELTA = 0.08
ACHROMATIC_SATURATION = 0.18
SECOND_COLOR_SHARE = 0.2
HUE_NAMES = (
    (15, "red"), (45, "orange"), (70, "yellow"), (165, "green"), (200, "cyan"), (255, "blue"),
    (290, "purple"), (345, "pink"), (361, "red"),
)  # fmt: skip
"""Colour name of a saturated pixel by hue: below each bound (degrees)."""
METADATA_TEXT_KEYS = ("title", "comment", "description", "synopsis")

# --------------------------------------------------------------------------------- audio

SPEECH_LEAD_IN = 0.1
SPEECH_GAP = 0.05
MAX_SPEECH_SPEED = 1.8
FADE_SECONDS = 0.03
ORIGINAL_AUDIO_GAIN = 0.5
"""Level of the video's own sound under the description in the described MP4."""


# ----------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Analysis:
    """What the sandbox 'sees' in a video: enough to describe it plausibly."""

    duration: float
    fps: float
    cuts: tuple[float, ...]
    times: np.ndarray
    frames: np.ndarray
    """(n, h, w, 3) float32 RGB 0..1 at ``SAMPLE_SIZE``."""
    texts: tuple[str, ...]


def analyze(path: Path, info: dict[str, Any]) -> Analysis:
    """Sample frames, find cuts and read text tags (blocking; a few ffmpeg calls)."""
    from .services.media import _ffmpeg
    from .services.media.probe import scene_changes

    duration = float(info["duration"])
    fps = float(info["video"]["fps"] or 25.0)
    rate = min(SAMPLE_FPS, MAX_SAMPLES / max(duration, 0.1))
    w, h = SAMPLE_SIZE
    proc = _ffmpeg.run(
        ["-i", Path(path).absolute(), "-an", "-sn", "-dn"]
        + ["-vf", f"fps={rate:.6f},scale={w}:{h}:flags=area", "-f", "rawvideo"]
        + ["-pix_fmt", "rgb24", "pipe:1"]
    )
    n = len(proc.stdout) // (w * h * 3)
    raw = np.frombuffer(proc.stdout[: n * w * h * 3], dtype=np.uint8)
    frames = raw.reshape(n, h, w, 3).astype(np.float32) / 255.0
    times = np.minimum(np.arange(n) / rate, max(duration - 1e-3, 0.0))
    cuts = list(scene_changes(path, SCENE_THRESHOLD))
    if n > 1:  # colour cuts the scene score misses (it weighs brightness)
        jumps = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
        for i in np.nonzero(jumps > COLOR_CUT)[0]:
            t = float(times[i] + times[i + 1]) / 2
            if all(abs(t - c) > 1.0 / rate for c in cuts):
                cuts.append(t)
    return Analysis(duration, fps, tuple(sorted(cuts)), times, frames, _metadata_texts(path))


def _metadata_texts(path: Path) -> tuple[str, ...]:
    """Text tags of the container (title, comment, ...): the on-screen text we can know."""
    from .services.media import _ffmpeg

    text = _ffmpeg.stderr_text(_ffmpeg.run(["-i", Path(path).absolute()], check=False))
    head = text.split("Input #0", 1)[-1].split("Duration:", 1)[0]
    found: dict[str, str] = {}
    for line in head.splitlines():
        m = re.match(r"^\s{4}(\w+)\s*:\s(.*)$", line)
        if m and m[1].lower() in METADATA_TEXT_KEYS and m[2].strip():
            found.setdefault(m[1].lower(), m[2].strip())
    texts: list[str] = []
    for key in METADATA_TEXT_KEYS:
        if key in found and found[key] not in texts:
            texts.append(found[key])
    return tuple(texts)


@dataclass(frozen=True)
class Look:
    light: str
    colors: tuple[str, ...]
    motion: str
    trend: str | None


def _level(value: float, levels: tuple[tuple[float, str], ...]) -> str:
    return next(name for bound, name in levels if value < bound)


def _color_votes(frames: np.ndarray) -> dict[str, float]:
    """Share of pixels per colour name (hue for saturated pixels, else black/grey/white)."""
    px = frames.reshape(-1, 3)
    mx, mn = px.max(axis=1), px.min(axis=1)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    delta = np.maximum(mx - mn, 1e-6)
    hue = np.where(
        mx == r, ((g - b) / delta) % 6, np.where(mx == g, (b - r) / delta + 2, (r - g) / delta + 4)
    )
    hue = hue * 60.0
    chroma = (sat >= ACHROMATIC_SATURATION) & (mx > 0.15)
    hue_names = np.array([name for _, name in HUE_NAMES])
    by_hue = hue_names[np.searchsorted([bound for bound, _ in HUE_NAMES], hue, side="right")]
    by_value = np.where(mx < 0.2, "black", np.where(mx < 0.8, "grey", "white"))
    names, counts = np.unique(np.where(chroma, by_hue, by_value), return_counts=True)
    votes = {str(n): float(c) / len(px) for n, c in zip(names, counts, strict=True)}
    return votes


def look(an: Analysis, start: float, end: float) -> Look:
    """Light, main colours, motion and brightness trend of the frames in [start, end)."""
    sel = np.nonzero((an.times >= start) & (an.times < end))[0]
    if len(sel) == 0:
        sel = np.array([int(np.argmin(np.abs(an.times - (start + end) / 2)))])
    frames = an.frames[sel]
    luma = (frames @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).mean(axis=(1, 2))
    value = frames.max(axis=3).mean(axis=(1, 2))
    lightness = (luma + value) / 2  # a saturated red reads as bright, not dim
    middle = frames[len(frames) // 2 :: max(1, len(frames) // 3)][:3]
    votes = sorted(_color_votes(middle).items(), key=lambda kv: -kv[1])
    colors = tuple(
        n for i, (n, share) in enumerate(votes[:2]) if i == 0 or share >= SECOND_COLOR_SHARE
    )
    if len(frames) > 1:
        dt = float(an.times[sel[-1]] - an.times[sel[0]]) / (len(frames) - 1) or 1.0
        change = float(np.abs(np.diff(frames, axis=0)).mean()) / dt
    else:
        change = 0.0
    third = max(1, len(luma) // 3)
    delta = float(lightness[-third:].mean() - lightness[:third].mean())
    trend = "brighter" if delta > TREND_DELTA else "darker" if delta < -TREND_DELTA else None
    return Look(
        _level(float(lightness.mean()), LIGHT_LEVELS), colors, _level(change, MOTION_LEVELS), trend
    )


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


def wording_for(language: str) -> tuple[Wording, str | None]:
    """The templates for ``language`` and, when they are English stand-ins, a note saying so."""
    primary = language.split("-")[0].lower()
    if primary in WORDINGS:
        return WORDINGS[primary], None
    return WORDINGS[FALLBACK_WORDING], FALLBACK_NOTE.format(name=LANGUAGES[language])


def _pieces(an: Analysis, max_len: float) -> list[tuple[float, float, bool]]:
    """(start, end, starts at a cut) tiling [0, duration]: scenes split into short pieces."""
    bounds = [0.0]
    for c in an.cuts:
        if c - bounds[-1] >= MIN_SCENE_SECONDS and an.duration - c >= MIN_SCENE_SECONDS:
            bounds.append(c)
    bounds.append(an.duration)
    out: list[tuple[float, float, bool]] = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        n = max(1, math.ceil((b - a) / max_len - 1e-9))
        for k in range(n):
            out.append((a + (b - a) * k / n, a + (b - a) * (k + 1) / n, i > 0 and k == 0))
    return out


def describe(an: Analysis, config: dict[str, Any]) -> tuple[list[Segment], str | None]:
    """The segments of one generation config, and a note if the wording fell back."""
    words, note = wording_for(config["language"])
    extended = config["ad_type"] == "extended_ad"
    pieces = _pieces(an, MAX_SEGMENT_SECONDS[config["ad_type"]])
    segments: list[Segment] = []
    texts = list(an.texts)
    if extended and config["read_all_onscreen_text"] and texts:
        first_end = pieces[0][1]
        span = min(ONSCREEN_SEGMENT_SECONDS, first_end / (len(texts) + 1))
        for i, text in enumerate(texts):
            segments.append(Segment(i * span, (i + 1) * span, words.onscreen.format(text=text)))
        pieces[0] = (len(texts) * span, first_end, False)
        texts = []
    for i, (start, end, at_cut) in enumerate(pieces):
        seen = look(an, start, end)
        colors = words.joiner.join(words.colors[c] for c in seen.colors)
        template = words.cut if at_cut else words.scene
        sentences = [template.format(light=words.light[seen.light], colors=colors)]
        if extended or seen.motion == "fast":
            sentences.append(words.motion[seen.motion])
        if extended and seen.trend:
            sentences.append(words.trend[seen.trend])
        if i == 0 and texts:
            sentences.append(words.title.format(text=texts[0]))
        if extended and i == 0:
            opening = words.opening
            if words is WORDINGS["en"]:
                opening = CATEGORY_OPENINGS.get(config["video_category"], opening)
            sentences.insert(0, opening)
        if extended and i == len(pieces) - 1:
            sentences.append(words.ending)
        segments.append(Segment(start, end, " ".join(sentences)))
    return segments, note


# -------------------------------------------------------------------------- text formats


def _clock(t: float, sep: str = ".") -> str:
    ms = max(0, round(t * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _timecode(t: float, fps: int) -> str:
    frames = max(0, round(t * fps))
    s, f = divmod(frames, fps)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"


def to_vtt(segments: list[Segment]) -> str:
    cues = [
        f"{i}\n{_clock(s.start)} --> {_clock(s.end)}\n{s.text}\n" for i, s in enumerate(segments, 1)
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def to_srt(segments: list[Segment]) -> str:
    return "\n".join(
        f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text}\n"
        for i, s in enumerate(segments, 1)
    )


def to_edl(segments: list[Segment], title: str, fps: float, clip: str) -> str:
    """CMX3600: one audio event per description, its text as a comment."""
    rate = max(1, round(fps))
    lines = [f"TITLE: {title}", "FCM: NON-DROP FRAME", ""]
    for i, s in enumerate(segments, 1):
        a, b = _timecode(s.start, rate), _timecode(s.end, rate)
        lines.append(f"{i:03d}  {'AX':<8} {'A':<5} {'C':<8} {a} {b} {a} {b}")
        lines.append(f"* FROM CLIP NAME: {clip}")
        lines.append(f"* COMMENT: {s.text}")
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- speech


def voice_spec(voice: str, language: str = "en-US") -> str:
    """The eSpeak NG voice for a ViddyScribe voice id (also used for free voice samples)."""
    from .services.media.speech import voice_for

    return voice_for(voice, language)


def speak_track(
    segments: list[Segment],
    *,
    language: str,
    voice: str,
    duration: float,
    out: Path,
    peak_db: float | None = None,
) -> Path:
    """A WAV of ``duration`` s with each segment spoken from its start, fitted before the next;
    with ``peak_db`` (``volume_option: max``) its loudest sample is that many dBFS."""
    from .services.media.audio import write_audio
    from .services.media.speech import synthesize

    spec = voice_spec(voice, language)
    rate = 22050
    track = np.zeros(max(1, round(duration * rate)), dtype=np.int16)
    for seg in segments:
        start = min(seg.start + SPEECH_LEAD_IN, seg.start + (seg.end - seg.start) / 4)
        slot = max(0.2, seg.end - start - SPEECH_GAP)
        samples, rate_got = synthesize(seg.text, voice=spec)
        if len(samples) / rate_got > slot:
            speed = min(MAX_SPEECH_SPEED, len(samples) / rate_got / slot)
            samples, rate_got = synthesize(seg.text, voice=spec, speed=speed)
        if rate_got != rate:  # the eSpeak rate is fixed; resample defensively
            from .services.media.audio import resample

            samples = resample(samples, rate_got, rate)
        pos = round(start * rate)
        room = min(len(track) - pos, round(slot * rate))
        if room <= 0:
            continue
        clip = samples[:room].astype(np.float32)
        if len(samples) > room:  # cut short: fade out rather than click
            fade = min(len(clip), round(FADE_SECONDS * rate))
            clip[len(clip) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        track[pos : pos + len(clip)] = clip.astype(np.int16)
    peak = int(np.abs(track.astype(np.int32)).max())
    if peak_db is not None and peak > 0:
        target = 32767 * 10 ** (peak_db / 20)
        track = np.round(track.astype(np.float64) * (target / peak)).astype(np.int16)
    return write_audio(out, track, rate, "wav")


def described_video(video: Path, track: Path, has_audio: bool, duration: float, out: Path) -> Path:
    """``video``'s picture with ``track`` mixed over its own sound (the picture is copied)."""
    import tempfile

    from .services.media import _ffmpeg
    from .services.media.audio import mix_tracks, mux

    with tempfile.TemporaryDirectory(prefix="nbmedia-viddy-") as tmp:
        mixed = mix_tracks(
            Path(tmp) / "mix.wav",
            speech=track,
            music=video if has_audio else None,
            duration=duration,
            music_gain=ORIGINAL_AUDIO_GAIN,
        )
        try:
            return mux(video, mixed, out)
        except _ffmpeg.FFmpegError:  # a codec MP4 cannot hold: re-encode the picture
            with _ffmpeg.atomic(out) as part:
                _ffmpeg.run(
                    ["-i", Path(video).absolute(), "-i", mixed, "-map", "0:v:0", "-map", "1:a:0"]
                    + ["-c:v", "libx264", "-preset", "superfast", "-pix_fmt", "yuv420p"]
                    + ["-c:a", "aac", "-t", f"{duration:.6f}", "-movflags", "+faststart"]
                    + ["-f", "mp4", part]
                )
            return out


# ------------------------------------------------------------------------------ state


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


@dataclass
class Job:
    id: str
    team: str
    kind: str
    media: Media
    config: dict[str, Any]
    created: float
    start: float
    """Virtual time its processing starts (after its queue wait)."""
    lifecycle: Lifecycle
    output: dict[str, Any] | None = None
    audio_name: str | None = None
    video_name: str | None = None
    filename: str | None = None
    """``input.filename``: the name the outputs give the video (else the upload's)."""

    @property
    def title(self) -> str:
        return self.filename or self.media.filename


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _job_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "task_" + "".join(secrets.choice(alphabet) for _ in range(12))


def _plan(key: str) -> Plan:
    for marker, name in PLAN_MARKERS:
        if marker in key:
            return PLANS[name]
    return PLANS[DEFAULT_PLAN]


def _mb(size: float) -> str:
    return f"{size / MiB:.1f} MB"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds < 3600 else f"{seconds / 3600:g} h"


def _safe_filename(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1]).strip("._") or "video"
    return base[:FILENAME_MAX]


class ViddyScribe:
    """The state behind the routes of one sandbox: media, jobs and the team queues."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._media: dict[str, Media] = {}
        self._jobs: dict[str, Job] = {}
        self._in_flight: dict[str, int] = {}
        self._slots: dict[str, list[float]] = {}
        self._secret = secrets.token_bytes(32)
        self._sandbox_url = env.base_url.rsplit("/", 1)[0]
        self._uploads = env.files.folder / ".uploads"
        self._uploads.mkdir(parents=True, exist_ok=True)
        env.files.guard = self.check_download

    # ----------------------------------------------------------------------- gate

    def authorize(self, request: Request) -> str:
        key = request.headers.get(AUTH_HEADER, "").strip()
        if not key:
            raise ApiError("unauthorized", f"Missing {AUTH_HEADER} header: send your vsk_ key.")
        if not KEY.match(key):
            raise ApiError("unauthorized", "Invalid API key: ViddyScribe keys look like vsk_...")
        return key

    def check_allocation(self, team: str) -> None:
        if EXHAUSTED_MARKER in team:
            raise ApiError(
                "plan_limit_exceeded",
                "The current team allocation has been exhausted; contact support to extend it.",
            )

    @contextlib.contextmanager
    def submission(self, team: str) -> Iterator[None]:
        """Hold one of the team's validation slots while a request is read and checked."""
        with self._lock:
            limited = self.env.faults.plan_limits
            if limited and self._in_flight.get(team, 0) >= SUBMISSIONS_IN_FLIGHT:
                raise ApiError(
                    "concurrency_limit_exceeded",
                    f"Too many concurrent submissions are being validated for this team "
                    f"(at most {SUBMISSIONS_IN_FLIGHT}); retry after a short delay.",
                    retry_after=CONCURRENCY_RETRY_AFTER,
                )
            self._in_flight[team] = self._in_flight.get(team, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[team] -= 1

    def _queued_starts(self, team: str, now: float) -> list[float]:
        return [j.start for j in self._jobs.values() if j.team == team and j.start > now]

    def check_queue(self, team: str) -> None:
        with self._lock:
            self._check_queue_locked(team, self.env.clock.now())

    def _check_queue_locked(self, team: str, now: float) -> None:
        if not self.env.faults.plan_limits:
            return
        waiting = self._queued_starts(team, now)
        if len(waiting) >= MAX_QUEUED_JOBS:
            wall = self.env.clock.wall_in(min(waiting) - now)
            raise ApiError(
                "queue_limit_exceeded",
                f"{len(waiting)} jobs are already queued for this team (at most "
                f"{MAX_QUEUED_JOBS}); wait for some to complete before submitting more.",
                retry_after=max(1, math.ceil(wall)),
            )

    # ------------------------------------------------------------------- uploads

    def _gcs_path(self, team: str, media_id: str, filename: str) -> str:
        team_hash = hashlib.sha256(team.encode()).hexdigest()[:12]
        return f"teams/{team_hash}/videos/{media_id}/{filename}"

    def _new_media(self, team: str, filename: str, content_type: str, *, signed: bool) -> Media:
        media_id = str(uuid.uuid4())
        filename = _safe_filename(filename)
        suffix = Path(filename).suffix.lower()[:8] or ".mp4"
        return Media(
            id=media_id,
            team=team,
            filename=filename,
            content_type=content_type,
            path=self._uploads / f"{media_id}{suffix}",
            signed=signed,
            gcs_path=self._gcs_path(team, media_id, filename),
            created=time.time(),
        )

    def ingest(self, team: str, source: Path, filename: str, content_type: str) -> Media:
        """A direct or URL upload, verified now (blocking): a ready media or the error."""
        plan = _plan(team)
        size = source.stat().st_size
        if size > min(plan.max_bytes, DIRECT_UPLOAD_MAX):
            raise ApiError("file_too_large", self._too_large_message(size, plan, direct=True))
        media = self._new_media(team, filename, content_type, signed=False)
        if source.parent == self._uploads:
            source.rename(media.path)
        else:
            shutil.copyfile(source, media.path)
        media.size = size
        problem = self._verify(media, plan)
        if problem is not None:
            media.path.unlink(missing_ok=True)
            raise ApiError(*problem)
        with self._lock:
            self._media[media.id] = media
        return media

    def _too_large_message(self, size: int, plan: Plan, *, direct: bool) -> str:
        if direct and plan.max_bytes > DIRECT_UPLOAD_MAX:
            return (
                f"The file is {_mb(size)}: direct uploads are limited to "
                f"{_mb(DIRECT_UPLOAD_MAX)}; use the signed upload flow for larger files."
            )
        return (
            f"The file is {_mb(size)}: the {plan.name} plan allows files up to "
            f"{_mb(plan.max_bytes)}."
        )

    def _verify(self, media: Media, plan: Plan) -> tuple[str, str] | None:
        """Probe the stored bytes: None if usable, else (code, message)."""
        from .services.media.probe import probe

        try:
            info = probe(media.path)
        except ValueError:
            return "no_video_stream", "The uploaded file is not a media file that can be decoded."
        if info["video"] is None or not info["video"]["width"]:
            return (
                "no_video_stream",
                "The uploaded file contains audio only or otherwise has no video stream. "
                "Upload a file with at least one video stream.",
            )
        if not info["duration"] or info["duration"] <= 0:
            return "no_video_stream", "The uploaded video has no frames."
        if info["duration"] > plan.max_seconds:
            return (
                "video_too_long",
                f"The video lasts {info['duration'] / 60:.1f} min: the {plan.name} plan allows "
                f"videos up to {_minutes(plan.max_seconds)}.",
            )
        media.info = info
        return None

    def fetch_url(self, team: str, url: Any, where: str, scratch: Path) -> Path:
        """A local file for a URL input (blocking), or the 400/403 that refuses it."""
        if not isinstance(url, str) or not url:
            raise _invalid(where, "must be a non-empty URL string")
        if not (is_data_uri(url) or url.startswith(("http://", "https://"))):
            raise _invalid(
                where, f"must be an http(s) URL or a base64 data: URI (got {_shown(url)})"
            )
        if is_data_uri(url) and data_uri_size(url) > DIRECT_UPLOAD_MAX:
            size = data_uri_size(url)
            raise ApiError(
                "file_too_large", self._too_large_message(size, _plan(team), direct=True)
            )
        own = self._own_file(url)
        if own is not None:
            refused = self._check_signature(own, urlsplit(url).query)
            if refused is not None:
                raise _invalid(where, f"the signed URL cannot be used: {refused[1]}")
        try:
            return fetch(
                url,
                sandbox_url=self._sandbox_url,
                store_root=self.env.files.folder.parent,
                scratch=scratch,
            )
        except Unreachable as exc:
            raise _invalid(where, f"the video could not be downloaded: {exc.reason}") from None

    def _own_file(self, url: str) -> str | None:
        prefix = self.env.files.base + "/"
        if not url.startswith(prefix):
            return None
        return url[len(prefix) :].split("?", 1)[0]

    def request_signed_upload(self, team: str, inp: dict[str, Any]) -> Media:
        filename = inp.get("filename")
        content_type = inp.get("content_type")
        if not isinstance(filename, str) or not filename.strip():
            raise _invalid("input.filename", "is required for a signed upload (e.g. video.mp4)")
        if len(filename) > FILENAME_MAX:
            raise _invalid("input.filename", f"must be at most {FILENAME_MAX} characters")
        if not isinstance(content_type, str) or not content_type.strip():
            raise _invalid("input.content_type", "is required for a signed upload (e.g. video/mp4)")
        content_type = content_type.strip()
        if not (content_type.startswith("video/") or content_type == "application/octet-stream"):
            raise _invalid(
                "input.content_type",
                f"must be a video/* type (got {_shown(content_type)})",
            )
        media = self._new_media(team, filename, content_type, signed=True)
        media.upload_expires = self.env.clock.now() + UPLOAD_URL_TTL
        with self._lock:
            self._media[media.id] = media
        return media

    def upload_url(self, media: Media) -> str:
        issued = self.env.clock.now()
        name = quote(media.filename)
        sig = self._sign(f"PUT\n{media.id}\n{media.content_type}\n{issued:.3f}\n{UPLOAD_URL_TTL}")
        return (
            f"{self.env.base_url}/upload/{media.id}/{name}?X-Goog-Algorithm=GOOG4-HMAC-SHA256"
            f"&X-Goog-Date={issued:.3f}&X-Goog-Expires={UPLOAD_URL_TTL}&X-Goog-Signature={sig}"
        )

    async def receive_put(self, request: Request) -> Response:
        """The signed PUT of a large upload: checks its signature, stores the bytes."""
        media = self._media.get(request.path_params["media_id"])
        q = request.query_params
        if media is None or not media.signed:
            raise ApiError("not_found", "No signed upload at this URL.")
        try:
            issued, ttl = float(q.get("X-Goog-Date", "")), int(q.get("X-Goog-Expires", ""))
        except ValueError:
            raise ApiError("signature_mismatch", "The upload URL is not signed.") from None
        expected = self._sign(f"PUT\n{media.id}\n{media.content_type}\n{issued:.3f}\n{ttl}")
        if not hmac.compare_digest(expected, q.get("X-Goog-Signature", "")):
            raise ApiError("signature_mismatch", "The upload URL's signature does not match.")
        if self.env.clock.now() > issued + ttl:
            raise ApiError("signed_url_expired", "The upload URL has expired; request a new one.")
        sent_type = request.headers.get("content-type", "").split(";", 1)[0].strip()
        if sent_type != media.content_type:
            raise ApiError(
                "signature_mismatch",
                f"The upload URL was signed for Content-Type {media.content_type!r} "
                f"(got {sent_type or 'none'!r}).",
            )
        if media.verification is not None:
            raise _invalid("upload_url", "the upload was already completed with notify")
        cap = _plan(media.team).max_bytes
        size = 0
        part = media.path.with_name(f".{media.path.name}.part")
        with part.open("wb") as f:
            async for chunk in request.stream():
                if size + len(chunk) <= cap + 1:
                    f.write(chunk)
                size += len(chunk)
        part.replace(media.path)
        media.size = size
        media.put_content_type = sent_type
        return Response(status_code=200, headers={"ETag": f'"{secrets.token_hex(8)}"'})

    def notify(self, team: str, body: dict[str, Any]) -> Media:
        media = self._signed_media(team, body.get("media_id"), "media_id")
        self._check_gcs_path(media, body.get("gcs_path"), required=True)
        if media.verification is not None:
            return media  # notifying twice changes nothing
        if media.put_content_type is None or not media.path.is_file():
            raise ApiError(
                "upload_not_ready",
                "Nothing has been uploaded to upload_url yet: PUT the file, then notify.",
            )
        plan = _plan(team)
        if media.size > plan.max_bytes:
            raise ApiError(
                "file_too_large", self._too_large_message(media.size, plan, direct=False)
            )
        media.verification = Lifecycle(self.env.clock, Timing(wait=0.0, run=VERIFY_SECONDS))
        self.env.render.submit(self._verify_signed, media, plan)
        return media

    def _verify_signed(self, media: Media, plan: Plan) -> None:
        assert media.verification is not None
        try:
            problem = self._verify(media, plan)
        except Exception as exc:
            log.exception("verifying %s failed", media.id)
            problem = ("upload_failed", f"Verification failed: {exc}")
        if problem is not None:
            media.verification.fail(*problem, scheduled=True)
            return
        canonical = str(uuid.uuid4())
        with self._lock:
            media.canonical_id = canonical
            self._media[canonical] = media
        media.verification.output_ready()

    def _signed_media(self, team: str, media_id: Any, where: str) -> Media:
        if not isinstance(media_id, str) or not media_id:
            raise _invalid(where, "is required (the media_id of the upload)")
        media = self._media.get(media_id)
        if media is None or media.team != team:
            raise ApiError("media_not_found", f"Media {_shown(media_id)} not found.")
        return media

    def _check_gcs_path(self, media: Media, gcs_path: Any, *, required: bool) -> None:
        if gcs_path is None and not required:
            return
        if not isinstance(gcs_path, str) or not gcs_path:
            raise _invalid("gcs_path", "is required (the gcs_path returned with upload_url)")
        if gcs_path != media.gcs_path:
            raise _invalid("gcs_path", f"does not belong to media {media.id}")

    def upload_status(self, team: str, media_id: Any, gcs_path: Any) -> dict[str, Any]:
        media = self._signed_media(team, media_id, "media_id")
        self._check_gcs_path(media, gcs_path, required=False)
        status = media.upload_status
        body: dict[str, Any] = {
            "media_id": media_id,
            "gcs_path": media.gcs_path,
            "upload_status": status,
            "canonical_media_id": media.public_id if status == "completed" else None,
            "filename": media.filename,
            "content_type": media.content_type,
            "file_size_bytes": media.size or None,
            "duration_seconds": None,
            "frame_rate": None,
        }
        if status == "completed" and media.info:
            body["duration_seconds"] = round(media.info["duration"], 3)
            body["frame_rate"] = media.info["video"]["fps"]
        if status == "failed" and media.verification is not None:
            code, message = media.verification.snapshot().error or ("upload_failed", "")
            body["error_code"], body["error"] = code, message
        return body

    def media_json(self, media: Media) -> dict[str, Any]:
        assert media.info is not None
        video = media.info["video"]
        return {
            "media_id": media.public_id,
            "status": "created",
            "duration_seconds": round(media.info["duration"], 3),
            "frame_rate": video["fps"],
            "width": video["width"],
            "height": video["height"],
            "file_size_bytes": media.size,
            "filename": media.filename,
            "content_type": media.content_type,
        }

    def ready_media(self, team: str, media_id: Any, where: str) -> Media:
        """A media that generation may use, or 404/409."""
        if not isinstance(media_id, str) or not media_id:
            raise _invalid(where, "is required")
        media = self._media.get(media_id)
        if media is None or media.team != team:
            raise ApiError("media_not_found", f"Media {_shown(media_id)} not found.")
        status = media.upload_status
        if status in (UPLOAD_PENDING, "processing"):
            raise ApiError(
                "upload_not_ready",
                f"Media {media_id} is still being verified (upload_status {status}); "
                "retry shortly.",
            )
        if status == "failed":
            reason = ""
            if media.verification is not None and media.verification.snapshot().error:
                reason = " (" + media.verification.snapshot().error[1] + ")"  # type: ignore[index]
            raise ApiError(
                "upload_failed",
                f"Upload verification failed for media {media_id}{reason}. "
                "Re-upload the media and try again.",
            )
        return media

    # ------------------------------------------------------------------------ jobs

    def create_job(
        self,
        team: str,
        kind: str,
        media: Media,
        config: dict[str, Any],
        filename: str | None = None,
    ) -> Job:
        assert media.info is not None
        wait, run = timing(kind, float(media.info["duration"]))
        with self._lock:
            now = self.env.clock.now()
            self._check_queue_locked(team, now)
            start = now + wait
            if self.env.faults.plan_limits:  # else every job has a slot of its own
                slots = self._slots.setdefault(team, [0.0] * PROCESSING_SLOTS)
                slot = min(range(len(slots)), key=slots.__getitem__)
                start = max(start, slots[slot])
                slots[slot] = start + run
            job = Job(
                id=_job_id(),
                team=team,
                kind=kind,
                media=media,
                config=config,
                created=time.time(),
                start=start,
                lifecycle=Lifecycle(self.env.clock, Timing(wait=start - now, run=run)),
                filename=filename,
            )
            self._jobs[job.id] = job
        self.env.audit.created(
            NAME, job.id, team, kind, label=(config or {}).get("custom_instructions")
        )
        failure = self.env.faults.take_job_failure()
        if failure is not None:
            job.lifecycle.fail(*failure, scheduled=True)
        else:
            self.env.render.submit(self._render, job)
        self.env.clock.track(job.lifecycle)  # stamps each stage on time for updated_at
        return job

    def _analysis(self, media: Media) -> Analysis:
        with media.lock:
            if media.analysis is None:
                assert media.info is not None
                media.analysis = analyze(media.path, media.info)
            return media.analysis

    def _render(self, job: Job) -> None:
        """Make the job's outputs (in the render pool); it is done only after this."""
        try:
            self._render_outputs(job)
        except Exception as exc:
            log.exception("rendering %s failed", job.id)
            job.lifecycle.fail(JOB_FAILURE_CODE, f"Generating the description failed: {exc}")
            return
        job.lifecycle.output_ready()

    def _digest(self, media: Media) -> str:
        from .services.rendercache import file_digest

        with media.lock:
            if media.digest is None:
                media.digest = file_digest(media.path)
            return media.digest

    def _render_outputs(self, job: Job) -> None:
        """The job's outputs, or an identical earlier job's: the same file (by digest), file
        name (the EDL's title), kind and generation_config make the same bytes."""
        key = {
            "provider": NAME,
            "kind": job.kind,
            "media": self._digest(job.media),
            "filename": job.title,
            "config": job.config,
        }
        outputs: dict[str, Path] = {}
        if job.kind in ("audio", "video"):
            outputs["audio"] = self.env.files.path(f"{job.id}-description.wav")
        if job.kind == "video":
            outputs["video"] = self.env.files.path(f"{job.id}-described.mp4")
        meta = self.env.rendercache.render(key, outputs, lambda: self._make(job, outputs))
        job.audio_name = outputs["audio"].name if "audio" in outputs else None
        job.video_name = outputs["video"].name if "video" in outputs else None
        job.output = meta["output"]

    def _make(self, job: Job, outputs: dict[str, Path]) -> dict[str, Any]:
        an = self._analysis(job.media)
        config = job.config
        segments, note = describe(an, config)
        fmt = config["format"] if config["format"] in FORMATS else "json"
        output: dict[str, Any] = {
            "format": fmt,
            "language": config["language"],
            "ad_type": config["ad_type"],
        }
        if fmt == "json":
            output["segments"] = [
                {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
                for s in segments
            ]
        elif fmt == "vtt":
            output["content"] = to_vtt(segments)
        elif fmt == "srt":
            output["content"] = to_srt(segments)
        else:
            title = f"{job.title} audio description"
            output["content"] = to_edl(segments, title, an.fps, job.title)
        if note:
            output["note"] = note
        if "audio" in outputs:
            self._narrate(job, segments, note, an.duration, outputs["audio"])
        if "video" in outputs:
            assert job.media.info is not None
            described_video(
                job.media.path,
                outputs["audio"],
                job.media.info["audio"] is not None,
                an.duration,
                outputs["video"],
            )
        return {"output": output}

    def _narrate(
        self, job: Job, segments: list[Segment], note: str | None, duration: float, out: Path
    ) -> None:
        """The AD track at its volume; an audio job's ``mixed`` track adds the source's sound."""
        import tempfile

        from .services.media.audio import mix_tracks

        config = job.config
        peak_db = None
        if config["volume_option"] == "max":
            level = config["volume_level_db"]
            peak_db = VOLUME_DB_DEFAULT if level is None else level
        speak = {
            "language": config["language"] if note is None else "en-US",
            "voice": config["voice"],
            "duration": duration,
            "peak_db": peak_db,
        }
        assert job.media.info is not None
        source_sound = job.media.info["audio"] is not None
        if job.kind != "audio" or config["audio_track_type"] != "mixed" or not source_sound:
            speak_track(segments, out=out, **speak)
            return
        with tempfile.TemporaryDirectory(prefix="nbmedia-viddy-") as tmp:
            narration = speak_track(segments, out=Path(tmp) / "ad.wav", **speak)
            mix_tracks(
                out,
                speech=narration,
                music=job.media.path,
                duration=duration,
                music_gain=ORIGINAL_AUDIO_GAIN,
            )

    def get_job(self, team: str, job_id: Any) -> Job:
        if not isinstance(job_id, str) or not job_id:
            raise _invalid("job_id", "is required (the job_id a generate endpoint returned)")
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.team != team:
            raise ApiError("job_not_found", f"Job {_shown(job_id)} not found.")
        return job

    def audit_lookup(self, job_id: str, ref: Any = None) -> dict[str, Any] | None:
        """The sandbox audit's view of a job: its status now, the files its results sign."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return None
        snap = job.lifecycle.snapshot()
        stage = snap.stage
        names: list[str] = []
        if stage is Stage.SUCCEEDED:
            if job.kind == "video" and job.video_name:
                names.append(job.video_name)
            if job.audio_name and (job.kind == "audio" or job.config["ad_type"] == "standard_ad"):
                names.append(job.audio_name)
        return {"status": STATUS[stage], "outputs": names, "ended_at": snap.ended_at}

    def job_json(self, job: Job) -> dict[str, Any]:
        snap = job.lifecycle.snapshot()
        body: dict[str, Any] = {
            "job_id": job.id,
            "status": STATUS[snap.stage],
            "media_id": job.media.public_id,
            "created_at": _iso(job.created),
            "updated_at": _iso(max(snap.stamps.values())),
        }
        if snap.stage is Stage.SUCCEEDED:
            if job.kind == "video" and job.video_name:
                body["video_signed_url"] = self.sign_download(job.video_name)
            wants_audio = job.kind == "audio" or job.config["ad_type"] == "standard_ad"
            if job.audio_name and wants_audio:
                body["audio_signed_url"] = self.sign_download(job.audio_name)
            body["output"] = job.output
        elif snap.stage is Stage.FAILED and snap.error:
            body["error_code"], body["error"] = snap.error
        return body

    # ----------------------------------------------------------------- signed links

    def _sign(self, material: str) -> str:
        return hmac.new(self._secret, material.encode(), hashlib.sha256).hexdigest()

    def sign_download(self, name: str) -> str:
        issued = self.env.clock.now()
        sig = self._sign(f"GET\n{name}\n{issued:.3f}\n{SIGNED_URL_TTL}")
        return (
            f"{self.env.files.url(name)}?X-Goog-Algorithm=GOOG4-HMAC-SHA256"
            f"&X-Goog-Date={issued:.3f}&X-Goog-Expires={SIGNED_URL_TTL}&X-Goog-Signature={sig}"
        )

    def _check_signature(self, name: str, query: str) -> tuple[str, str] | None:
        """None for a valid, fresh signed link to ``name``; else (code, message)."""
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        try:
            issued = float(unquote(params.get("X-Goog-Date", "")))
            ttl = int(unquote(params.get("X-Goog-Expires", "")))
        except ValueError:
            return "signature_mismatch", "This download needs a signed URL from get_results."
        expected = self._sign(f"GET\n{name}\n{issued:.3f}\n{ttl}")
        if not hmac.compare_digest(expected, unquote(params.get("X-Goog-Signature", ""))):
            return "signature_mismatch", "The signature of this URL does not match."
        if self.env.clock.now() > issued + ttl:
            return (
                "signed_url_expired",
                f"This signed URL expired ({ttl // 60} min after it was issued); "
                "call get_results again for a fresh one.",
            )
        return None

    def check_download(self, name: str, request: Request) -> Response | None:
        """The file store's guard: only signed, unexpired links are served."""
        refused = self._check_signature(name, request.url.query)
        if refused is None:
            return None
        return error(ERRORS[refused[0]], refused[1], code=refused[0])

    def scratch(self) -> Path:
        return self._uploads


# ------------------------------------------------------------------------- request bodies


@dataclass
class Part:
    name: str
    data: bytes
    filename: str | None
    content_type: str | None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 403 ``file_too_large`` past ``limit`` (read to the end either way)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise ApiError(
            "file_too_large",
            f"The request is {_mb(size)}: direct uploads are limited to "
            f"{_mb(DIRECT_UPLOAD_MAX)}; use the signed upload flow for larger files.",
        )
    return b"".join(chunks)


_DISPOSITION_PARAM = re.compile(r';\s*([\w*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def parse_multipart(body: bytes, content_type: str) -> dict[str, Part]:
    """multipart/form-data parts by field name (the first of each); no dependency needed."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise _invalid("body", "multipart/form-data without a boundary")
    delimiter = b"--" + m[1].encode("latin-1")
    parts: dict[str, Part] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params = {
            k.lower(): (quoted if quoted is not None and quoted != "" else bare or "").strip()
            for k, quoted, bare in _DISPOSITION_PARAM.findall(
                headers.get("content-disposition", "")
            )
        }
        name = params.get("name")
        if name and name not in parts:
            parts[name] = Part(name, data, params.get("filename"), headers.get("content-type"))
    return parts


def _json_object(raw: bytes | str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(where, f"is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _invalid(where, "must be a JSON object")
    return value


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def parse_input(raw: Any, *, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The ``input`` object: a known type and only that type's fields."""
    if not isinstance(raw, dict):
        raise _invalid("input", 'must be an object such as {"type": "media_id", "media_id": ...}')
    kind = raw.get("type")
    if kind not in allowed:
        raise _invalid("input.type", f"must be one of {', '.join(allowed)} (got {_shown(kind)})")
    for key in raw:
        if key not in INPUT_FIELDS[kind]:
            raise _invalid(f"input.{key}", f"is not a field of a {kind} input")
    name = raw.get("filename")
    if name is not None and (
        not isinstance(name, str) or not name.strip() or len(name) > FILENAME_MAX
    ):
        raise _invalid(
            "input.filename",
            f"must be a file name of 1 to {FILENAME_MAX} characters (got {_shown(name)})",
        )
    return raw


def _language(value: Any, where: str) -> str:
    """The canonical code; another region's code of a listed language names the listed one."""
    match = {c.lower(): c for c in LANGUAGES}.get(str(value).lower().replace("_", "-"))
    if isinstance(value, str) and match is not None:
        return match
    primary = str(value).replace("_", "-").split("-")[0].lower()
    primary = SAME_LANGUAGE.get(primary, primary)
    same = [c for c in LANGUAGES if c.split("-")[0].lower() == primary]
    hint = (
        f" (for this language use {' or '.join(same)})" if isinstance(value, str) and same else ""
    )
    raise _invalid(
        where,
        f"{_shown(value)} is not a supported language{hint}; use one of the "
        f"{len(LANGUAGES)} BCP-47 codes {', '.join(LANGUAGES)}",
    )


def _one_of(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise _invalid(where, f"must be one of {', '.join(allowed)} (got {_shown(value)})")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(where, f"must be true or false (got {_shown(value)})")
    return value


def _volume_db(value: Any, where: str) -> float:
    low, high = VOLUME_DB_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _invalid(
            where, f"must be a number of dBFS from {low:g} to {high:g} (got {_shown(value)})"
        )
    return float(value)


def _captions(value: Any, where: str) -> dict[str, str]:
    """``{"content": str, "format"?: str, "filename"?: str}``; cue lines must parse."""
    if not isinstance(value, dict):
        raise _invalid(where, 'must be an object such as {"content": "WEBVTT ..."}')
    for key in value:
        if key not in CUSTOM_CAPTION_FIELDS:
            raise _invalid(
                f"{where}.{key}", f"is not a field (known: {', '.join(CUSTOM_CAPTION_FIELDS)})"
            )
    content = value.get("content")
    if not isinstance(content, str) or not content.strip():
        raise _invalid(f"{where}.content", "is required: the captions as VTT, SRT or plain text")
    for key in ("format", "filename"):
        if key in value and value[key] is not None and not isinstance(value[key], str):
            raise _invalid(f"{where}.{key}", f"must be a string (got {_shown(value[key])})")
    for n, line in enumerate(content.replace("\r\n", "\n").split("\n"), 1):
        if "-->" in line and not CUE_TIMING.match(line.strip()):
            raise _invalid(f"{where}.content", f"line {n} is not a cue timing: {_shown(line)}")
    return {k: v for k, v in value.items() if v is not None}


CUE_TIMING = re.compile(
    r"^(\d+:)?\d{1,2}:\d\d[.,]\d{3}\s+-->\s+(\d+:)?\d{1,2}:\d\d[.,]\d{3}(\s.*)?$"
)
"""A VTT or SRT cue's timing line."""


def parse_config(raw: Any, kind: str, prefix: str = "generation_config.") -> dict[str, Any]:
    """The generation config with defaults filled in; the first bad field is a 400 naming it."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _invalid(prefix.rstrip(".") or "generation_config", "must be an object")
    route = f"generate_ad_{kind}"
    for key in raw:
        if key not in DEFAULT_CONFIG:
            raise _invalid(
                f"{prefix}{key}", f"is not a known field (known: {', '.join(ROUTE_FIELDS[kind])})"
            )
        if key not in ROUTE_FIELDS[kind]:
            takes = [f"generate_ad_{k}" for k, keys in ROUTE_FIELDS.items() if key in keys]
            raise _invalid(
                f"{prefix}{key}", f"is not a field of {route} (it applies to {', '.join(takes)})"
            )
    config = dict(DEFAULT_CONFIG)
    for key, value in raw.items():
        if value is None:
            continue
        where = f"{prefix}{key}"
        if key == "language":
            config[key] = _language(value, where)
        elif key == "format":
            allowed = FORMATS + ((VIDEO_FORMAT,) if kind == "video" else ())
            config[key] = _one_of(value, allowed, where)
        elif key == "ad_type":
            _one_of(value, AD_TYPES, where)
            if kind == "audio" and value != "standard_ad":
                raise _invalid(where, "generate_ad_audio is available for Standard AD only")
            config[key] = value
        elif key == "voice":
            match = {v.lower(): v for v in VOICES}.get(str(value).lower())
            if not isinstance(value, str) or match is None:
                raise _invalid(
                    where, f"{_shown(value)} is not a voice id; use one of {', '.join(VOICES)}"
                )
            config[key] = match
        elif key in ("custom_instructions", "description_content"):
            limit = CUSTOM_INSTRUCTIONS_MAX if key == "custom_instructions" else None
            if not isinstance(value, str) or (limit is not None and len(value) > limit):
                more = f" of at most {limit} characters" if limit is not None else ""
                raise _invalid(where, f"must be a string{more} (got {_shown(value)})")
            config[key] = value
        elif key in ("read_all_onscreen_text", "auto_fit", "allow_descriptions_over_music"):
            config[key] = _flag(value, where)
        elif key == "video_category":
            config[key] = _one_of(value, CATEGORIES, where)
        elif key == "volume_option":
            config[key] = _one_of(value, VOLUME_OPTIONS, where)
        elif key == "volume_level_db":
            config[key] = _volume_db(value, where)
        elif key == "audio_track_type":
            config[key] = _one_of(value, AUDIO_TRACK_TYPES, where)
        elif key == "custom_captions":
            config[key] = _captions(value, where)
    return config


# ------------------------------------------------------------------------------- routes


def _endpoint(handler: Handler) -> Handler:
    """Run ``handler``; an ``ApiError`` becomes this provider's error body."""
    return endpoint(handler, ApiError)


def build(env: Env) -> list[Route]:
    """The ViddyScribe Enterprise routes, relative to the provider's base URL."""
    api = ViddyScribe(env)
    env.audit.register(NAME, api.audit_lookup)

    async def ingest_part(team: str, part: Part | None, name: str | None = None) -> Media:
        if part is None or part.filename is None:
            raise _invalid("file", "is required: send the video as the multipart field 'file'")
        path = api.scratch() / f".direct-{secrets.token_hex(8)}"
        path.write_bytes(part.data)
        try:
            return await asyncio.to_thread(
                api.ingest,
                team,
                path,
                name or part.filename or "video.mp4",
                part.content_type or "application/octet-stream",
            )
        finally:
            path.unlink(missing_ok=True)

    async def ingest_url(team: str, inp: dict[str, Any]) -> Media:
        url = inp.get("url")

        def work() -> Media:
            got = api.fetch_url(team, url, "input.url", api.scratch())
            name = inp.get("filename") or (
                urlsplit(url).path.rsplit("/", 1)[-1] if not is_data_uri(url) else "video.mp4"
            )
            try:
                return api.ingest(team, got, str(name) or "video.mp4", "video/mp4")
            finally:
                if got.parent == api.scratch():
                    got.unlink(missing_ok=True)

        return await asyncio.to_thread(work)

    async def upload_media(request: Request) -> Response:
        team = api.authorize(request)
        with api.submission(team):
            if _is_multipart(request):
                raw = await read_body(request, DIRECT_UPLOAD_MAX + MULTIPART_OVERHEAD)
                parts = parse_multipart(raw, request.headers["content-type"])
                inp: dict[str, Any] = {}
                if "input" in parts:
                    raw_input = _json_object(parts["input"].data, "input")
                    inp = parse_input(raw_input, allowed=("file",))
                media = await ingest_part(team, parts.get("file"), inp.get("filename"))
                return JSONResponse(api.media_json(media))
            body = _json_object(await read_body(request, JSON_BODY_MAX), "body")
            for key in body:
                if key != "input":
                    raise _invalid(key, "is not a field of upload_media (send input)")
            if "input" not in body:
                raise _invalid("input", "is required")
            kind = body["input"].get("type") if isinstance(body["input"], dict) else None
            if kind == "file":
                raise _invalid("input.type", "file uploads are multipart/form-data with 'file'")
            inp = parse_input(body["input"], allowed=("url", "signed_url"))
            if inp["type"] == "signed_url":
                media = api.request_signed_upload(team, inp)
                return JSONResponse(
                    {
                        "media_id": media.id,
                        "upload_url": api.upload_url(media),
                        "gcs_path": media.gcs_path,
                        "status": "pending_upload",
                        "content_type": media.content_type,
                    }
                )
            media = await ingest_url(team, inp)
            return JSONResponse(api.media_json(media))

    async def put_upload(request: Request) -> Response:
        return await api.receive_put(request)

    async def notify(request: Request) -> Response:
        team = api.authorize(request)
        body = _json_object(await read_body(request, MiB), "body")
        media = api.notify(team, body)
        return JSONResponse(
            {
                "media_id": media.id,
                "gcs_path": media.gcs_path,
                "status": media.upload_status,
                "upload_status": media.upload_status,
            }
        )

    async def upload_status(request: Request) -> Response:
        team = api.authorize(request)
        q = request.query_params
        return JSONResponse(api.upload_status(team, q.get("media_id"), q.get("gcs_path")))

    def generate(kind: str) -> Handler:
        async def handler(request: Request) -> Response:
            team = api.authorize(request)
            api.check_allocation(team)
            with api.submission(team):
                file_part: Part | None = None
                if _is_multipart(request):
                    raw = await read_body(request, DIRECT_UPLOAD_MAX + MULTIPART_OVERHEAD)
                    parts = parse_multipart(raw, request.headers["content-type"])
                    for name in parts:
                        if name not in ("input", "file", "generation_config"):
                            raise _invalid(name, "is not a field of this request")
                    file_part = parts.get("file")
                    inp = (
                        _json_object(parts["input"].data, "input")
                        if "input" in parts
                        else {"type": "file"}
                    )
                    raw_config: Any = (
                        _json_object(parts["generation_config"].data, "generation_config")
                        if "generation_config" in parts
                        else None
                    )
                    config = parse_config(raw_config, kind)
                else:
                    body = _json_object(await read_body(request, JSON_BODY_MAX), "body")
                    if "input" in body:
                        for key in body:
                            if key not in ("input", "generation_config"):
                                raise _invalid(key, "is not a field of this request")
                        inp = body["input"]
                        config = parse_config(body.get("generation_config"), kind)
                    elif "media_id" in body:  # the overview's flat quick example
                        inp = {"type": "media_id", "media_id": body["media_id"]}
                        flat = {k: v for k, v in body.items() if k != "media_id"}
                        config = parse_config(flat, kind, prefix="")
                    else:
                        raise _invalid("input", "is required (or the flat media_id form)")
                json_types = tuple(t for t in INPUT_TYPES if t != "file")
                inp = parse_input(inp, allowed=INPUT_TYPES if file_part else json_types)
                api.check_queue(team)
                if inp["type"] == "media_id":
                    media = api.ready_media(team, inp.get("media_id"), "input.media_id")
                elif inp["type"] == "url":
                    media = await ingest_url(team, inp)
                else:
                    media = await ingest_part(team, file_part, inp.get("filename"))
                job = api.create_job(team, kind, media, config, inp.get("filename"))
            return JSONResponse(
                {"job_id": job.id, "status": STATUS[Stage.WAITING], "media_id": media.public_id}
            )

        return handler

    async def get_results(request: Request) -> Response:
        team = api.authorize(request)
        job = api.get_job(team, request.query_params.get("job_id"))
        return JSONResponse(api.job_json(job))

    routes = [
        Route(f"{API}/upload_media", _endpoint(upload_media), methods=["POST"]),
        Route(f"{API}/notify_upload_complete", _endpoint(notify), methods=["POST"]),
        Route(f"{API}/get_upload_status", _endpoint(upload_status), methods=["GET"]),
        Route(f"{API}/get_results", _endpoint(get_results), methods=["GET"]),
        Route("/upload/{media_id}/{filename}", _endpoint(put_upload), methods=["PUT"]),
    ]
    for path, kind in JOB_KINDS.items():
        routes.append(Route(f"{API}/{path}", _endpoint(generate(kind)), methods=["POST"]))
    return routes
