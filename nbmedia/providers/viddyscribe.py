"""ViddyScribe Enterprise API: video → audio description as text, audio track or described video.

A video is uploaded first (multipart up to 32 MB, by URL, or the signed-URL flow for larger
files), then described. `409 upload_not_ready` is waited out; `upload_failed` says to re-upload.
Results carry signed links that expire after 15 minutes, so outputs are fetched at once and a
stale link is refreshed by reading the results again.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import pydantic
from pydantic import Field

from ..errors import ProviderError, ValidationError
from ..http import ParsedError, Patience, default_error_parser
from ..models import Job, JobStatus, Output
from ..validation import FieldRule, RequestModel, is_http_url
from . import mediainfo
from .answers import read
from .base import Capability, Provider, guess_mime, parse_time
from .inputs import existing_file

API = "/enterprise/api"
DIRECT_UPLOAD_MAX = 32 * 1024 * 1024
"""Above this a local file goes through the signed-URL flow."""
NO_RETRY_429 = {"plan_limit_exceeded"}
"""429 codes that waiting will not cure."""

LANGUAGES = {
    "en-US": "English (US)", "en-GB": "English (GB)", "en-AU": "English (AU)", "en-IN": "English (IN)",
    "es-ES": "Spanish (ES)", "es-US": "Spanish (US)", "fr-FR": "French (FR)", "fr-CA": "French (CA)",
    "de-DE": "German", "it-IT": "Italian", "pt-BR": "Portuguese (BR)", "ja-JP": "Japanese",
    "ko-KR": "Korean", "zh-CN": "Chinese", "ar-XA": "Arabic", "hi-IN": "Hindi", "bn-IN": "Bengali",
    "bg-BG": "Bulgarian", "hr-HR": "Croatian", "cs-CZ": "Czech", "da-DK": "Danish",
    "nl-NL": "Dutch (NL)", "nl-BE": "Dutch (BE)", "et-EE": "Estonian", "fi-FI": "Finnish",
    "el-GR": "Greek", "gu-IN": "Gujarati", "he-IL": "Hebrew", "hu-HU": "Hungarian",
    "id-ID": "Indonesian", "kn-IN": "Kannada", "lv-LV": "Latvian", "lt-LT": "Lithuanian",
    "ml-IN": "Malayalam", "mr-IN": "Marathi", "nb-NO": "Norwegian", "pl-PL": "Polish",
    "pa-IN": "Punjabi (India)", "ro-RO": "Romanian", "ru-RU": "Russian", "sr-RS": "Serbian (Cyrillic)",
    "sk-SK": "Slovak", "sl-SI": "Slovenian", "sv-SE": "Swedish", "sw-KE": "Swahili", "ta-IN": "Tamil",
    "te-IN": "Telugu", "th-TH": "Thai", "tr-TR": "Turkish", "uk-UA": "Ukrainian", "ur-IN": "Urdu",
    "vi-VN": "Vietnamese",
}  # fmt: skip
"""The 52 languages of the page as BCP-47 codes (our reading of the regions it leaves open:
ar-XA, bn-IN, sw-KE, ur-IN, zh-CN, nb-NO). The docs name no other spellings, and the API
refuses them: another region's code (ar-SA, no-NO) is refused here, naming the listed one."""
CATEGORIES = (
    "Auto", "Educational Lecture", "Educational Kids", "Government Meeting", "Documentary",
    "Narrative Story", "Social Media", "Tutorial/How-To", "Vlog", "Commercial/Advertisement", "News",
    "Entertainment", "Home Video", "Video Call",
)  # fmt: skip
VOICES = (
    "Achernar", "Achird", "Algenib", "Algieba", "Alnilam", "Aoede", "Autonoe", "Callirrhoe", "Charon",
    "Despina", "Enceladus", "Erinome", "Fenrir", "Gacrux", "Iapetus", "Kore", "Laomedeia", "Leda",
    "Orus", "Puck", "Pulcherrima", "Rasalgethi", "Sadachbia", "Sadaltager", "Schedar", "Sulafat",
    "Umbriel", "Vindemiatrix", "Zephyr", "Zubenelgenubi",
)  # fmt: skip
"""The voice ids (the page names Achernar; the rest are the same Gemini / Chirp 3 HD family; the
newer page counts 31, the 31st is not in any copy we could read). Others are refused."""
_VOICE_BY_LOWER = {name.lower(): name for name in VOICES}
"""A voice id as listed, by any capitalisation."""
ROUTE_FIELDS = {
    "volume_option": ("audio", "video"),
    "volume_level_db": ("audio", "video"),
    "description_content": ("audio", "video"),
    "audio_track_type": ("audio",),
}
"""generation_config fields only some outputs take (the API reference's request body of each
route); the others go to every route."""
VOLUME_DB = (-10.0, 0.0)
"""volume_level_db: max peak in dBFS with volume_option "max"; "supported range is -10 to 0"."""
FILENAME_MAX = 255
SAME_LANGUAGE = {"no": "nb", "cmn": "zh"}
"""Primary subtags that name a listed language under another code (for the refusal's hint)."""
Category = Literal[CATEGORIES]  # type: ignore[valid-type]
ENDPOINT = {"text": "generate_ad_text", "audio": "generate_ad_audio", "video": "generate_ad_video"}


