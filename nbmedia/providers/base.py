"""The small interface every provider implements; translation wire ⇄ Job stays in each module."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from enum import Enum
from typing import Any, ClassVar

import httpx

from .. import constants as C
from ..errors import NbmediaError, UnknownStatus, WebhookError
from ..http import ApiClient, ParsedError, Secret, default_error_parser
from ..models import EXT_BY_MIME, MIME_BY_EXT, Job, JobStatus, Output, merge_answer, private_copy
from ..validation import RequestModel, build


class Capability(str, Enum):
    """What a provider's API offers beyond submit and refresh; declared on its class."""

    LIST_REFRESH = "list_refresh"
    """Open jobs can be refreshed through a list endpoint (`sweep` in few calls)."""
    ESTIMATE = "estimate"
    """A cost estimate before anything is spent (`estimate`, `describe_estimate`)."""
    PATCH = "patch"
    """A job's media can be changed or regenerated (`check_update`, `regenerates`, `patch`)."""
    VAULT = "vault"
    """A store of past outputs (`vault`)."""
    SEGMENTS = "segments"
    """Timed segments of a finished job (`segments`)."""
    SIGNED_WEBHOOKS = "signed_webhooks"
    """Webhooks carry a signature, so a verified payload can settle a job without a GET."""
    FIND_CREATED = "find_created"
    """A job whose create answer was lost can be found (`find_created`)."""
    IDEMPOTENT_CREATE = "idempotent_create"
    """A create may be re-sent safely (the provider deduplicates it by a key)."""
    BATCH = "batch"
    """Many jobs can be created by one request (`submit_batch`, `batch_size` rows at a time);
    each row stays a job of its own, followed by `refresh`. A plan without it refuses the
    request (nothing is made) and the rows are then sent one by one."""


class Unsupported(NbmediaError):
    """The provider's API does not offer this (see `Provider.capabilities`)."""


class ReplayGuard:
    """Remembers signed webhook deliveries for the tolerance window, so one seen before (the
    same signature, or the same event of the same job) is refused as a replay."""

    def __init__(self, window: float = C.WEBHOOK_TOLERANCE) -> None:
        self.window = window
        self._seen: dict[str, float] = {}
        self._order: collections.deque[tuple[float, str]] = collections.deque()
        """The keys in the order they were seen, so the expired ones leave from the left."""

    def check(self, provider: str, *keys: str, now: float | None = None) -> None:
        """Raises WebhookError if any key was seen within the window; else remembers them."""
        moment = time.time() if now is None else now
        while self._order and moment - self._order[0][0] > self.window:
            seen, key = self._order.popleft()
            if self._seen.get(key) == seen:
                del self._seen[key]
        if any(k in self._seen and moment - self._seen[k] <= self.window for k in keys):
            raise WebhookError(f"{provider}: this webhook was delivered before: a replay")
        for key in keys:
            self._seen[key] = moment
            self._order.append((moment, key))


def check_fresh(provider: str, sent: float | None, now: float | None = None) -> None:
    """A signed delivery must be stamped within WEBHOOK_TOLERANCE of now."""
    moment = time.time() if now is None else now
    if sent is None:
        raise WebhookError(
            f"{provider}: the webhook carries no timestamp: cannot rule out a replay"
        )
    if abs(moment - sent) > C.WEBHOOK_TOLERANCE:
        raise WebhookError(
            f"{provider}: the webhook is stale (stamped {abs(moment - sent):.0f} s from now, "
            f"more than {C.WEBHOOK_TOLERANCE:.0f} s): possible replay"
        )


