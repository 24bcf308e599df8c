"""MercaDream API v2: text→video, speech, music and the vault (providers.md, section 1).

Our readings where the page is silent (providers.md, last table): errors are `{"code","message"}`;
speech and music return a job like /generate; the vault and job list answer
`{"data": [...], "has_more"}`; webhooks carry `MercaDream-Signature: sha256=<hex>` over the raw body.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any, ClassVar, Literal

import pydantic
from pydantic import Field

from .. import constants as C
from ..errors import WebhookError
from ..models import Job, JobStatus, Output
from ..validation import RequestModel, build, http_url
from .answers import (
    aware,
    closest,
    eligible,
    matches,
    number,
    read,
    read_rows,
    since,
)
from .base import Capability, Provider, Swept, check_fresh, guess_mime, parse_time

Format = Literal["mp3", "wav", "flac"]
AUDIO_MIME = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac"}


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
        None,
        min_length=1,
        description="Voice model ID for narration",
        json_schema_extra={"voice": True},
    )
    webhook_url: str | None = Field(None, description="URL to receive status events")

    _url = pydantic.field_validator("webhook_url")(http_url)


class SpeechRequest(RequestModel):
    """POST /v2/speech: neural speech from text. No `webhook_url`: the page documents it on
    /generate only, so speech and music jobs are polled."""

    text: str = Field(min_length=1, max_length=5000, description="Text to synthesize")
    voice_id: str = Field(
        "neural-narrator-m",
        min_length=1,
        description="Voice model ID",
        json_schema_extra={"voice": True},
    )
    format: Format = Field("mp3", description="Audio format")
    speed: float = Field(1.0, ge=0.5, le=2.0, description="Speaking rate")


class MusicRequest(RequestModel):
    """POST /v2/music: an original score from a description."""

    prompt: str = Field(min_length=1, description="Genre, mood, instruments")
    duration: int = Field(60, ge=15, le=300, description="Seconds")
    format: Format = Field("mp3", description="Audio format")
    bpm: int | None = Field(None, ge=60, le=200, description="Beats per minute; auto if omitted")


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
NOT_ECHOED = frozenset({"webhook_url"})
"""Request fields a job object does not carry (so find_created cannot compare them)."""
EVENT_FIELDS = ("download_url", "thumbnail_url", "error", "progress", "compute_units")
"""What a webhook body may carry of the job object (the rest is kept from the last read)."""
LIST_PAGE = 100
"""The largest page /v2/jobs serves."""
FIND_PAGES = 20
"""Pages a search for a lost create reads at most."""
CURSOR_STEP = dt.timedelta(milliseconds=1)
"""`before` is exclusive: a page aimed at a job starts this much after its created_at."""


def _cursor(rows: list[dict[str, Any]]) -> dt.datetime | None:
    """The `before` cursor after a page: the created_at of its last (oldest) row."""
    return parse_time(rows[-1].get("created_at")) if rows else None


class MercaDream(Provider):
    """Lists jobs (`before` cursor + `has_more`), so open jobs refresh in one call and a create
    whose answer was lost can be found; keeps a vault; signs its webhooks (our reading)."""

    name = "mercadream"
    title = "MercaDream"
    key_env = "MERCADREAM_API_KEY"
    default_base_url = "https://api.mercadream.com"
    sandbox_key = "mk_test_nbmedia_sandbox"
    concurrency = 2
    """Regular, the smallest plan with API access: 60 rpm / 2 concurrent / max 720p."""
    rate_limit = 60
    sandbox_rate_limit = 1000
    """The sandbox's test keys are on the Professional plan (1,000 rpm / 20 concurrent)."""
    webhook_field = "webhook_url"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_REFRESH,
            Capability.VAULT,
            Capability.SIGNED_WEBHOOKS,
            Capability.FIND_CREATED,
        }
    )
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
    makes: ClassVar[dict[str, str]] = {
        "video": "cinematic text→video (720p–8k, 15–120 s)",
        "speech": "neural text-to-speech, mp3/wav/flac",
        "music": "original music, 15–300 s, bpm",
    }

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def _path(self, path: str) -> str:
        """The documented base URL ends in /v2 already: never send /v2/v2/..."""
        if self.api.base_url.endswith("/v2") and path.startswith("/v2/"):
            return path[3:]
        return path

    # ---- lifecycle ---------------------------------------------------------------------------
    async def submit(self, job: Job, request: RequestModel) -> Job:
        r = await self.api.request(
            "POST", self._path(PATHS[job.kind]), json=request.wire(), creates_job=True
        )
        return self.apply(job, read(self.api, r, require={"id": str}))

    async def refresh(self, job: Job) -> Job:
        r = await self.api.request("GET", self._path(f"/v2/jobs/{job.id}"))
        return self.apply(job, read(self.api, r, require={"status": str}))

    async def sweep(self, jobs: list[Job], ended: Callable[[Job], None] | None = None) -> Swept:
        """Pages of /v2/jobs (newest first, 100 a page) aimed with the `before` cursor at every
        hundredth job asked for, all at once (the pacer keeps them few in flight), so no page
        reads newer jobs that were not asked for; a page answers every asked job created
        within its span. Jobs between the spans (other jobs of the account came in between)
        are aimed at again; a job inside a span that the page does not show, or beyond the
        pages one sweep reads, is read with its own GET."""
        if len(jobs) <= 1:
            return await super().sweep(jobs, ended)
        swept = Swept()
        pending = sorted((j for j in jobs if j.id), key=lambda j: aware(j.created_at), reverse=True)
        unlisted: list[Job] = []
        pages = 0
        while pending and pages < C.SWEEP_PAGES:
            heads = pending[::LIST_PAGE][: C.SWEEP_PAGES - pages]
            pages += len(heads)
            answers = await asyncio.gather(
                *(self._aimed_page(head, pending, swept, ended) for head in heads)
            )
            shown: dict[Any, dict[str, Any]] = {}
            spans = []  # (newest, oldest) creation time each page covers; None: to the first
            for head, (rows, more) in zip(heads, answers, strict=True):
                shown.update((row.get("id"), row) for row in rows)
                spans.append((aware(head.created_at), _cursor(rows) if more else None))
            rest = []
            for job in pending:
                row = shown.get(job.id)
                if row is not None:
                    if row != swept.current(job).raw:  # a row as last read changes nothing
                        self.apply(swept.copy(job), row)
                    continue
                at = aware(job.created_at)
                inside = any(at <= top and (end is None or at >= end) for top, end in spans)
                (unlisted if inside else rest).append(job)
            pending = rest
        return swept.update(await super().sweep(unlisted + pending, ended))

    async def _aimed_page(
        self, head: Job, asked: list[Job], swept: Swept, ended: Callable[[Job], None] | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page aimed at `head`; an asked job it shows ended is told at once."""
        rows, more = await self.list_page(
            "/v2/jobs", limit=LIST_PAGE, before=aware(head.created_at) + CURSOR_STEP
        )
        if ended is not None:
            done = {r.get("id"): r for r in rows if r.get("status") in ("completed", "failed")}
            for job in asked:
                if job.id in done and not swept.current(job).done:
                    ended(self.apply(swept.copy(job), done[job.id]))
        return rows, more

    async def list_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        rows, _ = await self.list_page("/v2/jobs", **filters)
        return rows

    async def list_page(self, path: str, **filters: Any) -> tuple[list[dict[str, Any]], bool]:
        """One page of /v2/jobs or /v2/vault and whether more remain (a bare array: no more)."""
        model = VaultQuery if path.endswith("vault") else ListQuery
        query = build(self.name, model, filters)
        r = await self.api.request("GET", self._path(path), params=query.params())
        rows, meta = read_rows(self.api, r)
        return rows, meta.get("has_more") is True

    async def vault(self, *, limit: int = 100, pages: int = 10) -> list[dict[str, Any]]:
        """Finished assets, newest first, following the `before` cursor."""
        items: list[dict[str, Any]] = []
        before = None
        for _ in range(pages):
            data, more = await self.list_page("/v2/vault", limit=limit, before=before)
            items.extend(data)
            before = _cursor(data)
            if not more or before is None:
                break
        return items

    async def find_created(self, job: Job, claimed: Collection[str]) -> Job | None:
        """The job a lost create made: pages /v2/jobs (`limit` 100, `before` cursor while
        `has_more`) back to `job.created_at` minus the clock-skew margin, and takes a job of the
        same kind whose text and every other echoed request field (resolution, duration, style,
        fps, voice_id, format, speed, bpm) equal `job.request`'s, not in `claimed`, created
        closest after `job.created_at`."""
        start = since(job)
        text = self.text_field.get(job.kind)
        expected = {k: v for k, v in job.request.items() if k not in NOT_ECHOED}
        candidates = []
        before = None
        for _ in range(FIND_PAGES):
            rows, more = await self.list_page("/v2/jobs", limit=100, before=before)
            for payload in rows:
                created = parse_time(payload.get("created_at"))
                if (
                    eligible(job, payload, created, claimed)
                    and payload.get("kind", "video") == job.kind
                    and matches(expected, payload, text)
                ):
                    candidates.append((created, payload))
            before = _cursor(rows)
            if not more or before is None or before < start:
                break
        found = closest(job, candidates)
        return None if found is None else self.apply(job, found)

    def apply(self, job: Job, payload: dict[str, Any]) -> Job:
        """Copies a job object from the wire into `job`."""
        job.raw = payload
        if isinstance(payload.get("id"), str) and payload["id"]:
            job.id = payload["id"]
        if payload.get("status") is not None:
            job.status = self.status_of(str(payload["status"]))
        progress = number(payload.get("progress"))
        if progress is not None:
            job.progress = max(0.0, min(1.0, progress / 100.0))
        elif job.status is JobStatus.QUEUED:
            job.progress = 0.0
        if job.status is JobStatus.SUCCEEDED:
            job.progress = 1.0
        job.created_at = parse_time(payload.get("created_at")) or job.created_at
        job.completed_at = parse_time(payload.get("completed_at")) or job.completed_at
        job.eta = parse_time(payload.get("estimated_completion")) or job.eta
        units = number(payload.get("compute_units"))
        if units is not None:
            job.cost, job.cost_unit = units, "compute units"
        err = payload.get("error")
        if isinstance(err, dict):
            job.error = {"code": err.get("code"), "message": err.get("message")}
        elif job.status is JobStatus.FAILED and job.error is None:
            job.error = {
                "code": payload.get("code") or "failed",
                "message": payload.get("message") or str(err or ""),
            }
        if isinstance(payload.get("download_url"), str) and payload["download_url"]:
            self._set_outputs(job, payload)
        return job

    def _set_outputs(self, job: Job, payload: dict[str, Any]) -> None:
        known = {(o.role, o.url): o for o in job.outputs}
        url = payload["download_url"]
        kind = "video" if job.kind == "video" else "audio"
        fmt = job.request.get("format")
        mime = AUDIO_MIME.get(fmt) if kind == "audio" and fmt else guess_mime(url, kind)
        outs = [known.get(("main", url)) or Output(kind, url, mime)]
        thumb = payload.get("thumbnail_url")
        if isinstance(thumb, str) and thumb:
            outs.append(
                known.get(("thumbnail", thumb))
                or Output("image", thumb, guess_mime(thumb, "image"), role="thumbnail")
            )
        job.outputs = outs

    # ---- webhooks ----------------------------------------------------------------------------
    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> dict[str, Any]:
        """Verifies `MercaDream-Signature` (HMAC-SHA256 of the raw body), the signed body's
        `timestamp` (within 300 s) and that the delivery is not a replay; parses the event."""
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
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("job_id"), str)
            or not isinstance(event.get("status"), str)
        ):
            raise WebhookError("mercadream: webhook body has no job_id/status")
        self.status_of(event["status"])
        sent = parse_time(event.get("timestamp"))
        check_fresh(self.name, sent.timestamp() if sent else None, now)
        what = f"{event.get('event')}:{event['job_id']}:{event['status']}"
        self.replays.check(self.name, given, what, now=now)
        return {"id": event["job_id"], "status": event["status"], "event": event}

    def apply_event(self, job: Job, event: dict[str, Any]) -> Job:
        """A verified event carries the status, and once completed the download URL: laid
        over what was known of the job, it settles it without a GET."""
        body = event["event"]
        payload = {**(job.raw or {}), "id": body["job_id"], "status": body["status"]}
        for key in EVENT_FIELDS:
            if body.get(key) is not None:
                payload[key] = body[key]
        if body["status"] in ("completed", "failed") and body.get("timestamp"):
            payload.setdefault("completed_at", body["timestamp"])
        return self.apply(job, payload)

    def voices(self) -> list[dict[str, Any]]:
        return [
            {
                "id": "neural-narrator-m",
                "name": "Neural narrator (default)",
                "language": "en",
                "documented": True,
            }
        ]
