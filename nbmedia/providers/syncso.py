"""sync.so API v2: a video plus recorded audio or text-to-speech → a lip-synced video (section 5).

Local files are uploaded to the account's asset library (presigned URL, PUT, register) and sent
as `assetId`, once per content for the session (`SyncSo.asset_for`); URLs and earlier jobs'
outputs go by URL; `video_asset_id` / `audio_asset_id` name assets already in the library. Every create carries an `Idempotency-Key` equal to the job's `local_id`, so a retried create
cannot bill twice: within a session the HTTP client re-sends a create whose answer was lost with
the same key (the idempotent create retry) and gets the same generation back. Across sessions,
or once those retries are spent, `find_created` looks the generation up in the list (the key
itself cannot be listed). Webhooks are verified with `Sync-Signature: t=<unix>,v1=<hex>` over
`"{t}.{raw body}"`, within 300 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import mimetypes
import os
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import pydantic
from pydantic import Field

from ..errors import (
    ProviderError,
    TransportError,
    UnknownStatus,
    ValidationError,
    WebhookError,
)
from ..http import ApiClient, ParsedError, Secret
from ..models import Job, JobStatus, Output
from ..validation import FieldRule, RequestModel, http_url, is_http_url
from . import mediainfo
from .answers import closest, eligible, malformed, matches, number, read, read_rows, same
from .base import Capability, Provider, Swept, check_fresh, guess_mime, parse_time
from .inputs import existing_file, input_url

MODELS = ("lipsync-2", "lipsync-1.9.0-beta", "lipsync-2-pro", "react-1", "sync-3")
SEGMENT_MODELS = ("lipsync-2", "lipsync-2-pro", "sync-3")
"""The models that take `segments` (others answer 400: the model does not support segments)."""
ASSET_MAX = 5 * 1024**3
"""A single asset upload is capped at 5 GB."""
ASSET_TYPES = {"video": "VIDEO", "audio": "AUDIO"}
"""The asset `type` a local file is registered as, by the input it fills."""
ASSET_TAG_CHARS = 16
"""Hex digits of a file's SHA-256 in the name of its asset (64 bits: no two files share one)."""
ASSET_REF = "asset"
"""The refId of `audio_asset_id`'s input, so segments can point at it."""
FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
TTS_REF = "tts"
"""The refId given to the text-to-speech input, so segments can point at it."""
OPTION_FIELDS = (
    "sync_mode",
    "temperature",
    "model_mode",
    "prompt",
    "active_speaker_detection",
    "occlusion_detection_enabled",
)
"""LipsyncRequest fields that go under `options` on the wire."""
BATCH_FILE_MAX = 5 * 1024 * 1024
"""A batch's JSON Lines file may be at most 5 MB (a larger one is sent row by row)."""
ROW_MARK = "#row:"
"""A batch row's id until the batch's results name its generation: `{batch id}#row:{local id}`
(the local id is the row's `request_id`)."""
BATCH_WAITING = {"PENDING": JobStatus.QUEUED, "JOBS_CREATED": JobStatus.QUEUED,
                 "PROCESSING": JobStatus.RUNNING}  # fmt: skip
BATCH_ENDED = ("COMPLETED", "FAILED")
IDS_PER_LIST = 50
"""Generation ids one list call asks for (the query string stays short)."""
LIST_ROWS = ("data", "generations")
"""Keys a list answer may wrap its rows in (the sandbox and the SDK answer a bare array)."""


class AudioRef(RequestModel):
    """Which audio input a segment plays, and optionally which part of it."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)
    ref_id: str = Field(alias="refId", min_length=1)
    start_time: float | None = Field(None, alias="startTime", ge=0)
    end_time: float | None = Field(None, alias="endTime", ge=0)


class Segment(RequestModel):
    """A time range of the video and the audio input it gets."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)
    start_time: float = Field(alias="startTime", ge=0)
    end_time: float = Field(alias="endTime", gt=0)
    audio_input: AudioRef = Field(alias="audioInput")

    @pydantic.model_validator(mode="after")
    def _order(self) -> Segment:
        if self.end_time <= self.start_time:
            raise FieldRule(
                "endTime",
                f"must be after startTime ({self.start_time})",
                self.end_time,
            )
        a = self.audio_input
        if a.start_time is not None and a.end_time is not None and a.end_time <= a.start_time:
            raise FieldRule("audioInput.endTime", "must be after audioInput.startTime", a.end_time)
        return self


class SpeakerDetection(RequestModel):
    auto_detect: bool | None = None
    frame_number: int | None = Field(None, ge=0)
    coordinates: list[int] | None = Field(
        None, min_length=2, max_length=2, description="[x, y] in pixels (integers, as the SDK)"
    )
    bounding_boxes: list[Any] | None = None