MEDIA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
"""What can be a media id (the API's are UUIDs): a value with a path's slashes, dots or spaces
is a file that is not there."""


class DescribeRequest(RequestModel):
    """An audio-description job: the video, what to make, and the generation_config."""

    video: Any = Field(description="Local file, URL, media id, or an earlier job")
    output: Literal["text", "audio", "video"] = Field("text", description="What to make")
    language: str = Field("en-US", description="BCP-47 language of the description")
    format: Literal["json", "vtt", "edl", "srt"] = Field("json", description="Text output format")
    video_category: Category = "Auto"
    ad_type: Literal["standard_ad", "extended_ad"] = "standard_ad"
    voice: str | None = Field(
        None, json_schema_extra={"voice": True}, description="Narration voice"
    )
    custom_instructions: str | None = Field(None, description="May be empty, as in the docs")
    read_all_onscreen_text: bool | None = None
    auto_fit: bool | None = Field(None, description="Fit descriptions into no-speech zones")
    allow_descriptions_over_music: bool | None = Field(
        None, description="Allow descriptions over music when no better timing exists"
    )
    custom_captions: dict[str, str] | str | None = Field(
        None, description="Captions (VTT/SRT/plain text) to use instead of transcribing"
    )
    volume_option: Literal["auto", "max"] | None = Field(
        None, description="max: set the AD track's peak to volume_level_db"
    )
    volume_level_db: float | None = Field(
        None, ge=VOLUME_DB[0], le=VOLUME_DB[1], description="Max peak in dBFS (-10 to 0)"
    )
    audio_track_type: Literal["mixed", "ad_only"] | None = Field(
        None, description="Audio output: source plus narration (mixed) or narration alone"
    )
    description_content: str | None = None
    filename: str | None = Field(
        None, min_length=1, max_length=FILENAME_MAX, description="input.filename"
    )

    @pydantic.field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if v in LANGUAGES:
            return v
        primary = v.replace("_", "-").split("-")[0].lower()
        primary = SAME_LANGUAGE.get(primary, primary)
        same = [c for c in LANGUAGES if c.split("-")[0].lower() == primary]
        hint = f"; for this language use {' or '.join(same)}" if same else ""
        raise ValueError(
            f"must be one of the {len(LANGUAGES)} supported languages{hint} "
            f"({', '.join(LANGUAGES)})"
        )

    @pydantic.field_validator("voice")
    @classmethod
    def _voice(cls, v: str | None) -> str | None:
        if v is None:
            return v
        match = _VOICE_BY_LOWER.get(v.lower())
        if match is None:
            raise ValueError(f"is not a ViddyScribe voice id; use one of {', '.join(VOICES)}")
        return match

    @pydantic.field_validator("custom_captions")
    @classmethod
    def _captions(cls, v: dict[str, str] | str | None) -> dict[str, str] | None:
        """A string is the captions' content; an object is {content, format?, filename?}."""
        if v is None:
            return v
        if isinstance(v, str):
            v = {"content": v}
        extra = set(v) - {"content", "format", "filename"}
        if extra:
            raise ValueError(f"has no field {sorted(extra)[0]!r} (content, format, filename)")
        if not v.get("content", "").strip():
            raise ValueError("needs its content: the captions as VTT, SRT or plain text")
        return v

    @pydantic.field_validator("video")
    @classmethod
    def _video(cls, v: Any) -> Any:
        if isinstance(v, (Job, Output)):
            return v
        if isinstance(v, os.PathLike):
            v = os.fspath(v)
        if not isinstance(v, str) or not v:
            raise ValueError("must be a file path, a URL, a media id or an earlier job")
        if v.startswith(("http://", "https://")):
            if not is_http_url(v):
                raise ValueError("is not a whole URL (no host)")
            return v
        path = existing_file(v)
        if path is not None:
            kinds = mediainfo.streams(path)
            if kinds is not None and "video" not in kinds:
                raise ValueError(
                    "has no video stream (ViddyScribe describes videos: no_video_stream)"
                )
            return v
        if "://" in v:
            raise ValueError("must be an http(s) URL (other schemes cannot be fetched)")
        if not MEDIA_ID.fullmatch(v):
            raise ValueError("is neither an existing file, an http(s) URL nor a media id")
        return v

    @pydantic.model_validator(mode="after")
    def _audio_is_standard(self) -> DescribeRequest:
        if self.output == "audio" and self.ad_type != "standard_ad":
            raise FieldRule("ad_type", "an audio track is made for Standard AD only", self.ad_type)
        for name, outputs in ROUTE_FIELDS.items():
            value = getattr(self, name)
            if value is not None and self.output not in outputs:
                routes = " and ".join(f"output={o!r}" for o in outputs)
                rule = f"applies to {routes} only (not output={self.output!r})"
                raise FieldRule(name, rule, value)
        return self

    def config(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json", exclude_none=True, exclude={"video", "output", "filename"}
        )

    def wire(self) -> dict[str, Any]:
        body = self.config()
        video = self.video
        body["video"] = (
            video.id
            if isinstance(video, Job)
            else (video.url if isinstance(video, Output) else video)
        )
        body["output"] = self.output
        if self.filename is not None:
            body["filename"] = self.filename
        return body


