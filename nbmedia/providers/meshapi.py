"""Mesh API video generations: text, image, video and audio items → video (section 4).

The documented input limits (Seedance) are checked before anything is sent; a local file goes
as a base64 data URI with its MIME prefix. A task that fails answers HTTP 200 with
`status: failed`: that is a JobFailed carrying the provider's code. Callbacks are unsigned, so a
callback only makes the Studio re-read the task.
"""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
import os
import re
import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import pydantic
from pydantic import Field

from .. import constants as C
from ..errors import ValidationError, WebhookError
from ..http import ApiClient, Secret
from ..models import Job, JobStatus, Output
from ..validation import FieldRule, RequestModel, build, http_url
from . import mediainfo
from .answers import (
    CLOCK_SKEW,
    aware,
    closest,
    eligible,
    mapping,
    matches,
    number,
    read,
    read_rows,
    since,
)
from .base import Capability, Provider, Swept, guess_mime, parse_time
from .inputs import data_uri, data_uri_mime, data_uri_size, existing_file, input_url

MB = 1024 * 1024
LIMITS = {
    "video_bytes": 50 * MB,
    "audio_bytes": 15 * MB,
    "audio_clip_s": (2.0, 15.0),
    "audio_clips": 3,
    "audio_total_s": 15.0,
    "body_bytes": 64 * MB,
}
"""Seedance input limits from the Mesh API page."""
AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
RANDOM_SEEDS = 2**31
"""A request without a seed gets one drawn from [0, RANDOM_SEEDS): as random as the server's."""
DEFAULT_MODEL = "byteplus/dreamina-seedance-2-0"
MODEL_DURATIONS = {
    "byteplus/dreamina-seedance-2-0": (4, 15),
    "byteplus/dreamina-seedance-2-0-fast": (4, 15),
    "byteplus/seedance-1-5-pro": (4, 12),
    "byteplus/seedance-1-0-pro": (2, 12),
}
"""Seconds each known Seedance model renders (BytePlus's ranges; the Mesh page gives none).
Other models pass through and the provider decides."""
FRAMES = (29, 289, 25, 4)
"""Seedance `frames`: 29–289 and of the form 25 + 4n."""


def _is_seedance_1(model: str) -> bool:
    """Video and audio inputs need Seedance 2.0; other Seedance models take text and images."""
    m = model.lower()
    return "seedance" in m and "2-0" not in m and "2.0" not in m and "seedance-2" not in m


DATA_URI = re.compile(r"data:[\w.+-]+/[\w.+-]+[;,]")
"""A data URI with its MIME prefix, as the API requires."""


