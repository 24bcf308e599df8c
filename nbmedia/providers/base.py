"""The small interface every provider implements; translation wire ⇄ Job stays in each module."""

from __future__ import annotations

import asyncio
import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from ..errors import UnknownStatus
from ..http import ApiClient, ParsedError, Secret, default_error_parser
from ..models import Job, JobStatus, Output
from ..validation import RequestModel, build


class Provider(ABC):
    """One generation API. Knows its wire format; does not know whether it talks to the sandbox."""

    name: ClassVar[str]
    title: ClassVar[str]
    default_base_url: ClassVar[str]
    sandbox_key: ClassVar[str]
    """A key the sandbox accepts; used instead of the user's key whenever the sandbox is the target."""
    requests: ClassVar[dict[str, type[RequestModel]]]
    """Job kind → its request model (the source of forms and validation)."""
    text_field: ClassVar[dict[str, str]]
    """Job kind → the field that holds the prompt or text."""
    statuses: ClassVar[dict[str, JobStatus]]
    """The provider's status strings → our lifecycle. Anything else is an UnknownStatus error."""
    capabilities: ClassVar[dict[str, str]]
    """Job kind → what it makes, in a few words (README and forms)."""

    def __init__(self, api: ApiClient, *, webhook_secret: Secret | None = None) -> None:
        self.api = api
        self.webhook_secret = webhook_secret

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.api.base_url}>"

    @staticmethod
    @abstractmethod
    def auth_headers(key: str) -> dict[str, str]:
        """The headers that carry the key."""

    @staticmethod
    def parse_error(response: httpx.Response, body: Any) -> ParsedError:
        return default_error_parser(response, body)

    # ---- requests -------------------------------------------------------------------------
    def make_request(self, kind: str, fields: Mapping[str, Any]) -> RequestModel:
        """Validates a request for `kind` before anything is sent."""
        if kind not in self.requests:
            from ..errors import ValidationError

            raise ValidationError(
                self.name, "kind", kind, f"{self.title} makes only {', '.join(self.requests)}"
            )
        return build(self.name, self.requests[kind], dict(fields))

    def status_of(self, value: str) -> JobStatus:
        try:
            return self.statuses[value]
        except KeyError:
            raise UnknownStatus(self.name, value) from None

    # ---- the lifecycle ------------------------------------------------------------------------
    @abstractmethod
    async def submit(self, job: Job, request: RequestModel) -> Job:
        """Creates the job at the provider and fills `job` from the answer."""

    @abstractmethod
    async def refresh(self, job: Job) -> Job:
        """Reads the job's current state into `job`."""

    async def refresh_many(self, jobs: list[Job]) -> list[Job]:
        """Refreshes several jobs; providers with a list endpoint do it in fewer calls."""
        await asyncio.gather(*(self.refresh(j) for j in jobs))
        return jobs

    async def list_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        """The provider's own list of jobs (raw payloads)."""
        raise NotImplementedError(f"{self.title} has no job list endpoint")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Verifies and parses a webhook into {'id', 'status', ...}; raises WebhookError."""
        raise NotImplementedError(f"{self.title} sends no webhooks")

    def voices(self) -> list[dict[str, Any]]:
        """The voices this provider offers (id, name, language, …); empty if none."""
        return []

    async def reconcile(self, job: Job) -> Job | None:
        """Finds a job whose create may have reached the server without an answer."""
        return None


def parse_time(value: Any) -> dt.datetime | None:
    """ISO-8601 (with Z) or unix seconds → aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def guess_mime(url: str, kind: str) -> str:
    """A MIME type from a URL's extension, falling back on the output kind."""
    path = url.split("?", 1)[0].lower()
    for ext, mime in MIME_BY_EXT.items():
        if path.endswith("." + ext):
            return mime
    return {"video": "video/mp4", "audio": "audio/mpeg", "image": "image/jpeg"}.get(
        kind, "application/octet-stream"
    )


MIME_BY_EXT = {
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
    "json": "application/json",
    "edl": "text/plain",
}
EXT_BY_MIME = {v: k for k, v in reversed(MIME_BY_EXT.items())}


__all__ = ["Output", "Provider", "guess_mime", "parse_time"]
