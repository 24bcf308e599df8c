"""Vimmerse media API v2: prompt and/or images → video, narration, background music (section 2).

A media object is created once (POST /v2/media) and may be regenerated (PATCH with generation
fields); in nbmedia each generation is its own Job linked to the same media id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import pydantic
from pydantic import Field

from ..errors import ValidationError, WebhookError
from ..models import Job, JobStatus, Output
from ..validation import FieldRule, RequestModel, build, http_url, is_http_url
from .answers import mapping, number, read
from .base import Capability, Provider, guess_mime, parse_time
from .inputs import input_url

NARRATORS = (
    "AutoV", "Rachel", "Aria", "Roger", "Sarah", "Laura", "Charlie", "George", "Callum", "River",
    "Liam", "Charlotte", "Alice", "Matilda", "Will", "Jessica", "Eric", "Chris", "Brian", "Daniel",
    "Lily", "Bill",
)  # fmt: skip
VIDEO_TOOLS = (
    "Auto", "AutoT3", "KlingAI", "KlingT4", "LumaAI", "LumaRay2", "VeoFast", "Veo", "RunwayML",
    "MinimaxHailuo", "Seedance", "SeedanceFast", "Hunyuan", "Pixverse", "PixverseT3",
    "PicoMotion", "StaticMotion", "Wan", "Sora", "SoraPro", "TryOnVideo",
)  # fmt: skip
Narrator = Literal[NARRATORS]  # type: ignore[valid-type]
VideoTool = Literal[VIDEO_TOOLS]  # type: ignore[valid-type]
AspectRatio = Literal["16:9", "4:3", "1:1", "3:4", "9:16"]

METADATA_FIELDS = frozenset({"title", "description", "visibility_status", "rating", "webhook_url"})
"""PATCH keys that update in place; any other key starts a new (billed) generation."""
MEDIA_KEYS = frozenset(
    {
        "id", "title", "description", "customer_id", "primary_user_id", "media_items",
        "duration_time", "processing_status", "pose_preset", "submit_params", "result",
        "webhook_url", "created_at", "updated_at", "version", "progress_percentage",
        *METADATA_FIELDS,
    }
)  # fmt: skip
"""What GET's `fields` query may name ("allowed keys are those in the media response body"):
the page's example object, the progress the client reads, and the metadata a PATCH sets."""


def _url(value: str | None) -> str | None:
    """A media URL: http(s) with a host, or a data: URI (a local file, converted)."""
    if value is not None and not (value.startswith("data:") or is_http_url(value)):
        raise ValueError("must be an http(s) URL with a host")
    return value


class MediaItem(RequestModel):
    """An input image, video or audio clip, by URL (local files and earlier jobs are converted)."""

    type: Literal["image", "video", "audio"]
    url: str = Field(min_length=1)
    position: str | None = Field(None, description="e.g. First or Last")

    _u = pydantic.field_validator("url")(_url)


class AudioOption(RequestModel):
    """Narration and background music; narration_url wins over narrator + narration."""

    narrator: Narrator = Field("AutoV", json_schema_extra={"voice": True})
    narration: str | None = Field(None, min_length=1, description="Text the narrator speaks")
    narration_url: str | None = Field(None, description="Pre-recorded narration (MP3/WAV)")
    bg_music_prompt: str | None = Field(None, min_length=1)
    bg_music_url: str | None = None
    native_audio: bool = False

    _u = pydantic.field_validator("narration_url", "bg_music_url")(_url)


class MediaRequest(RequestModel):
    """POST /v2/media."""

    prompt: str | None = Field(
        None, min_length=1, description="Needed when there are no media items"
    )
    title: str | None = None
    description: str | None = None
    media_items: list[MediaItem] | None = None
    video_tool: VideoTool = "Auto"
    quantity: int = Field(1, ge=1, le=4, description="Number of videos")
    duration: int = Field(5, ge=1, le=10, description="Scene duration, seconds")
    loop: int = Field(1, ge=1, le=6, description="Loop count (ignored with narration)")
    aspect_ratio: AspectRatio = "16:9"
    pipeline_mode: Literal["Advanced", "Quick"] | None = None
    audio_option: AudioOption | None = None
    webhook_url: str | None = None

    _u = pydantic.field_validator("webhook_url")(http_url)

    @pydantic.model_validator(mode="after")
    def _needs_input(self) -> MediaRequest:
        if not self.prompt and not self.media_items:
            raise FieldRule("prompt", "a prompt or at least one media item is required")
        return self