class Swept:
    """What one sweep read: a private copy of each job it had an answer for, and the errors
    of the jobs it could not read (by local id). The jobs swept are left as they are: the
    engine alone writes job state, from these copies."""

    def __init__(self) -> None:
        self._copies: dict[int, Job] = {}
        self.failed: dict[str, BaseException] = {}

    def copy(self, job: Job) -> Job:
        """The copy of `job` this sweep writes its answer into (made at its first answer)."""
        copy = self._copies.get(id(job))
        if copy is None:
            copy = self._copies[id(job)] = private_copy(job)
        return copy

    def answer(self, job: Job) -> Job | None:
        """The copy holding what was read for `job`; None when nothing was (or it failed)."""
        return self._copies.get(id(job))

    def read_ids(self) -> list[str]:
        """The local ids of the jobs it has news of: an answer, or an error."""
        return [c.local_id for c in self._copies.values()] + list(self.failed)

    def current(self, job: Job) -> Job:
        """`job` as this sweep has read it so far."""
        return self._copies.get(id(job), job)

    def fail(self, job: Job, exc: BaseException) -> None:
        self._copies.pop(id(job), None)
        self.failed[job.local_id] = exc

    def update(self, other: Swept) -> Swept:
        """Takes in what another sweep of other jobs read (a provider's GETs after its list)."""
        self._copies.update(other._copies)
        self.failed.update(other.failed)
        return self


