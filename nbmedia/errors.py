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
        super().__init__(f"{provider} {http_status} {code or 'error'}: {message}")


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
    """`job.wait(timeout=…)` ran out before the job finished; the job keeps running."""

    def __init__(self, job: Job, timeout: float) -> None:
        self.job = job
        self.timeout = timeout
        super().__init__(
            f"{job.provider} job {job.id} still {job.status.value} after {timeout:g} s"
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