class ViddyScribe(Provider):
    """A finished description has timed segments. No job list and no webhooks are documented:
    a generate whose answer was lost cannot be found (no FIND_CREATED)."""

    name = "viddyscribe"
    title = "ViddyScribe"
    key_env = "VIDDYSCRIBE_API_KEY"
    default_base_url = "https://api.viddyscribe.com"
    sandbox_key = "vsk_nbmedia_sandbox"
    concurrency = 2
    """Undocumented (a `concurrency_limit_exceeded` 429 exists, with no number): the default."""
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.SEGMENTS})
    requests: ClassVar[dict[str, type[RequestModel]]] = {"describe": DescribeRequest}
    text_field: ClassVar[dict[str, str]] = {"describe": "video"}
    statuses: ClassVar[dict[str, JobStatus]] = {
        "queued": JobStatus.QUEUED,
        "processing": JobStatus.RUNNING,
        "done": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
    }
    makes: ClassVar[dict[str, str]] = {
        "describe": "video → audio description as text (json/vtt/edl), an AD audio track, or a described MP4",
    }

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"X-API-Key": key}

    @staticmethod
    def parse_error(response: httpx.Response, body: Any) -> ParsedError:
        parsed = default_error_parser(response, body)
        if parsed.code in NO_RETRY_429:
            parsed.retryable = False
        return parsed

    def label(self, kind: str, wire: Mapping[str, Any], fields: Mapping[str, Any]) -> str | None:
        """`describe {source} → {output} ({language}, {format})`: the source is the video's file
        name, or an earlier job's prompt (else its id)."""
        video = fields.get("video", wire.get("video"))
        if isinstance(video, Job):
            source = video.prompt or video.id or video.local_id
        elif isinstance(video, Output):
            source = Path(str(video.path or video.url or "")).name
        else:
            source = Path(str(wire.get("video", video))).name
        output, language, fmt = (wire.get(k) for k in ("output", "language", "format"))
        return f"describe {source} → {output or 'text'} ({language}, {fmt})"

    # ---- inputs ------------------------------------------------------------------------------
    async def upload(self, video: Any, *, note: Any = None) -> str:
        """The media id of `video`, uploading a local file or a URL if needed."""
        if isinstance(video, Job):
            path = video.path
            if path is not None and Path(path).exists():
                video = path
            elif video.output() is not None and video.output().url:
                video = video.output().url
            else:
                raise ValidationError(
                    self.name, "video", repr(video), "that job has no video output yet"
                )
        if isinstance(video, Output):
            video = (
                video.path if video.path is not None and Path(video.path).exists() else video.url
            )
        text = os.fspath(video)
        if text.startswith(("http://", "https://")):
            r = await self.api.request(
                "POST", f"{API}/upload_media", json={"input": {"type": "url", "url": text}}
            )
            return await self._ready(read(self.api, r, require={"media_id": str}))
        path = Path(text)
        if not path.is_file():
            return text  # a media id
        if path.stat().st_size <= DIRECT_UPLOAD_MAX:
            mime = mimetypes.guess_type(path.name)[0] or "video/mp4"
            files = {"file": (path.name, path.read_bytes(), mime)}
            r = await self.api.request("POST", f"{API}/upload_media", files=files)
            return await self._ready(read(self.api, r, require={"media_id": str}))
        return await self._signed_upload(path)

    async def _signed_upload(self, path: Path) -> str:
        """Large files: request a signed URL, PUT the bytes, notify, poll until completed."""
        ctype = mimetypes.guess_type(path.name)[0] or "video/mp4"
        r = await self.api.request(
            "POST",
            f"{API}/upload_media",
            json={"input": {"type": "signed_url", "filename": path.name, "content_type": ctype}},
        )
        grant = read(self.api, r, require={"media_id": str, "upload_url": str, "gcs_path": str})
        await self.api.request(
            "PUT",
            grant["upload_url"],
            content=path.read_bytes(),
            headers={"Content-Type": grant.get("content_type", ctype)},
        )
        await self.api.request(
            "POST",
            f"{API}/notify_upload_complete",
            json={"media_id": grant["media_id"], "gcs_path": grant["gcs_path"]},
        )
        return await self._ready({**grant, "status": "pending"}, gcs_path=grant["gcs_path"])

    async def _ready(self, upload: dict[str, Any], gcs_path: str | None = None) -> str:
        """The media id to describe. A direct or URL upload is verified while its generation
        waits (409 upload_not_ready is waited out there): `get_upload_status` belongs to the
        signed-URL flow only, which is polled here until completed (its canonical id)."""
        media_id = upload.get("canonical_media_id") or upload["media_id"]
        if gcs_path is None:
            return media_id
        patience = Patience()
        params: dict[str, str] = {"media_id": upload["media_id"]}
        if gcs_path:
            params["gcs_path"] = gcs_path
        while True:
            r = await self.api.request("GET", f"{API}/get_upload_status", params=params)
            state = read(self.api, r)
            status = state.get("upload_status") or state.get("status")
            if status == "completed":
                return state.get("canonical_media_id") or state.get("media_id") or media_id
            if status == "failed":
                raise ProviderError(
                    self.name,
                    409,
                    "upload_failed",
                    "upload verification failed: re-upload the media and try again",
                    body=state,
                )
            if patience.over:
                raise ProviderError(
                    self.name,
                    409,
                    "upload_not_ready",
                    f"upload still {status} after {patience.limit:g} s",
                    body=state,
                )
            await patience.pause()

    # ---- lifecycle ---------------------------------------------------------------------------
    async def submit(self, job: Job, request: RequestModel) -> Job:
        assert isinstance(request, DescribeRequest)
        media_id = await self.upload(request.video)
        source: dict[str, Any] = {"type": "media_id", "media_id": media_id}
        if request.filename is not None:
            source["filename"] = request.filename
        body = {"input": source, "generation_config": request.config()}
        patience = Patience()
        while True:
            try:
                r = await self.api.request(
                    "POST", f"{API}/{ENDPOINT[request.output]}", json=body, creates_job=True
                )
                break
            except ProviderError as exc:
                if exc.code != "upload_not_ready" or patience.over:
                    if exc.code == "upload_failed":
                        exc.message += " (re-upload the media and try again)"
                    raise
                await patience.pause()  # verification still running: wait it out
        data = read(self.api, r, require={"job_id": str})
        job.id = data["job_id"]
        job.status = self.status_of(str(data.get("status") or "queued"))
        job.progress = 0.0
        media = data.get("media_id")
        job.raw = {
            **data,
            "media_id": media if isinstance(media, str) else media_id,  # describe it again by id
            "request": {"output": request.output, "format": request.format},
        }
        source = _local_source(request.video)
        if source is not None:
            job.outputs = [Output("video", None, "video/mp4", source, role="source")]
        return job

    async def refresh(self, job: Job) -> Job:
        r = await self.api.request("GET", f"{API}/get_results", params={"job_id": job.id})
        return self.apply(job, read(self.api, r, require={"status": str}))

    def segments(self, job: Job) -> list[dict[str, Any]]:
        """Timed segments (start, end, text) of a finished description: from its JSON output,
        or parsed from its VTT/SRT captions; empty before the files are downloaded."""
        for out in job.outputs:
            if (
                out.kind in ("text", "captions")
                and out.path is not None
                and Path(out.path).exists()
            ):
                text = Path(out.path).read_text(encoding="utf-8")
                if out.mime == "application/json":
                    return _json_segments(text)
                if out.mime in ("text/vtt", "application/x-subrip"):
                    return parse_cues(text)
        return []

    def apply(self, job: Job, payload: dict[str, Any]) -> Job:
        media = payload.get("media_id") or (job.raw or {}).get("media_id")
        job.raw = {**payload, "media_id": media} if isinstance(media, str) else payload
        if isinstance(payload.get("job_id"), str) and payload["job_id"]:
            job.id = payload["job_id"]
        job.status = self.status_of(str(payload.get("status") or "queued"))
        job.progress = (
            1.0
            if job.status is JobStatus.SUCCEEDED
            else (0.0 if job.status is JobStatus.QUEUED else None)
        )
        job.created_at = parse_time(payload.get("created_at")) or job.created_at
        if job.done:
            job.completed_at = parse_time(payload.get("updated_at")) or job.completed_at
        if job.status is JobStatus.FAILED:
            job.error = {
                "code": payload.get("error_code") or "failed",
                "message": payload.get("error") or payload.get("message") or "",
            }
        if job.status is JobStatus.SUCCEEDED:
            job.outputs = self._outputs(job, payload)
        return job

    def _outputs(self, job: Job, payload: dict[str, Any]) -> list[Output]:
        keep = [o for o in job.outputs if o.role == "source"]
        old = {(o.role, o.kind): o for o in job.outputs}
        outs: list[Output] = []
        video_url = _url(payload.get("video_signed_url")) or _url(payload.get("result_url"))
        if video_url and job.request.get("output") == "video":
            outs.append(_fresh(old.get(("main", "video")), Output("video", video_url, "video/mp4")))
        audio_url = _url(payload.get("audio_signed_url"))
        if audio_url:
            role = "main" if job.request.get("output") == "audio" else "description_audio"
            outs.append(
                _fresh(
                    old.get((role, "audio")),
                    Output(
                        "audio",
                        audio_url,
                        guess_mime(audio_url, "audio")
                        if "." in audio_url.split("?")[0].rsplit("/", 1)[-1]
                        else "audio/wav",
                        role=role,
                    ),
                )
            )
        text = payload.get("output")
        if text is not None:
            role = "main" if job.request.get("output") == "text" else "captions"
            outs.append(_text_output(text, job.request.get("format", "json"), role, old))
        return outs + keep

    def voices(self) -> list[dict[str, Any]]:
        """The narration voices: the only ids a request may name (others are refused)."""
        return [
            {"id": v, "name": v, "language": "multi", "default": v == "Achernar"} for v in VOICES
        ]


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _fresh(previous: Output | None, new: Output) -> Output:
    """A refreshed signed link keeps the file already downloaded."""
    if previous is not None and previous.path is not None and Path(previous.path).exists():
        previous.url = new.url
        return previous
    return new