class VideoRequest(RequestModel):
    """POST /v1/video/generations, with the content array built from prompt and media."""

    prompt: str | None = Field(None, min_length=1, description="Text prompt")
    model: str = Field(DEFAULT_MODEL, min_length=1, description="Model id")
    images: list[str] = Field(default_factory=list, description="Reference / first-frame images")
    videos: list[str] = Field(default_factory=list, description="Reference videos (Seedance 2.0)")
    audios: list[str] = Field(
        default_factory=list, description="Audio clips, wav/mp3 (Seedance 2.0)"
    )
    resolution: Literal["480p", "720p", "1080p"] | None = None
    ratio: Literal["16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"] | None = None
    duration: int | None = Field(None, ge=1, description="Seconds (or give frames)")
    frames: int | None = Field(None, ge=1, description="Frames (or give duration)")
    generate_audio: bool | None = None
    return_last_frame: bool | None = None
    seed: int | None = Field(None, ge=-1, le=2**32 - 1, description="-1: a random one")
    camera_fixed: bool | None = None
    watermark: bool | None = None
    draft: bool | None = None
    service_tier: str | None = Field(None, min_length=1)
    execution_expires_after: int | None = Field(None, ge=1, le=259200, description="Seconds")
    priority: int | None = Field(None, ge=0, le=9)
    safety_identifier: str | None = Field(None, min_length=1)
    callback_url: str | None = None
    draft_task: str | None = Field(
        None, min_length=1, description="Id of an earlier draft task whose video is a reference"
    )
    roles: dict[str, str] | None = Field(
        None, description="An input's role by its place, e.g. {'images.0': 'first_frame'}"
    )

    @pydantic.field_validator("callback_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        return http_url(v)

    @pydantic.model_validator(mode="after")
    def _rules(self) -> VideoRequest:
        if self.duration is not None and self.frames is not None:
            raise FieldRule("frames", "give duration or frames, not both", self.frames)
        for place in self.roles or {}:
            kind, _, index = place.partition(".")
            items = getattr(self, kind, None) if kind in ("images", "videos", "audios") else None
            if (place == "draft_task" and self.draft_task) or (place == "prompt" and self.prompt):
                continue
            if items is None or not index.isdigit() or int(index) >= len(items):
                raise FieldRule(
                    f"roles.{place}",
                    "names no input (prompt, images.N, videos.N, audios.N, draft_task)",
                )
        if not (self.prompt or self.images or self.videos or self.audios or self.draft_task):
            raise FieldRule("prompt", "content is empty: give a prompt, images or videos")
        if self.audios and not (self.images or self.videos):
            raise FieldRule("audios", "audio cannot be the only input: add an image or a video")
        if (self.videos or self.audios) and _is_seedance_1(self.model):
            raise FieldRule("model", "video and audio inputs need a Seedance 2.0 model", self.model)
        span = MODEL_DURATIONS.get(self.model)
        if span and self.duration is not None and not span[0] <= self.duration <= span[1]:
            raise FieldRule(
                "duration", f"must be {span[0]}–{span[1]} s for {self.model}", self.duration
            )
        lo, hi, base, step = FRAMES
        if (
            self.frames is not None
            and "seedance" in self.model
            and not (lo <= self.frames <= hi and (self.frames - base) % step == 0)
        ):
            raise FieldRule(
                "frames", f"must be {lo}–{hi} and of the form 25 + 4n for Seedance", self.frames
            )
        return self

    def wire(self) -> dict[str, Any]:
        body = self.model_dump(
            mode="json",
            exclude_none=True,
            exclude={"prompt", "images", "videos", "audios", "draft_task", "roles"},
        )
        roles = self.roles or {}
        content: list[dict[str, Any]] = []
        if self.prompt:
            text: dict[str, Any] = {"type": "text", "text": self.prompt}
            if "prompt" in roles:
                text["role"] = roles["prompt"]
            content.append(text)
        for field, kind in (
            ("images", "image_url"),
            ("videos", "video_url"),
            ("audios", "audio_url"),
        ):
            for i, url in enumerate(getattr(self, field)):
                item: dict[str, Any] = {"type": kind, kind: {"url": url}}
                if f"{field}.{i}" in roles:
                    item["role"] = roles[f"{field}.{i}"]
                content.append(item)
        if self.draft_task:
            item = {"type": "draft_task", "draft_task": {"id": self.draft_task}}
            if "draft_task" in roles:
                item["role"] = roles["draft_task"]
            content.append(item)
        body["content"] = content
        return body


class ListQuery(RequestModel):
    status: (
        list[Literal["queued", "running", "succeeded", "failed", "expired", "cancelled"]] | None
    ) = None
    model: list[str] | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)

    @pydantic.field_validator("status", "model", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    def params(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = [("limit", self.limit), ("offset", self.offset)]
        out += [("status", s) for s in self.status or []]
        out += [("model", m) for m in self.model or []]
        for key in ("created_after", "created_before"):
            value = getattr(self, key)
            if value is not None:
                value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
                out.append(
                    (key, value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"))
                )
        return out


ECHOED = (
    "model", "resolution", "ratio", "duration", "frames", "generate_audio", "seed",
    "safety_identifier", "priority", "draft", "service_tier", "execution_expires_after",
)  # fmt: skip
"""Request fields a task object carries back (its `content`, the prompt and media, it does not)."""
FIND_PAGE = 200
FIND_PAGES = 20
SWEEP_STATUSES = ["running", "succeeded", "failed", "expired", "cancelled"]
"""What a sweep lists: every status but `queued` (the one nothing needs to be done about)."""


class MeshAPI(Provider):
    """A task list with `created_after`, `model`, `status`, `limit`/`offset` lets a create whose
    answer was lost be found, and open tasks be swept in few calls. The list is served from
    Mesh's database, which learns a task's end from the upstream's completion notification
    but an in-progress state only from the task's own GET: a sweep reads the tasks the list
    shows ended (or running), and a task it shows unchanged gets a GET (the live sync) every
    LIVE_SYNC_EVERY seconds, in case the database was not told."""

    name = "meshapi"
    title = "Mesh API"
    key_env = "MESHAPI_API_KEY"
    default_base_url = "https://api.meshapi.ai"
    sandbox_key = "rsk_nbmedia_sandbox"
    concurrency = 2
    """Undocumented (only RPM/RPD 429s are): the conservative default."""
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.FIND_CREATED, Capability.LIST_REFRESH}
    )
    webhook_field = "callback_url"

    def __init__(self, api: ApiClient, *, webhook_secret: Secret | None = None) -> None:
        super().__init__(api, webhook_secret=webhook_secret)
        self._synced: dict[str, float] = {}
        """When each open task was last read with its own GET (the live sync), monotonic."""

    media_fields: ClassVar[dict[str, tuple[str, bool, str | None]]] = {
        "images": ("image/*", True, None),
        "videos": ("video/*", True, None),
        "audios": (".wav,.mp3", True, None),
    }
    requests: ClassVar[dict[str, type[RequestModel]]] = {"video": VideoRequest}
    text_field: ClassVar[dict[str, str]] = {"video": "prompt"}
    statuses: ClassVar[dict[str, JobStatus]] = {
        "queued": JobStatus.QUEUED,
        "running": JobStatus.RUNNING,
        "succeeded": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
        "expired": JobStatus.EXPIRED,
        "cancelled": JobStatus.CANCELLED,
    }
    makes: ClassVar[dict[str, str]] = {
        "video": "text/image/video/audio items → video (Seedance and other models)",
    }

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def make_request(self, kind: str, fields: Mapping[str, Any]) -> RequestModel:
        fields = dict(fields)
        if "content" in fields:
            fields.update(_split_content(fields.pop("content")))
        for key, kind_ in (("images", "image"), ("videos", "video"), ("audios", "audio")):
            value = fields.get(key)
            if value is None:
                continue
            if isinstance(value, (str, os.PathLike, Job, Mapping)) or not isinstance(
                value, Sequence
            ):
                value = [value]
            sources = []
            for i, v in enumerate(value):
                if isinstance(v, Mapping) and "url" in v:  # {"url": source, "role": ...}
                    if v.get("role") is not None:
                        fields["roles"] = {**(fields.get("roles") or {}), f"{key}.{i}": v["role"]}
                    v = v["url"]
                sources.append(self._source(f"{key}.{i}", v, kind_))
            fields[key] = sources
        request = super().make_request(kind, fields)
        assert isinstance(request, VideoRequest)
        self._check_limits(request)
        if request.seed is None or request.seed < 0:
            # "a random seed" chosen here rather than by the server: the list echoes seeds
            # (not prompts), so a create whose answer is lost can be told from its neighbours
            request.seed = secrets.randbelow(RANDOM_SEEDS)
        return request

    def _source(self, field: str, value: Any, kind: str) -> str:
        """A URL or a data URI; local files are checked against the limits first."""
        if isinstance(value, (str, os.PathLike)) and not str(value).startswith(
            ("http://", "https://", "data:")
        ):
            path = existing_file(value)
            if path is not None:
                self._check_file(field, path, kind)
                return data_uri(path)
        if isinstance(value, str) and value.startswith("data:") and not DATA_URI.match(value):
            raise ValidationError(
                self.name,
                field,
                value,
                "a data URI must carry its MIME type (data:image/png;base64,...)",
            )
        return input_url(self.name, field, value, kind)

    def _check_file(self, field: str, path: Path, kind: str) -> None:
        size = path.stat().st_size
        if kind == "video" and size > LIMITS["video_bytes"]:
            raise ValidationError(
                self.name,
                field,
                str(path),
                f"a video may be at most 50 MB (this is {size / MB:.1f} MB)",
            )
        if kind == "audio":
            mime = mimetypes.guess_type(path.name)[0] or ""
            if mime not in AUDIO_FORMATS:
                raise ValidationError(self.name, field, str(path), "audio must be wav or mp3")
            if size > LIMITS["audio_bytes"]:
                raise ValidationError(
                    self.name,
                    field,
                    str(path),
                    f"an audio clip may be at most 15 MB (this is {size / MB:.1f} MB)",
                )

    def _check_limits(self, request: VideoRequest) -> None:
        if len(request.audios) > LIMITS["audio_clips"]:
            raise ValidationError(
                self.name, "audios", f"{len(request.audios)} clips", "at most 3 audio clips"
            )
        total = 0.0
        lo, hi = LIMITS["audio_clip_s"]
        for i, uri in enumerate(request.audios):
            field = f"audios.{i}"
            mime = data_uri_mime(uri)
            if mime is not None and mime not in AUDIO_FORMATS:
                raise ValidationError(self.name, field, mime, "audio must be wav or mp3")
            if mime is None and uri.split("?")[0].rsplit(".", 1)[-1].lower() not in ("wav", "mp3"):
                continue  # a URL without an extension: the provider checks it
            if mime is not None and data_uri_size(uri) > LIMITS["audio_bytes"]:
                raise ValidationError(
                    self.name,
                    field,
                    f"{data_uri_size(uri) / MB:.1f} MB",
                    "an audio clip may be at most 15 MB",
                )
            seconds = _data_uri_seconds(uri) if mime is not None else None
            if seconds is None:
                continue
            if not lo <= seconds <= hi:
                raise ValidationError(
                    self.name, field, f"{seconds:.1f} s", "each audio clip must last 2–15 seconds"
                )
            total += seconds
        if total > LIMITS["audio_total_s"]:
            raise ValidationError(
                self.name,
                "audios",
                f"{total:.1f} s in total",
                "audio clips may last at most 15 seconds together",
            )
        for i, uri in enumerate(request.videos):
            if data_uri_mime(uri) is not None and data_uri_size(uri) > LIMITS["video_bytes"]:
                raise ValidationError(
                    self.name,
                    f"videos.{i}",
                    f"{data_uri_size(uri) / MB:.1f} MB",
                    "a video may be at most 50 MB",
                )
        size = len(json.dumps(request.wire()))
        if size > LIMITS["body_bytes"]:
            raise ValidationError(
                self.name,
                "request",
                f"{size / MB:.1f} MB",
                "the request body may be at most 64 MB: pass large files by public URL instead of base64",
            )

    # ---- lifecycle ---------------------------------------------------------------------------
    async def submit(self, job: Job, request: RequestModel) -> Job:
        r = await self.api.request(
            "POST", "/v1/video/generations", json=request.wire(), creates_job=True
        )
        body = read(self.api, r, require={"id": str})
        job.raw = body
        job.id = body["id"]
        job.status = JobStatus.QUEUED
        job.progress = 0.0
        return job

    async def refresh(self, job: Job) -> Job:
        r = await self.api.request("GET", f"/v1/video/generations/{job.id}")
        self._synced[job.id] = time.monotonic()  # type: ignore[index]
        return self.apply(job, read(self.api, r, require={"status": str}))

    async def sweep(self, jobs: list[Job], ended: Callable[[Job], None] | None = None) -> Swept:
        """The tasks created between the oldest and the newest asked for, 200 a page by
        `offset`, filtered to the statuses that are news (`running` and the terminal ones: a
        task the list does not show is still queued as far as Mesh knows); then a GET for each
        task not synced live for LIVE_SYNC_EVERY seconds."""
        if len(jobs) <= 1:
            return await super().sweep(jobs, ended)
        swept = Swept()
        wanted = {j.id: j for j in jobs if j.id}
        first, last = _span([j.created_at for j in wanted.values()])
        filters: dict[str, Any] = {
            "status": SWEEP_STATUSES,
            "created_after": first - CLOCK_SKEW,  # our clock, and the list's whole seconds
            "created_before": last + CLOCK_SKEW,
            "limit": FIND_PAGE,
        }
        for page in range(C.SWEEP_PAGES):
            rows, more = await self.list_page(**filters, offset=page * FIND_PAGE)
            for row in rows:
                job = wanted.pop(row.get("id"), None)  # type: ignore[arg-type]
                if job is None or row == job.raw:  # a row as last read changes nothing
                    continue
                if self.apply(swept.copy(job), row).done:
                    self._synced.pop(job.id, None)  # type: ignore[arg-type]
            if not more or not rows or not wanted:
                break
        now, synced = time.monotonic(), self._synced
        stale = [
            j for i, j in wanted.items() if now - synced.setdefault(i, now) >= C.LIVE_SYNC_EVERY
        ]
        return swept.update(await super().sweep(stale, ended))

    async def list_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        rows, _ = await self.list_page(**filters)
        return rows

    async def list_page(self, **filters: Any) -> tuple[list[dict[str, Any]], bool]:
        """One page of the task list (newest first) and whether more remain."""
        query = build(self.name, ListQuery, filters)
        r = await self.api.request("GET", "/v1/video/generations", params=query.params())
        rows, meta = read_rows(self.api, r)
        return rows, meta.get("has_more") is True

    async def find_created(self, job: Job, claimed: Collection[str]) -> Job | None:
        """The task a lost create made: lists `created_after` = `job.created_at` minus the
        clock-skew margin, `model` = the request's, 200 a page by `offset` while `has_more`,
        and takes a task whose echoed fields (resolution, ratio unless adaptive, duration,
        frames, generate_audio, seed unless random, priority, draft, service_tier,
        execution_expires_after, safety_identifier, a draft_task's id) equal `job.request`'s,
        not in `claimed`, created closest after `job.created_at`.

        The task object does not echo `content` (the prompt and the media): two creates with
        the same options in one window are told apart only by `claimed` and by time."""
        expected = _expected_task(job.request)
        model = job.request.get("model")
        filters: dict[str, Any] = {"created_after": since(job), "limit": FIND_PAGE}
        if isinstance(model, str):
            filters["model"] = [model]
        candidates = []
        for page in range(FIND_PAGES):
            rows, more = await self.list_page(**filters, offset=page * FIND_PAGE)
            for payload in rows:
                created = parse_time(payload.get("created_at"))
                if eligible(job, payload, created, claimed) and matches(expected, payload, None):
                    candidates.append((created, payload))
            if not more or not rows:
                break
        found = closest(job, candidates)
        return None if found is None else self.apply(job, found)

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
        job.created_at = parse_time(payload.get("created_at")) or job.created_at
        if job.done:
            job.completed_at = parse_time(payload.get("updated_at")) or job.completed_at
        err = mapping(payload.get("error"))
        if err.get("code") or err.get("message"):
            job.error = {"code": err.get("code"), "message": err.get("message")}
        tokens = number(mapping(payload.get("usage")).get("total_tokens"))
        if tokens is not None:
            job.cost, job.cost_unit = tokens, "tokens"
        content = mapping(payload.get("content"))
        url = content.get("video_url")
        if job.status is JobStatus.SUCCEEDED and isinstance(url, str) and url:
            known = {o.url: o for o in job.outputs}
            outs = [known.get(url) or Output("video", url, guess_mime(url, "video"))]
            lf = content.get("last_frame_url")
            if isinstance(lf, str) and lf:
                outs.append(
                    known.get(lf) or Output("image", lf, guess_mime(lf, "image"), role="last_frame")
                )
            job.outputs = outs
        return job

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Callbacks are unsigned: the id is taken, the state is re-read with GET."""
        try:
            event = json.loads(body)
        except ValueError:
            raise WebhookError("meshapi: callback body is not JSON") from None
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise WebhookError("meshapi: callback body has no task id")
        return {"id": event["id"], "status": event.get("status"), "verified": False}


def _expected_task(request: Mapping[str, Any]) -> dict[str, Any]:
    """What a task made from `request` (the wire body) echoes, for find_created."""
    expected = {k: request[k] for k in ECHOED if request.get(k) is not None}
    if expected.get("ratio") == "adaptive":  # the task reports the ratio it resolved
        del expected["ratio"]
    if isinstance(expected.get("seed"), int) and expected["seed"] < 0:  # a random one
        del expected["seed"]
    for item in request.get("content") or []:
        item = mapping(item)
        draft = mapping(item.get("draft_task")).get("id")
        if item.get("type") == "draft_task" and isinstance(draft, str):
            expected["draft_task_id"] = draft
    return expected


def _split_content(items: Any) -> dict[str, Any]:
    """A raw `content` array (as the API and its SDK take it) → prompt, images, videos,
    audios, draft_task, and the role of each item that has one."""
    if not isinstance(items, (list, tuple)):
        raise ValidationError("meshapi", "content", items, "must be a list of content items")
    out: dict[str, Any] = {"images": [], "videos": [], "audios": [], "roles": {}}
    for n, item in enumerate(items):
        kind = item.get("type") if isinstance(item, Mapping) else None
        extra = [k for k in item if k not in ("type", kind, "role")] if kind in ITEM_KINDS else []
        if extra:  # nothing given is dropped unseen
            raise ValidationError(
                "meshapi",
                f"content.{n}.{extra[0]}",
                item[extra[0]],
                f"not a field of a {kind} item (type, {kind}, role)",
            )
        if kind == "text":
            if "prompt" in out:  # the request has one prompt: never drop a text unseen
                raise ValidationError(
                    "meshapi",
                    f"content.{n}",
                    item.get("text"),
                    "a request takes one text item: join the texts into one prompt",
                )
            out["prompt"] = item.get("text")
            place = "prompt"
        elif kind in ("image_url", "video_url", "audio_url"):
            field = kind.replace("_url", "s")
            source = item.get(kind)
            url = source.get("url") if isinstance(source, Mapping) else source
            place = f"{field}.{len(out[field])}"
            out[field].append(url)
        elif kind == "draft_task":
            source = item.get("draft_task")
            out["draft_task"] = source.get("id") if isinstance(source, Mapping) else source
            place = "draft_task"
        else:
            raise ValidationError(
                "meshapi",
                f"content.{n}.type",
                kind,
                "must be one of text, image_url, video_url, audio_url, draft_task",
            )
        if item.get("role") is not None:
            out["roles"][place] = item["role"]
    return {k: v for k, v in out.items() if v}


ITEM_KINDS = ("text", "image_url", "video_url", "audio_url", "draft_task")
"""The content item types (the page and the SDK's `VideoContentItem`)."""


def _data_uri_seconds(uri: str) -> float | None:
    import base64
    import tempfile

    ext = AUDIO_FORMATS.get(data_uri_mime(uri) or "", "bin")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"clip.{ext}"
        path.write_bytes(base64.b64decode(uri.split(",", 1)[1]))
        return mediainfo.duration(path)


def _span(times: list[dt.datetime]) -> tuple[dt.datetime, dt.datetime]:
    """The first and last of `times`, aware (UTC where naive): found among them as they are,
    a thousand at C speed, unless they mix naive and aware ones."""
    try:
        return aware(min(times)), aware(max(times))
    except TypeError:  # naive and aware together: made comparable first
        both = [aware(t) for t in times]
        return min(both), max(both)