class Provider(ABC):
    """One generation API. Knows its wire format; does not know whether it talks to the sandbox.

    Its facts are declared on the class; nothing outside its module names it or probes it.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    key_env: ClassVar[str]
    """The environment variable that holds the API key, e.g. MERCADREAM_API_KEY."""
    default_base_url: ClassVar[str]
    sandbox_key: ClassVar[str]
    """A key the sandbox accepts; used instead of the user's key whenever the sandbox is the target."""
    concurrency: ClassVar[int] = 2
    """Jobs the smallest documented plan may run at once (the default limit of a batch)."""
    rate_limit: ClassVar[float | None] = None
    """Requests per minute of the smallest documented plan (None: undocumented); status reads
    and creates together use at most RATE_SHARE of it, creates first."""
    sandbox_rate_limit: ClassVar[float | None] = None
    """The same for the plan the sandbox key is on."""
    webhook_field: ClassVar[str | None] = None
    """The request field that takes a webhook URL (None: the API sends no webhooks)."""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    """What the API offers beyond submit and refresh."""
    batch_size: ClassVar[tuple[int, int]] = (0, 0)
    """With BATCH: the fewest and the most rows one batch create takes."""
    media_fields: ClassVar[dict[str, tuple[str, bool, str]]] = {}
    """Request fields that take files: name → (accepted file types, several?, item kind);
    forms show an upload for them."""
    requests: ClassVar[dict[str, type[RequestModel]]]
    """Job kind → its request model (the source of forms and validation)."""
    text_field: ClassVar[dict[str, str]]
    """Job kind → the field that holds the prompt or text."""
    statuses: ClassVar[dict[str, JobStatus]]
    """The provider's status strings → our lifecycle. Anything else is an UnknownStatus error."""
    makes: ClassVar[dict[str, str]]
    """Job kind → what it makes, in a few words (README and forms)."""

    def __init__(self, api: ApiClient, *, webhook_secret: Secret | None = None) -> None:
        self.api = api
        self.webhook_secret = webhook_secret
        self.replays = ReplayGuard()
        """Signed deliveries seen within the tolerance window (replays are refused)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.api.base_url}>"

    @classmethod
    def has(cls, capability: Capability) -> bool:
        return capability in cls.capabilities

    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(f"{self.title} has no {what}")

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

    def label(self, kind: str, wire: Mapping[str, Any], fields: Mapping[str, Any]) -> str | None:
        """The text the job table shows for a request (its prompt or text by default)."""
        value = wire.get(self.text_field.get(kind, "prompt"))
        return None if value is None else str(value)

    def status_of(self, value: str) -> JobStatus:
        try:
            return self.statuses[value]
        except KeyError:
            raise UnknownStatus(self.name, value) from None

    # ---- the lifecycle ------------------------------------------------------------------------
    @abstractmethod
    async def submit(self, job: Job, request: RequestModel) -> Job:
        """Creates the job at the provider and fills `job` from the answer.

        `job.local_id` is stable for the job's life (an idempotency key where the API takes
        one). Errors: ProviderError (with `may_have_reached_server` set by the HTTP client when
        the job may exist anyway), MalformedResponse for an unreadable 2xx, TransportError."""

    @abstractmethod
    async def refresh(self, job: Job) -> Job:
        """Reads the job's current state into `job`."""

    async def sweep(self, jobs: list[Job], ended: Callable[[Job], None] | None = None) -> Swept:
        """Reads several jobs (a sweep) and leaves them as they are: each answer goes into a
        private copy (`Swept.copy`), made only for the jobs something was read for, so a
        sweep of a thousand jobs with ten answers makes ten copies. Providers with a list
        endpoint read in few calls. The errors of the jobs that could not be read are kept by
        local id; an error that concerns them all (a list call refused) is raised. `ended(copy)`
        is called as soon as a job is read as ended, before the rest of the sweep is done (its
        listeners learn it sooner). The API client's pacer keeps the reads within the plan."""
        swept = Swept()

        async def one(job: Job) -> None:
            copy = swept.copy(job)
            await self.refresh(copy)
            if ended is not None and copy.done:
                ended(copy)

        results = await asyncio.gather(*(one(j) for j in jobs), return_exceptions=True)
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                swept.fail(job, result)
        return swept

    async def refresh_many(self, jobs: list[Job]) -> dict[str, BaseException]:
        """`sweep`, with each answer written into its job; returns the errors by local id."""
        swept = await self.sweep(jobs)
        for job in jobs:
            copy = swept.answer(job)
            if copy is not None:
                merge_answer(copy, job)
        return swept.failed

    async def list_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        """The provider's own list of jobs (raw payloads)."""
        raise NotImplementedError(f"{self.title} has no job list endpoint")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Verifies and parses a webhook into {'id', 'status', ...}; raises WebhookError."""
        raise NotImplementedError(f"{self.title} sends no webhooks")

    def apply_event(self, job: Job, event: dict[str, Any]) -> Job | None:
        """Fills `job` from a verified webhook (`parse_webhook`'s answer) and returns it; None
        when the event cannot be trusted to say the job's state (an unsigned callback, which
        only asks for a re-read)."""
        return None

    def voices(self) -> list[dict[str, Any]]:
        """The voices this provider offers (id, name, language, …); empty if none."""
        return []

    async def find_created(self, job: Job, claimed: Collection[str]) -> Job | None:
        """Finds the provider's job for `job`, whose create may have reached the server without
        an answer; fills `job` from it and returns it, or None when the provider has none.

        Matches on the creation window (from `job.created_at`, a little before, to now) and
        the request's own fields (`job.request`), never on the prompt alone; ids in `claimed`
        belong to other ledger rows and are never taken. Only with FIND_CREATED."""
        raise self._unsupported("way to find a job whose create answer was lost")

    # ---- optional capabilities (each declared in `capabilities`) -----------------------------
    async def submit_batch(self, jobs: list[Job], requests: list[RequestModel]) -> None:
        """Creates `jobs` (one per request, `batch_size` bounds) in one request and fills each
        with an id `refresh` can follow. Errors as `submit`: a refusal made nothing (the rows
        may then be sent one by one); one with `may_have_reached_server` may have made them
        all. Only with BATCH."""
        raise self._unsupported("batch endpoint")

    async def estimate(self, request: RequestModel) -> list[dict[str, Any]]:
        raise self._unsupported("cost estimate endpoint")

    @staticmethod
    def describe_estimate(estimate: list[dict[str, Any]]) -> str:
        return str(estimate)

    async def vault(self) -> list[dict[str, Any]]:
        raise self._unsupported("vault")

    def segments(self, job: Job) -> list[dict[str, Any]]:
        raise self._unsupported("timed segments")

    def check_update(self, fields: Mapping[str, Any]) -> RequestModel:
        raise self._unsupported("way to update a job")

    def regenerates(self, update: RequestModel) -> bool:
        return False

    async def patch(self, job_id: str, update: RequestModel) -> dict[str, Any]:
        raise self._unsupported("way to update a job")

    def apply(self, job: Job, payload: dict[str, Any]) -> Job:
        """Copies a job object from the wire into `job`."""
        raise self._unsupported("job payload reader")


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


__all__ = [
    "EXT_BY_MIME",
    "MIME_BY_EXT",
    "Capability",
    "Output",
    "Provider",
    "Unsupported",
    "guess_mime",
    "parse_time",
]