def _text_output(text: Any, fmt: str, role: str, old: dict[tuple[str, str], Output]) -> Output:
    if isinstance(text, dict) and "content" in text:
        fmt = text.get("format", fmt)
        content = str(text["content"])
    else:
        fmt = "json"
        content = json.dumps(text, indent=2, ensure_ascii=False)
    mime = {
        "vtt": "text/vtt",
        "srt": "application/x-subrip",
        "edl": "text/plain",
        "json": "application/json",
    }.get(fmt, "text/plain")
    kind = "captions" if fmt in ("vtt", "srt") else "text"
    previous = old.get((role, kind))
    if previous is not None and previous.path is not None and Path(previous.path).exists():
        return previous
    out = Output(kind, None, mime, role=role, content=content)
    return out


def _local_source(video: Any) -> Path | None:
    if isinstance(video, Job):
        return Path(video.path) if video.path is not None and Path(video.path).exists() else None
    if isinstance(video, Output):
        return Path(video.path) if video.path is not None else None
    path = existing_file(video)
    return path.resolve() if path is not None else None


def _json_segments(text: str) -> list[dict[str, Any]]:
    """`segments` (or `items`) of a JSON description; entries without a time or text are
    skipped."""
    try:
        data = json.loads(text)
    except ValueError:
        return []
    items = data.get("segments") or data.get("items") or [] if isinstance(data, dict) else data
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            start, end = float(item["start"]), float(item["end"])
        except (KeyError, TypeError, ValueError):
            continue
        out.append({"start": start, "end": end, "text": str(item.get("text") or "")})
    return out


def parse_cues(text: str) -> list[dict[str, Any]]:
    """WebVTT or SRT cues → [{start, end, text}]."""
    cues = []
    blocks = text.replace("\r\n", "\n").split("\n\n")
    for block in blocks:
        lines = [ln for ln in block.strip().split("\n") if ln.strip()]
        for i, line in enumerate(lines):
            if "-->" in line:
                start, end = (p.strip().split(" ")[0] for p in line.split("-->"))
                cues.append(
                    {
                        "start": _seconds(start),
                        "end": _seconds(end),
                        "text": "\n".join(lines[i + 1 :]),
                    }
                )
                break
    return cues


def _seconds(stamp: str) -> float:
    stamp = stamp.replace(",", ".")
    parts = [float(p) for p in stamp.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    h, m, s = parts
    return h * 3600 + m * 60 + s


def language_names() -> Mapping[str, str]:
    return dict(LANGUAGES)