MAX_AUDIO_S = 300
"""The longest audio input sync.so takes (its error `generation_audio_length_exceeded`)."""


class LipsyncRequest(RequestModel):
    """POST /v2/generate: one video, at least one audio (recorded or text-to-speech)."""

    video: Any = Field(None, description="Local file, URL, or an earlier job's video")
    video_asset_id: str | None = Field(
        None, min_length=1, description="A VIDEO asset of the library, instead of video"
    )
    audio_asset_id: str | None = Field(
        None, min_length=1, description="An AUDIO asset of the library (refId 'asset')"
    )
    audio: Any = Field(None, description="Recorded audio: a source, a list, or {refId: source}")
    text: str | None = Field(
        None, min_length=1, max_length=5000, description="Script for text-to-speech"
    )
    voice_id: str | None = Field(
        None, description="TTS voice id", json_schema_extra={"voice": True}
    )
    model: Literal[MODELS] = Field("lipsync-2", description="Model")  # type: ignore[valid-type]
    sync_mode: Literal["bounce", "loop", "cut_off", "silence", "remap"] | None = None
    temperature: float | None = Field(None, ge=0, le=1)
    model_mode: Literal["lips", "face", "head"] | None = Field(None, description="react-1 only")
    prompt: Literal["happy", "sad", "angry", "disgusted", "surprised", "neutral"] | None = Field(
        None, description="Emotion, react-1 only"
    )
    active_speaker_detection: SpeakerDetection | None = None
    occlusion_detection_enabled: bool | None = None
    segments: list[Segment] | None = None
    webhook_url: str | None = None
    output_file_name: str | None = Field(
        None, description="Letters, digits, _ and -; .mp4 is added"
    )

    def wire(self) -> dict[str, Any]:
        body = self.model_dump(
            mode="json", exclude_none=True, by_alias=True, exclude={"video", "audio"}
        )
        body["video"] = _shown(self.video)
        if isinstance(self.audio, Mapping):
            body["audio"] = {str(k): _shown(v) for k, v in self.audio.items()}
        elif isinstance(self.audio, (list, tuple)):
            body["audio"] = [_shown(v) for v in self.audio]
        elif self.audio is not None:  # as given: a mapping would name refIds it never sent
            body["audio"] = _shown(self.audio)
        return body

    @pydantic.field_validator("video")
    @classmethod
    def _video(cls, v: Any) -> Any:
        if v is not None:
            _check_source(v, "video")
        return v

    @pydantic.field_validator("audio")
    @classmethod
    def _audio(cls, v: Any) -> Any:
        if v is None:
            return v
        if not isinstance(v, (Mapping, list, tuple, str, os.PathLike, Job, Output)):
            raise ValueError(
                f"must be a source, a list of them or {{refId: source}}, not {type(v).__name__}"
            )
        sources = audio_sources(v)
        if not sources:
            raise ValueError("is empty: give at least one audio source")
        for src in sources.values():
            _check_source(src, "audio")
            path = _local(src)
            length = mediainfo.duration(path) if path is not None else None
            if length is not None and length > MAX_AUDIO_S:
                raise ValueError(
                    f"{path.name} is {length:.0f} s long; sync.so takes audio up to "  # type: ignore[union-attr]
                    f"{MAX_AUDIO_S} s (generation_audio_length_exceeded)"
                )
        return v

    @pydantic.field_validator("output_file_name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not FILE_NAME.match(v):
            raise ValueError(
                "only letters, digits, _ and - are allowed, up to 255 characters (.mp4 is added)"
            )
        return v

    @pydantic.field_validator("webhook_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return http_url(v)

    @pydantic.model_validator(mode="after")
    def _rules(self) -> LipsyncRequest:
        if (self.video is None) == (self.video_asset_id is None):
            raise FieldRule(
                "video",
                "give exactly one video: a local file, an http(s) URL or an earlier job's video, "
                "or video_asset_id",
                self.video,
            )
        if self.audio is None and self.text is None and self.audio_asset_id is None:
            raise FieldRule(
                "audio",
                "at least one audio input is required: give audio, audio_asset_id, or text "
                "with voice_id",
            )
        if self.audio_asset_id is not None and ASSET_REF in audio_sources(self.audio):
            raise FieldRule(
                "audio", f"refId {ASSET_REF!r} is audio_asset_id's: name this audio otherwise"
            )
        if self.text is not None and not self.voice_id:
            raise FieldRule("voice_id", "text-to-speech needs a voice_id")
        if self.voice_id and self.text is None:
            raise FieldRule("text", "voice_id is for text-to-speech: give the text too", self.text)
        if self.model != "react-1":
            for name in ("model_mode", "prompt"):
                if getattr(self, name) is not None:
                    raise FieldRule(
                        name,
                        f"is only for the react-1 model (model is {self.model})",
                        getattr(self, name),
                    )
        if self.segments and self.model not in SEGMENT_MODELS:
            raise FieldRule(
                "segments",
                f"{self.model} takes no segments (models that do: {', '.join(SEGMENT_MODELS)})",
                f"{len(self.segments)} segments",
            )
        refs = set(audio_sources(self.audio)) | ({TTS_REF} if self.text is not None else set())
        refs |= {ASSET_REF} if self.audio_asset_id is not None else set()
        for i, seg in enumerate(self.segments or []):
            if seg.audio_input.ref_id not in refs:
                raise FieldRule(
                    f"segments.{i}.audioInput.refId",
                    f"names no audio input (known: {', '.join(sorted(refs))})",
                    seg.audio_input.ref_id,
                )
        return self


def _shown(value: Any) -> Any:
    """A JSON-safe record of an input for the ledger (a job by id, a file by path)."""
    if isinstance(value, Job):
        return f"job:{value.provider}/{value.id}"
    if isinstance(value, Output):
        return value.url or str(value.path)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, str) and value.startswith("data:"):
        return value[:40] + "…"
    return value


def audio_sources(audio: Any) -> dict[str, Any]:
    """`audio` as {refId: source}: a mapping keeps its keys, a list gets audio1, audio2, …"""
    if audio is None:
        return {}
    if isinstance(audio, Mapping):
        return {str(k): v for k, v in audio.items()}
    items = audio if isinstance(audio, (list, tuple)) else [audio]
    return {f"audio{i + 1}": v for i, v in enumerate(items)}


def _check_source(value: Any, kind: str) -> None:
    """An input the API can take: an earlier job or output, an http(s) URL, a data: URI or an
    existing file (checked here, before any row is written or byte sent)."""
    if isinstance(value, (Job, Output)):
        return
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(
            f"must be a local file, an http(s) URL or an earlier job's {kind}, "
            f"not {type(value).__name__}"
        )
    text = os.fspath(value)
    if is_http_url(text):
        return
    if text.startswith("data:") or existing_file(text) is not None:
        return
    raise ValueError(
        f"must be an existing file, an http(s) URL or an earlier job's {kind} (no file there)"
    )


def _local(value: Any) -> Path | None:
    if isinstance(value, (Job, Output)):
        return None
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if not text.startswith(("http://", "https://", "data:")):
            return existing_file(text)
    return None


class SyncSo(Provider):
    """Estimates cost, deduplicates creates by Idempotency-Key, signs webhooks, and lists
    generations (filtered by `ids` and `status`), so open ones refresh in one call and a lost
    create can be found."""

    name = "syncso"
    title = "sync.so"
    key_env = "SYNC_API_KEY"
    default_base_url = "https://api.sync.so"
    sandbox_key = "sync_nbmedia_sandbox"
    concurrency = 1
    """Hobbyist, the smallest plan: 1 concurrent generation (Creator 3, Growth 6, Scale 15)."""
    rate_limit = 600
    sandbox_rate_limit = 600
    """POST /v2/generate 60 rpm, every other endpoint 600 rpm (all plans)."""
    webhook_field = "webhook_url"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_REFRESH,
            Capability.ESTIMATE,
            Capability.SIGNED_WEBHOOKS,
            Capability.IDEMPOTENT_CREATE,
            Capability.FIND_CREATED,
            Capability.BATCH,
        }
    )
    batch_size = (20, 500)
    """POST /v2/batch takes 20 to 500 generations (Scale and Enterprise plans; others 402)."""
    requests: ClassVar[dict[str, type[RequestModel]]] = {"lipsync": LipsyncRequest}
    text_field: ClassVar[dict[str, str]] = {"lipsync": "text"}
    statuses: ClassVar[dict[str, JobStatus]] = {
        "PENDING": JobStatus.QUEUED,
        "PROCESSING": JobStatus.RUNNING,
        "COMPLETED": JobStatus.SUCCEEDED,
        "FAILED": JobStatus.FAILED,
        "REJECTED": JobStatus.FAILED,
        "CANCELED": JobStatus.CANCELLED,
    }
    makes: ClassVar[dict[str, str]] = {
        "lipsync": "video + recorded audio or text-to-speech → lip-synced video, per-segment audio",
    }
    estimates_kept: ClassVar[int] = 256
    """Estimates remembered (the oldest is forgotten first)."""

    def __init__(self, api: ApiClient, *, webhook_secret: Secret | None = None) -> None:
        super().__init__(api, webhook_secret=webhook_secret)
        self._estimates: dict[str, float] = {}
        self._assets: dict[str, str] = {}
        """"{type}:{sha256 of the file}" → asset id, for the session (`asset_for`)."""
        self._asset_locks: dict[str, asyncio.Lock] = {}
        """Dollars estimated per wire body (`estimate`): sync.so's generations report no cost
        of their own, so a job sent with a body estimated before shows that estimate."""

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"x-api-key": key}

    @staticmethod
    def parse_error(response: httpx.Response, body: Any) -> ParsedError:
        """NestJS bodies: {"statusCode", "message": str | [str], "error", "code"?}: the code is
        the body's own `code` (or the newer docs' `errorCode`, or `error_code`), never `error`,
        which is the reason phrase."""
        if isinstance(body, dict) and "statusCode" in body:
            msg = body.get("message")
            text = (
                "; ".join(map(str, msg))
                if isinstance(msg, list)
                else str(msg or response.reason_phrase)
            )
            code = body.get("code") or body.get("errorCode") or body.get("error_code")
            return ParsedError(str(code) if code else None, text)
        from ..http import default_error_parser

        return default_error_parser(response, body)

    def make_request(self, kind: str, fields: Mapping[str, Any]) -> RequestModel:
        request = super().make_request(kind, fields)
        assert isinstance(request, LipsyncRequest)
        self._check_files(request)
        return request

    def _check_files(self, request: LipsyncRequest) -> None:
        """Local files must fit one asset upload; segments must lie within a known video."""
        video = _local(request.video)
        local = [("video", video)] + [
            (f"audio.{ref}", _local(src)) for ref, src in audio_sources(request.audio).items()
        ]
        for field, path in local:
            if path is not None and path.stat().st_size > ASSET_MAX:
                raise ValidationError(
                    self.name,
                    field,
                    str(path),
                    f"an asset upload may be at most 5 GB ({path.stat().st_size / 1e9:.1f} GB): "
                    "pass a URL",
                )
        if video is None and isinstance(request.video, Job) and request.video.path is not None:
            video = Path(request.video.path)
        length = mediainfo.duration(video) if video is not None else None
        if length is not None:
            for i, seg in enumerate(request.segments or []):
                if seg.end_time > length + 0.05:
                    raise ValidationError(
                        self.name,
                        f"segments.{i}.endTime",
                        seg.end_time,
                        f"must be within the video ({length:.2f} s)",
                    )

    # ---- the wire ---------------------------------------------------------------------------
    def wire(
        self, request: LipsyncRequest, assets: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The JSON body. A local file is sent as the asset id `assets` maps its path to
        (`upload_files` makes that map); a local file without one is a programming error."""
        assets = assets or {}
        items: list[dict[str, Any]] = []
        path = _local(request.video)
        if request.video_asset_id is not None:
            items.append({"type": "video", "assetId": request.video_asset_id})
        elif path is not None:
            items.append({"type": "video", "assetId": assets[str(path)]})
        else:
            items.append(
                {"type": "video", "url": input_url(self.name, "video", request.video, "video")}
            )
        named = (
            isinstance(request.audio, Mapping)
            or bool(request.segments)
            or request.audio_asset_id is not None
        )
        for ref, src in audio_sources(request.audio).items():
            path = _local(src)
            if path is not None:
                item = {"type": "audio", "assetId": assets[str(path)]}
            else:
                item = {"type": "audio", "url": input_url(self.name, f"audio.{ref}", src, "audio")}
            if named:
                item["refId"] = ref
            items.append(item)
        if request.audio_asset_id is not None:
            items.append({"type": "audio", "assetId": request.audio_asset_id, "refId": ASSET_REF})
        if request.text is not None:
            tts: dict[str, Any] = {
                "type": "text",
                "provider": {
                    "name": "elevenlabs",
                    "voiceId": request.voice_id,
                    "script": request.text,
                },
            }
            if named or request.segments:
                tts["refId"] = TTS_REF
            items.append(tts)
        body: dict[str, Any] = {"model": request.model, "input": items}
        options = request.model_dump(
            mode="json",
            exclude_none=True,
            include=set(OPTION_FIELDS),
        )
        if options:
            body["options"] = options
        if request.segments:
            body["segments"] = [
                s.model_dump(mode="json", by_alias=True, exclude_none=True)
                for s in request.segments
            ]
        if request.webhook_url:
            body["webhookUrl"] = request.webhook_url
        if request.output_file_name:
            body["outputFileName"] = request.output_file_name
        return body

    async def upload_files(self, request: LipsyncRequest) -> dict[str, str]:
        """Every local file of `request` as an asset: {path: asset id}. A failed upload made
        no generation: its error says so (`may_have_reached_server` False), so the job is not
        looked for in the list as a create that may have been made."""
        local = [("video", _local(request.video))]
        local += [("audio", _local(src)) for src in audio_sources(request.audio).values()]
        try:
            return {str(p): await self.asset_for(p, kind) for kind, p in local if p is not None}
        except (ProviderError, TransportError) as exc:
            exc.may_have_reached_server = False
            raise

    async def asset_for(self, path: Path, kind: str) -> str:
        """The asset id of a local file, uploading it only when the library has no copy.

        Why: sync.so keeps uploaded media as reusable assets, and its docs recommend them for
        local files (upload once, then create and retry by id without sending the bytes again).
        Lip-syncing one take against many voices, a batch, or a retried create would otherwise
        upload the same bytes each time. An asset is named with the start of its content's
        SHA-256 (`asset_name`), so a later session finds the same asset in the library
        (`_library_asset`) instead of uploading again; a create re-sent after a restart then
        carries the same body, which its Idempotency-Key requires. Within a session the id is
        remembered by content hash (and the type it was registered as)."""
        digest = await asyncio.to_thread(_sha256, path)
        key = f"{kind}:{digest}"
        lock = self._asset_locks.setdefault(key, asyncio.Lock())
        async with lock:  # two rows with the same file upload it once
            known = self._assets.get(key) or await self._library_asset(path, kind, digest)
            if known is not None:
                self._assets[key] = known
                return known
            data = await asyncio.to_thread(path.read_bytes)
            mime = (
                mimetypes.guess_type(path.name)[0]
                or f"{kind}/{'mp4' if kind == 'video' else 'wav'}"
            )
            r = await self.api.request(
                "POST",
                "/v2/assets/upload",
                json={"fileName": path.name, "contentType": mime, "size": len(data)},
            )
            presigned = read(self.api, r, require={"uploadUrl": str, "url": str})
            await self.api.request(
                "PUT",
                presigned["uploadUrl"],
                content=data,
                headers={"Content-Type": mime},
                with_auth=False,
            )
            r = await self.api.request(
                "POST",
                "/v2/assets",
                json={
                    "url": presigned["url"],
                    "type": ASSET_TYPES[kind],
                    "name": asset_name(path, digest),
                },
            )
            asset_id = read(self.api, r, require={"id": str})["id"]
            self._assets[key] = asset_id
            return asset_id

    async def _library_asset(self, path: Path, kind: str, digest: str) -> str | None:
        """The oldest asset of the library uploaded from this content as this type, if any
        (GET /v2/assets searched by the digest in its name; its size must match too)."""
        tag = digest[:ASSET_TAG_CHARS]
        r = await self.api.request(
            "GET",
            "/v2/assets",
            params={
                "searchQuery": tag,
                "types": ASSET_TYPES[kind],
                "sortBy": "dateAsc",
                "limit": 100,
            },
        )
        page = read(self.api, r, require={"items": list})
        size = path.stat().st_size
        for asset in page["items"]:
            if (
                isinstance(asset, dict)
                and isinstance(asset.get("id"), str)
                and tag in str(asset.get("name") or "")
                and asset.get("type") == ASSET_TYPES[kind]
                and asset.get("size") in (None, size)
            ):
                return asset["id"]
        return None

    # ---- lifecycle ---------------------------------------------------------------------------
    async def submit(self, job: Job, request: RequestModel) -> Job:
        """Creates the generation with `Idempotency-Key: job.local_id`: the HTTP client may
        re-send it after a lost answer (idempotent_create) and sync.so answers the same one."""
        assert isinstance(request, LipsyncRequest)
        body = self.wire(request, await self.upload_files(request))  # nothing billed before
        headers = {"Idempotency-Key": job.local_id or uuid.uuid4().hex}
        r = await self.api.request(
            "POST",
            "/v2/generate",
            json=body,
            headers=headers,
            creates_job=True,
            idempotent_create=True,
        )
        self.apply(job, read(self.api, r, require={"id": str}))
        estimated = self._estimates.get(_body_key(body))
        if job.cost is None and estimated is not None:
            job.cost, job.cost_unit = estimated, "USD estimate"
        return job

    async def submit_batch(self, jobs: list[Job], requests: list[RequestModel]) -> None:
        """POST /v2/batch: one JSON Lines file, a line per job (`request_id` = its local id,
        the payload its create body, local files as assets). sync.so answers with the batch
        only; each job is followed through it (`ROW_MARK` ids) until the batch's results file
        names its generation. Not retried once it may have arrived: the batch create takes no
        Idempotency-Key (the engine looks for each row in the generations list instead)."""
        lines = []
        for job, request in zip(jobs, requests, strict=True):
            assert isinstance(request, LipsyncRequest)
            body = self.wire(request, await self.upload_files(request))
            lines.append({"request_id": job.local_id, "endpoint": "/v2/generate", "payload": body})
        data = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
        if len(data) > BATCH_FILE_MAX:
            raise ValidationError(
                self.name, "batch", f"{len(data)} bytes", "a batch file may be at most 5 MB"
            )
        r = await self.api.request(
            "POST",
            "/v2/batch",
            files={"input": ("nbmedia-batch.jsonl", data, "application/jsonl")},
            creates_job=True,
        )
        made = read(self.api, r, require={"id": str})
        for job in jobs:
            job.id = f"{made['id']}{ROW_MARK}{job.local_id}"
            job.raw = made
            job.status = JobStatus.QUEUED
            job.progress = 0.0
            job.created_at = parse_time(made.get("created_at")) or job.created_at

    async def _refresh_rows(self, jobs: list[Job]) -> None:
        """Batch rows: one GET per batch; once it has ended, its results file gives each row
        its generation (and from then on the job is that generation)."""
        by_batch: dict[str, list[Job]] = {}
        for job in jobs:
            by_batch.setdefault(str(job.id).split(ROW_MARK, 1)[0], []).append(job)
        for batch_id, rows in by_batch.items():
            r = await self.api.request("GET", f"/v2/batch/{batch_id}")
            batch = read(self.api, r, require={"status": str})
            status, url = batch["status"], batch.get("outputUrl")
            metrics = batch.get("metrics") if isinstance(batch.get("metrics"), dict) else {}
            if status in BATCH_WAITING or (status == "COMPLETED" and not url):
                total = number(metrics.get("total_generations")) or 0
                ended = (number(metrics.get("success_count")) or 0) + (
                    number(metrics.get("failed_count")) or 0
                )
                for job in rows:
                    job.raw = batch
                    job.status = BATCH_WAITING.get(status, JobStatus.RUNNING)
                    job.progress = ended / total if total else job.progress
                continue
            if status not in BATCH_ENDED:
                raise UnknownStatus(self.name, status)
            results = await self._batch_results(url) if isinstance(url, str) and url else {}
            for job in rows:
                found = results.get(str(job.id).split(ROW_MARK, 1)[1])
                if found is not None:
                    self.apply(job, found)
                    continue
                job.raw = batch
                job.status = JobStatus.FAILED
                job.error = {
                    "code": "batch_failed" if status == "FAILED" else "batch_row_missing",
                    "message": f"batch {batch_id} ended {status} without a result for this row",
                }

    async def _batch_results(self, url: str) -> dict[str, dict[str, Any]]:
        """The results file: `{"request_id", "response": <Generation>}` per line."""
        r = await self.api.request("GET", url)
        results = {}
        for line in r.text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("response"), dict):
                results[str(row.get("request_id"))] = row["response"]
        return results

    async def refresh(self, job: Job) -> Job:
        if job.id and ROW_MARK in job.id:
            await self._refresh_rows([job])
            return job
        r = await self.api.request("GET", f"/v2/generate/{job.id}")
        return self.apply(job, read(self.api, r, require={"status": str}))

    async def sweep(self, jobs: list[Job], ended: Callable[[Job], None] | None = None) -> Swept:
        """One list call per IDS_PER_LIST open generations (`ids`); what it does not show is
        read with a GET each (a server that ignores `ids` answers them all, which is fine
        too)."""
        swept = Swept()
        rows = [j for j in jobs if j.id and ROW_MARK in j.id]
        if rows:
            copies = [swept.copy(j) for j in rows]
            try:
                await self._refresh_rows(copies)
            except Exception as exc:  # noqa: BLE001 - the rows could not be read this sweep
                for job in rows:
                    swept.fail(job, exc)
            else:
                for copy in copies:
                    if ended is not None and copy.done:
                        ended(copy)
            jobs = [j for j in jobs if not (j.id and ROW_MARK in j.id)]
        if len(jobs) <= 1:
            return swept.update(await super().sweep(jobs, ended))
        wanted = {j.id: j for j in jobs if j.id}
        ids = list(wanted)
        for start in range(0, len(ids), IDS_PER_LIST):
            chunk = ids[start : start + IDS_PER_LIST]
            for payload in await self._list([("ids", i) for i in chunk]):
                job = wanted.pop(payload.get("id"), None)  # type: ignore[arg-type]
                if job is not None:
                    self.apply(swept.copy(job), payload)
        return swept.update(await super().sweep(list(wanted.values()), ended))

    async def list_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        status = filters.pop("status", None)
        if filters:
            raise ValidationError(
                self.name,
                next(iter(filters)),
                filters[next(iter(filters))],
                "the list takes only status",
            )
        if status is not None and status not in self.statuses:
            raise ValidationError(
                self.name, "status", status, f"must be one of {', '.join(self.statuses)}"
            )
        return await self._list([("status", status)] if status else None)

    async def _list(self, params: list[tuple[str, Any]] | None) -> list[dict[str, Any]]:
        """GET /v2/generations: a bare array (the SDK's shape) or rows under data/generations."""
        r = await self.api.request("GET", "/v2/generations", params=params or None)
        rows, _ = read_rows(self.api, r, keys=LIST_ROWS)
        return rows

    async def find_created(self, job: Job, claimed: Collection[str]) -> Job | None:
        """The generation a lost create made. The Idempotency-Key cannot be listed, so this
        reads GET /v2/generations (newest first; it takes no time filter) and takes a
        generation created since `job.created_at` minus the clock-skew margin whose echoed
        `model`, `options` (those the request set), `segments`, `webhookUrl` and `input` (as
        many items of each type; the script and voiceId of a text input; the URL of a video or
        audio given by http(s) URL) equal `job.request`'s, not in `claimed`, created closest
        after `job.created_at`. Inputs uploaded as files come back as the URL they were stored
        at and are matched by type only."""
        expected = _expected_generation(job.request)
        inputs = expected.pop("input")
        candidates = []
        for payload in await self._list(None):
            created = parse_time(payload.get("createdAt"))
            if (
                eligible(job, payload, created, claimed)
                and matches(expected, payload, None)
                and _same_inputs(inputs, payload.get("input"))
            ):
                candidates.append((created, payload))
        found = closest(job, candidates)
        return None if found is None else self.apply(job, found)

    async def estimate(self, request: RequestModel) -> list[dict[str, Any]]:
        """POST /v2/analyze/cost: estimated frames and cost, nothing billed."""
        assert isinstance(request, LipsyncRequest)
        body = self.wire(request, await self.upload_files(request))
        r = await self.api.request("POST", "/v2/analyze/cost", json=body)
        data = self.api.json(r, object)
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
            raise malformed(self.api, r, "answered an estimate that is not a list of objects")
        if len(self._estimates) >= self.estimates_kept:
            self._estimates.pop(next(iter(self._estimates)))
        self._estimates[_body_key(body)] = sum(
            number(e.get("estimatedGenerationCost")) or 0 for e in data
        )
        return data

    @staticmethod
    def describe_estimate(estimate: list[dict[str, Any]]) -> str:
        frames = sum(number(e.get("estimatedFrameCount")) or 0 for e in estimate)
        cost = sum(number(e.get("estimatedGenerationCost")) or 0 for e in estimate)
        return f"≈ {frames:.0f} frames, ${cost:.2f}"

    def apply(self, job: Job, payload: dict[str, Any]) -> Job:
        job.raw = payload
        if isinstance(payload.get("id"), str) and payload["id"]:
            job.id = payload["id"]
        if payload.get("status") is not None:
            job.status = self.status_of(str(payload["status"]))
        job.progress = (
            1.0
            if job.status is JobStatus.SUCCEEDED
            else (0.0 if job.status is JobStatus.QUEUED else None)
        )
        job.created_at = parse_time(payload.get("createdAt")) or job.created_at
        if job.done:
            job.completed_at = (
                parse_time(payload.get("completedAt") or payload.get("updatedAt"))
                or job.completed_at
            )
        if job.status is JobStatus.FAILED:
            status = str(payload.get("status") or "failed")
            code = payload.get("error_code") or status.lower()
            job.error = {"code": code, "message": payload.get("error") or status}
        url = payload.get("outputUrl")
        if job.status is JobStatus.SUCCEEDED and isinstance(url, str) and url:
            known = {o.url: o for o in job.outputs}
            outs = [known.get(url) or Output("video", url, guess_mime(url, "video"))]
            seg = payload.get("segmentOutputUrl")
            if isinstance(seg, str) and seg:
                outs.append(
                    known.get(seg)
                    or Output("audio", seg, guess_mime(seg, "audio"), role="segments")
                )
            job.outputs = outs
        return job

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> dict[str, Any]:
        """Verifies `Sync-Signature` (HMAC-SHA256 of "{t}.{body}", t within 300 s)."""
        if self.webhook_secret is None:
            raise WebhookError("syncso: no webhook secret configured; cannot verify")
        lower = {k.lower(): v for k, v in headers.items()}
        parts = dict(
            p.split("=", 1) for p in lower.get("sync-signature", "").split(",") if "=" in p
        )
        if "t" not in parts or "v1" not in parts:
            raise WebhookError("syncso: missing or malformed Sync-Signature header")
        try:
            t = int(parts["t"])
        except ValueError:
            raise WebhookError("syncso: the signature timestamp is not a number") from None
        check_fresh(self.name, float(t), now)
        expected = hmac.new(
            self.webhook_secret.reveal().encode(), f"{t}.".encode() + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(parts["v1"], expected):
            raise WebhookError("syncso: webhook signature does not match")
        try:
            event = json.loads(body)
        except ValueError:
            raise WebhookError("syncso: webhook body is not JSON") from None
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise WebhookError("syncso: webhook body has no generation id")
        what = f"{event['id']}:{event.get('status')}"
        self.replays.check(self.name, parts["v1"], what, now=now)
        return {"id": event["id"], "status": event.get("status"), "event": event}

    def apply_event(self, job: Job, event: dict[str, Any]) -> Job:
        """A verified delivery is the generation object itself (as GET answers it)."""
        return self.apply(job, event["event"])

    def voices(self) -> list[dict[str, Any]]:
        """sync.so takes ElevenLabs voice ids; it publishes no list of its own."""
        return [
            {"id": v, "name": n, "language": "en", "documented": False}
            for v, n in ELEVENLABS_PREMADE.items()
        ]


def _expected_generation(request: Mapping[str, Any]) -> dict[str, Any]:
    """What a generation made from `request` echoes: from the wire body itself (it has
    `input`), or from the ledger's record of a LipsyncRequest (`video`, `audio`, `text`, …)."""
    if isinstance(request.get("input"), list):
        out = {
            k: request[k]
            for k in ("model", "options", "segments", "webhookUrl")
            if request.get(k) is not None
        }
        out["input"] = [i for i in request["input"] if isinstance(i, dict)]
        return out
    out = {}
    if request.get("model") is not None:
        out["model"] = request["model"]
    options = {k: request[k] for k in OPTION_FIELDS if request.get(k) is not None}
    if options:
        out["options"] = options
    if request.get("segments"):
        out["segments"] = request["segments"]
    if request.get("webhook_url"):
        out["webhookUrl"] = request["webhook_url"]
    audio = request.get("audio")
    sources = list(audio_sources(audio).values())
    video_asset = request.get("video_asset_id")
    items = [
        {"type": "video", "assetId": video_asset}
        if video_asset
        else _input_item("video", request.get("video"))
    ]
    items += [_input_item("audio", src) for src in sources]
    if request.get("audio_asset_id"):
        items.append({"type": "audio", "assetId": request["audio_asset_id"]})
    if request.get("text") is not None:
        voice = {"voiceId": request["voice_id"]} if request.get("voice_id") else {}
        items.append({"type": "text", "provider": {**voice, "script": request["text"]}})
    out["input"] = items
    return out


def _input_item(kind: str, source: Any) -> dict[str, Any]:
    """An input as echoed: its URL when it was sent by http(s) URL (a file or an earlier job's
    output is recorded by path or id, and comes back as a URL we cannot predict)."""
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return {"type": kind, "url": source}
    return {"type": kind}


def _same_inputs(want: list[dict[str, Any]], got: Any) -> bool:
    """The same number of inputs, each wanted one matched by a different echoed one."""
    if not isinstance(got, list) or len(got) != len(want):
        return False
    free = [g for g in got if isinstance(g, dict)]
    for w in sorted(want, key=len, reverse=True):  # the most specific first
        hit = next((i for i, g in enumerate(free) if same(w, g)), None)
        if hit is None:
            return False
        free.pop(hit)
    return True


ELEVENLABS_PREMADE = {
    "21m00Tcm4TlvDq8ikWAM": "Rachel",
    "EXAVITQu4vr4xnSDxMaL": "Sarah",
    "pNInz6obpgDQGcFmaJgB": "Adam",
    "ErXwobaYiN019PkySvjV": "Antoni",
    "TxGEqnHWrfWFTfGW9XjX": "Josh",
    "VR6AewLTigWG4xSOukaG": "Arnold",
}
"""A few widely published ElevenLabs premade voice ids, for the picker; any voice id is accepted."""


def asset_name(path: Path, digest: str) -> str:
    """The library name of a file's asset: its own name with the start of its content's
    SHA-256 (clip.mp4 → clip-1a2b3c4d5e6f7a8b.mp4), by which a later session finds it."""
    return f"{path.stem}-{digest[:ASSET_TAG_CHARS]}{path.suffix}"


def _body_key(body: dict[str, Any]) -> str:
    """The same request, whatever its keys' order (the webhook URL aside: an estimate has none)."""
    return json.dumps({k: v for k, v in body.items() if k != "webhookUrl"}, sort_keys=True,
                      default=str)  # fmt: skip


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
