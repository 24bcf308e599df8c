"""MercaDream API v2: text→video, speech, music and the vault (providers.md, section 1).

Our readings where the page is silent (providers.md, last table): errors are `{"code","message"}`;
speech and music return a job like /generate; the vault and job list answer
`{"data": [...], "has_more"}`; webhooks carry `MercaDream-Signature: sha256=<hex>` over the raw body.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import pydantic
from pydantic import Field

from ..errors import WebhookError
from ..models import Job, JobStatus, Output
from ..validation import RequestModel, build
from .base import Provider, guess_mime, parse_time

Format = Literal["mp3", "wav", "flac"]
AUDIO_MIME = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac"}


def _check_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


class GenerateRequest(RequestModel):
    """POST /v2/generate: a cinematic video from a prompt."""

    prompt: str = Field(min_length=1, max_length=1000, description="Cinematic description")
    resolution: Literal["720p", "1080p", "4k", "8k"] = Field(
        "4k", description="Output resolution; the plan caps it (Regular 720p, Advanced 4k, Pro 8k)"
    )
    duration: Literal[15, 30, 60, 120] = Field(30, description="Seconds")
    style: str = Field("cinematic", min_length=1, description="Visual style preset")
    fps: Literal[24, 30, 60] = Field(24, description="Frames per second")
    voice_id: str | None = Field(
        None, description="Voice model ID for narration", json_schema_extra={"voice": True}
    )
    webhook_url: str | None = Field(None, description="URL to receive status events")

    _url = pydantic.field_validator("webhook_url")(_check_url)


class SpeechRequest(RequestModel):
    """POST /v2/speech: neural speech from text."""

    text: str = Field(min_length=1, max_length=5000, description="Text to synthesize")
    voice_id: str = Field(
        "neural-narrator-m",
        min_length=1,
        description="Voice model ID",
        json_schema_extra={"voice": True},
    )
    format: Format = Field("mp3", description="Audio format")
    speed: float = Field(1.0, ge=0.5, le=2.0, description="Speaking rate")
    webhook_url: str | None = Field(None, description="URL to receive status events")

    _url = pydantic.field_validator("webhook_url")(_check_url)


class MusicRequest(RequestModel):
    """POST /v2/music: an original score from a description."""

    prompt: str = Field(min_length=1, description="Genre, mood, instruments")
    duration: int = Field(60, ge=15, le=300, description="Seconds")
    format: Format = Field("mp3", description="Audio format")
    bpm: int | None = Field(None, ge=60, le=200, description="Beats per minute; auto if omitted")
    webhook_url: str | None = Field(None, description="URL to receive status events")

    _url = pydantic.field_validator("webhook_url")(_check_url)


class ListQuery(RequestModel):
    """GET /v2/jobs and /v2/vault query."""

    status: Literal["queued", "processing", "completed", "failed"] | None = None
    limit: int = Field(20, ge=1, le=100)
    before: dt.datetime | None = Field(None, description="ISO-8601 cursor")

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"limit": self.limit}
        if self.status:
            out["status"] = self.status
        if self.before is not None:
            before = (
                self.before if self.before.tzinfo else self.before.replace(tzinfo=dt.timezone.utc)
            )
            out["before"] = before.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return out


class VaultQuery(ListQuery):
    status: None = None


PATHS = {"video": "/v2/generate", "speech": "/v2/speech", "music": "/v2/music"}
SIGNATURE_HEADER = "MercaDream-Signature"


class MercaDream(Provider):
    name = "mercadream"
    title = "MercaDream"
    default_base_url = "https://api.mercadream.com"
    sandbox_key = "mk_test_nbmedia_sandbox"
    requests: ClassVar[dict[str, type[RequestModel]]] = {
        "video": GenerateRequest,
        "speech": SpeechRequest,
        "music": MusicRequest,
    }
    text_field: ClassVar[dict[str, str]] = {"video": "prompt", "speech": "text", "music": "prompt"}
    statuses: ClassVar[dict[str, JobStatus]] = {
        "queued": JobStatus.QUEUED,
        "processing": JobStatus.RUNNING,
        "completed": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
    }
    capabilities: ClassVar[dict[str, str]] = {
        "video": "cinematic text→video (720p–8k, 15–120 s)",
        "speech": "neural text-to-speech, mp3/wav/flac",
        "music": "original music, 15–300 s, bpm",
    }

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    # ---- lifecycle ---------------------------------------------------------------------------
    async def submit(self, job: Job, request: RequestModel) -> Job:
        r = await self.api.request("POST", PATHS[job.kind], json=request.wire(), creates_job=True)
        return self.apply(job, r.json())

    async def refresh(self, job: Job) -> Job:
        r = await self.api.request("GET", f"/v2/jobs/{job.id}")
        return self.apply(job, r.json())

    async def refresh_many(self, jobs: list[Job]) -> list[Job]:
        """One list call covers every open job created since the oldest on the first page."""
        if len(jobs) <= 1:
            return await super().refresh_many(jobs)
        wanted = {j.id: j for j in jobs}
        page = await self.list_jobs(limit=100)
        for payload in page:
            job = wanted.pop(payload.get("id"), None)
            if job is not None:
                self.apply(job, payload)
        await super().refresh_many(list(wanted.values()))
        return jobs

    async def list_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        query = build(self.name, ListQuery, filters)
        r = await self.api.request("GET", "/v2/jobs", params=query.params())
        return list(r.json().get("data", []))

    async def list_page(self, path: str, **filters: Any) -> tuple[list[dict[str, Any]], bool]:
        """One page of /v2/jobs or /v2/vault and whether more remain."""
        model = VaultQuery if path.endswith("vault") else ListQuery
        query = build(self.name, model, filters)
        body = (await self.api.request("GET", path, params=query.params())).json()
        return list(body.get("data", [])), bool(body.get("has_more"))

    async def vault(self, *, limit: int = 100, pages: int = 10) -> list[dict[str, Any]]:
        """Finished assets, newest first, following the `before` cursor."""
        items: list[dict[str, Any]] = []
        before = None
        for _ in range(pages):
            data, more = await self.list_page("/v2/vault", limit=limit, before=before)
            items.extend(data)
            if not more or not data:
                break
            before = data[-1]["created_at"]
        return items

    async def reconcile(self, job: Job) -> Job | None:
        """A create that lost its answer: the newest job with the same kind and text is ours."""
        text = job.prompt
        since = job.created_at - dt.timedelta(seconds=30)
        for payload in await self.list_jobs(limit=50):
            created = parse_time(payload.get("created_at"))
            same_text = payload.get("prompt", payload.get("text")) == text
            same_kind = payload.get("kind", "video") == job.kind
            if same_text and same_kind and created and created >= since:
                return self.apply(job, payload)
        return None

    def apply(self, job: Job, payload: dict[str, Any]) -> Job:
        """Copies a job object from the wire into `job`."""
        job.raw = payload
        job.id = payload.get("id", job.id)
        if "status" in payload:
            job.status = self.status_of(payload["status"])
        if payload.get("progress") is not None:
            job.progress = max(0.0, min(1.0, float(payload["progress"]) / 100.0))
        elif job.status is JobStatus.QUEUED:
            job.progress = 0.0
        if job.status is JobStatus.SUCCEEDED:
            job.progress = 1.0
        job.created_at = parse_time(payload.get("created_at")) or job.created_at
        job.completed_at = parse_time(payload.get("completed_at")) or job.completed_at
        if payload.get("compute_units") is not None:
            job.cost = float(payload["compute_units"])
        err = payload.get("error")
        if isinstance(err, dict):
            job.error = {"code": err.get("code"), "message": err.get("message")}
        elif job.status is JobStatus.FAILED and job.error is None:
            job.error = {
                "code": payload.get("code") or "failed",
                "message": payload.get("message") or str(err or ""),
            }
        if payload.get("download_url"):
            self._set_outputs(job, payload)
        return job

    def _set_outputs(self, job: Job, payload: dict[str, Any]) -> None:
        known = {(o.role, o.url): o for o in job.outputs}
        url = payload["download_url"]
        kind = "video" if job.kind == "video" else "audio"
        fmt = job.request.get("format")
        mime = AUDIO_MIME.get(fmt) if kind == "audio" and fmt else guess_mime(url, kind)
        outs = [known.get(("main", url)) or Output(kind, url, mime)]
        if payload.get("thumbnail_url"):
            t = payload["thumbnail_url"]
            outs.append(
                known.get(("thumbnail", t))
                or Output("image", t, guess_mime(t, "image"), role="thumbnail")
            )
        job.outputs = outs

    # ---- webhooks ----------------------------------------------------------------------------
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Verifies `MercaDream-Signature` (HMAC-SHA256 of the raw body) and parses the event."""
        if self.webhook_secret is None:
            raise WebhookError("mercadream: no webhook secret configured; cannot verify")
        lower = {k.lower(): v for k, v in headers.items()}
        given = lower.get(SIGNATURE_HEADER.lower(), "")
        expected = (
            "sha256="
            + hmac.new(self.webhook_secret.reveal().encode(), body, hashlib.sha256).hexdigest()
        )
        if not given or not hmac.compare_digest(given, expected):
            raise WebhookError("mercadream: webhook signature does not match")
        try:
            event = json.loads(body)
        except ValueError:
            raise WebhookError("mercadream: webhook body is not JSON") from None
        if not isinstance(event, dict) or "job_id" not in event or "status" not in event:
            raise WebhookError("mercadream: webhook body has no job_id/status")
        self.status_of(event["status"])
        return {"id": event["job_id"], "status": event["status"], "event": event}

    def voices(self) -> list[dict[str, Any]]:
        return [
            {
                "id": "neural-narrator-m",
                "name": "Neural narrator (default)",
                "language": "en",
                "documented": True,
            }
        ]