class MediaUpdate(RequestModel):
    """PATCH /v2/media/{id}: any subset; metadata keys update in place."""

    title: str | None = None
    description: str | None = None
    visibility_status: Literal["0", "1", "2"] | None = None
    rating: float | None = Field(None, description="Any number (the API takes 4.5)")
    webhook_url: str | None = None
    prompt: str | None = Field(None, min_length=1)
    media_items: list[MediaItem] | None = None
    video_tool: VideoTool | None = None
    quantity: int | None = Field(None, ge=1, le=4)
    duration: int | None = Field(None, ge=1, le=10)
    loop: int | None = Field(None, ge=1, le=6)
    aspect_ratio: AspectRatio | None = None
    pipeline_mode: Literal["Advanced", "Quick"] | None = None
    audio_option: AudioOption | None = None

    _u = pydantic.field_validator("webhook_url")(http_url)


class Vimmerse(Provider):
    """PATCH updates a media object in place or regenerates it. There is no v2 list, so a create
    whose answer was lost cannot be found (no FIND_CREATED); webhooks are unsigned."""

    name = "vimmerse"
    title = "Vimmerse"
    key_env = "VIMMERSE_API_KEY"
    default_base_url = "https://api.vimmerse.net"
    sandbox_key = "vimmerse_sandbox_key"
    concurrency = 2
    """Undocumented (429 covers "rate limit or concurrency limit", no numbers): the default."""
    webhook_field = "webhook_url"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.PATCH})
    media_fields: ClassVar[dict[str, tuple[str, bool, str | None]]] = {
        "media_items": ("image/*,video/*,audio/*", True, "image"),
        "narration_url": ("audio/*", False, None),
        "bg_music_url": ("audio/*", False, None),
    }
    requests: ClassVar[dict[str, type[RequestModel]]] = {"video": MediaRequest}
    text_field: ClassVar[dict[str, str]] = {"video": "prompt"}
    statuses: ClassVar[dict[str, JobStatus]] = {
        "new": JobStatus.QUEUED,
        "queue_bullet": JobStatus.QUEUED,
        "processing_bullet": JobStatus.RUNNING,
        "success": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
        "fail": JobStatus.FAILED,
        "cancel": JobStatus.CANCELLED,
        "cancelled": JobStatus.CANCELLED,
    }
    makes: ClassVar[dict[str, str]] = {
        "video": "prompt and/or images → video (1–4 outputs, 1–10 s), narration, background music",
    }

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"X-Api-Key": key}

    def make_request(self, kind: str, fields: Mapping[str, Any]) -> RequestModel:
        return super().make_request(kind, self._convert_inputs(dict(fields)))

    def _convert_inputs(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Local files and earlier jobs in media_items and audio URLs become URLs."""
        items = fields.get("media_items")
        if items is not None and isinstance(items, (list, tuple)):  # else the model says why
            converted = []
            for i, item in enumerate(items):
                if isinstance(item, Mapping):
                    item = dict(item)
                    if "url" in item:
                        item["url"] = input_url(self.name, f"media_items.{i}.url", item["url"])
                converted.append(item)
            fields["media_items"] = converted
        audio = fields.get("audio_option")
        if isinstance(audio, Mapping):
            audio = dict(audio)
            for key in ("narration_url", "bg_music_url"):
                if audio.get(key) is not None:
                    audio[key] = input_url(self.name, f"audio_option.{key}", audio[key], "audio")
            fields["audio_option"] = audio
        return fields

    # ---- lifecycle ---------------------------------------------------------------------------
    async def submit(self, job: Job, request: RequestModel) -> Job:
        r = await self.api.request("POST", "/v2/media", json=request.wire(), creates_job=True)
        return self.apply(job, read(self.api, r, require={"id": str}))

    async def refresh(self, job: Job) -> Job:
        r = await self.api.request("GET", f"/v2/media/{job.id}")
        return self.apply(job, read(self.api, r, require={"processing_status": str}))

    async def get(self, media_id: str, fields: list[str] | None = None) -> dict[str, Any]:
        """GET /v2/media/{id}, optionally only some keys (`fields` query); a key the media
        object does not have is refused before anything is sent."""
        for key in fields or []:
            if key not in MEDIA_KEYS:
                raise ValidationError(
                    self.name,
                    "fields",
                    key,
                    "must name keys of the media object: " + ", ".join(sorted(MEDIA_KEYS)),
                )
        params = {"fields": ",".join(fields)} if fields else None
        r = await self.api.request("GET", f"/v2/media/{media_id}", params=params)
        return read(self.api, r)

    def check_update(self, fields: Mapping[str, Any]) -> MediaUpdate:
        return build(self.name, MediaUpdate, self._convert_inputs(dict(fields)))

    def regenerates(self, update: RequestModel) -> bool:
        """Any key beyond the metadata ones starts a new (billed) generation."""
        return bool(set(update.wire()) - METADATA_FIELDS)

    async def patch(self, job_id: str, update: RequestModel) -> dict[str, Any]:
        """PATCH /v2/media/{id}; the answer is the media object."""
        r = await self.api.request(
            "PATCH",
            f"/v2/media/{job_id}",
            json=update.wire(),
            creates_job=self.regenerates(update),
        )
        return read(self.api, r)

    def apply(self, job: Job, payload: dict[str, Any]) -> Job:
        job.raw = payload
        if isinstance(payload.get("id"), str) and payload["id"]:
            job.id = payload["id"]
        status = payload.get("processing_status")
        if status is not None:
            job.status = self.status_of(str(status))
        pct = number(payload.get("progress_percentage"))
        if pct is not None:
            job.progress = max(0.0, min(1.0, pct / 100.0))
            if job.status is JobStatus.QUEUED and pct > 0:  # v2 says "new" until it ends
                job.status = JobStatus.RUNNING
        elif job.status is JobStatus.QUEUED:
            job.progress = 0.0
        if job.status is JobStatus.SUCCEEDED:
            job.progress = 1.0
            job.completed_at = parse_time(payload.get("updated_at")) or job.completed_at
        job.created_at = parse_time(payload.get("created_at")) or job.created_at
        if job.status in (JobStatus.FAILED, JobStatus.CANCELLED) and job.error is None:
            err = payload.get("error")
            err = mapping(err) if isinstance(err, dict) else {"message": err}
            job.error = {
                "code": str(err.get("code") or payload.get("code") or status),
                "message": str(err.get("message") or payload.get("message") or ""),
            }
        urls = payload.get("result") or []
        if isinstance(urls, str):
            urls = [urls]
        urls = [u for u in urls if isinstance(u, str) and u] if isinstance(urls, list) else []
        if job.status is JobStatus.SUCCEEDED and urls:
            known = {o.url: o for o in job.outputs}
            job.outputs = [known.get(u) or Output("video", u, guess_mime(u, "video")) for u in urls]
        return job

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Vimmerse webhooks are unsigned: the Studio re-reads the media before trusting them."""
        import json

        try:
            event = json.loads(body)
        except ValueError:
            raise WebhookError("vimmerse: webhook body is not JSON") from None
        if not isinstance(event, dict) or not isinstance(event.get("media_id"), str):
            raise WebhookError("vimmerse: webhook body has no media_id")
        return {"id": event["media_id"], "status": event.get("status"), "verified": False}

    def voices(self) -> list[dict[str, Any]]:
        return [
            {"id": n, "name": n, "language": "en", "default": n == "AutoV", "documented": True}
            for n in NARRATORS
        ]
