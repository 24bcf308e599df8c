"""One exception tree for nbmedia, so a notebook can catch exactly what it cares about.

Every error raised by a provider call carries the provider's own code and message, never a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Job


class NbmediaError(Exception):
    """Base of every nbmedia error."""


class ValidationError(NbmediaError, ValueError):
    """A request breaks a documented rule; raised before anything is sent."""

    def __init__(self, provider: str, field: str, value: Any, rule: str) -> None:
        self.provider = provider
        self.field = field
        self.value = value
        self.rule = rule
        shown = repr(value)
        if len(shown) > 60:
            size = f" ({len(value)} characters)" if isinstance(value, str) else ""
            shown = shown[:40] + "…" + size
        super().__init__(f"{provider}: {field}={shown} is invalid: {rule}")


class TransportError(NbmediaError):
    """The provider could not be reached (connection refused, timeout, reset)."""

    def __init__(self, provider: str, message: str, *, may_have_reached_server: bool) -> None:
        self.provider = provider
        self.may_have_reached_server = may_have_reached_server
        super().__init__(f"{provider}: {message}")


class ProviderError(NbmediaError):
    """The provider answered with an error: its HTTP status, its own code and message."""

    def __init__(
        self,
        provider: str,
        http_status: int,
        code: str | None,
        message: str,
        *,
        retry_after: float | None = None,
        body: Any = None,
        retryable: bool = True,
    ) -> None:
        self.provider = provider
        self.http_status = http_status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.body = body
        self.retryable = retryable
        """False when waiting will not help (e.g. a 429 for an exhausted plan)."""
        self.may_have_reached_server = False
        """True when this answer came to a create that an earlier attempt may already have
        delivered (a retried idempotent create): the job may exist in spite of this error."""
        super().__init__(f"{provider} {http_status} {code or 'error'}: {message}")


class MalformedResponse(ProviderError):
    """A 2xx answer whose body is empty, truncated, not JSON or JSON of the wrong shape.

    Carries the first bytes of the body. After a create it means the job may exist: the engine
    reconciles it like a lost answer.
    """

    def __init__(self, provider: str, http_status: int, detail: str, head: bytes) -> None:
        shown = head[:HEAD_BYTES].decode("utf-8", "replace")
        super().__init__(
            provider,
            http_status,
            "malformed_response",
            f"{detail}; the body began {shown!r}" if head else f"{detail}; the body was empty",
            body=shown,
        )
        self.may_have_reached_server = True


HEAD_BYTES = 80
"""How much of a malformed body an error quotes."""


class DownloadError(NbmediaError):
    """A finished job's files could not be fetched, verified or saved; the engine keeps trying.

    `cause` names what went wrong and `remedy` what the user can do (free disk space, …).
    """

    def __init__(self, provider: str, message: str, *, remedy: str = "") -> None:
        self.provider = provider
        self.remedy = remedy
        super().__init__(f"{provider}: {message}" + (f": {remedy}" if remedy else ""))


class JobUnconfirmed(NbmediaError):
    """A create may have reached the provider but no answer confirmed it and it cannot be
    looked up: the job may exist (and be billed). `studio.attach(job, provider_id)` links it."""

    def __init__(self, job: Job) -> None:
        self.job = job
        super().__init__(
            f"{job.provider} job {job.local_id} is unconfirmed: the create may have reached "
            f"{job.provider} but its answer was lost and {job.provider} offers no way to look "
            "it up: check its dashboard, and if it is there, studio.attach(job, provider_id)"
        )


class AuthError(ProviderError):
    """401: the key is missing or not accepted."""


class PermissionDenied(ProviderError):
    """403: the key's plan does not allow this (e.g. a resolution above the plan)."""


class NotFound(ProviderError):
    """404: the job or resource does not exist for this key."""


class RateLimited(ProviderError):
    """429: too many requests or too many running jobs; `retry_after` says when to try again."""


class JobFailed(NbmediaError):
    """A job ended in failed, cancelled or expired; `job.error` holds the provider's code."""

    def __init__(self, job: Job) -> None:
        self.job = job
        err = job.error or {}
        code = err.get("code") or job.status.value
        msg = err.get("message") or ""
        super().__init__(f"{job.provider} job {job.id} {job.status.value}: {code} {msg}".rstrip())


class JobTimeout(NbmediaError, TimeoutError):
    """`job.wait(timeout=…)` ran out before the job finished; the job keeps running.

    `cause` is the last thing that held the job up (a failing poll, a download), if any."""

    def __init__(self, job: Job, timeout: float, cause: str | None = None) -> None:
        self.job = job
        self.timeout = timeout
        self.cause = cause
        why = f" (last: {cause})" if cause else ""
        super().__init__(
            f"{job.provider} job {job.id} still {job.status.value} after {timeout:g} s{why}"
        )


class UnknownStatus(NbmediaError):
    """The provider reported a status nbmedia does not know: never wait on it forever."""

    def __init__(self, provider: str, status: str) -> None:
        self.provider = provider
        self.status = status
        super().__init__(f"{provider} reported an unknown job status {status!r}")


class WebhookError(NbmediaError):
    """A webhook could not be trusted: bad or stale signature, or a body that is not a job event."""


def error_for_status(http_status: int) -> type[ProviderError]:
    """The ProviderError subclass for an HTTP status."""
    return {
        401: AuthError,
        403: PermissionDenied,
        404: NotFound,
        429: RateLimited,
    }.get(http_status, ProviderError)
