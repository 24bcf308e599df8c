"""The only module that touches httpx: auth, timeouts, retries, Retry-After, redaction, typed errors.

All retry and timeout policy lives here (defaults in `constants`), so every provider behaves the
same way on a flaky network. A job-creating POST is never blindly retried once it may have reached
the server: that would risk paying twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
import random
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import httpx

from . import constants as C
from .errors import MalformedResponse, ProviderError, TransportError, error_for_status
from .pacer import Pacer

log = logging.getLogger("nbmedia.http")


class Secret:
    """An API key whose repr, str and pickle never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise TypeError("a Secret needs a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """The key itself, for building a request header and nothing else."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


@dataclass
class ParsedError:
    """What a provider's error body says, in the provider's own words."""

    code: str | None
    message: str
    retry_after: float | None = None
    retryable: bool = True
    """False for a 429 that waiting will not cure (e.g. a plan limit)."""


ErrorParser = Callable[[httpx.Response, Any], ParsedError]
RetryListener = Callable[[str, float], None]


def default_error_parser(response: httpx.Response, body: Any) -> ParsedError:
    """Reads `{"code","message"}`, `{"error":{...}}` and FastAPI `{"detail":...}` bodies."""
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        code = inner.get("code")
        msg = inner.get("message") or inner.get("detail") or body.get("detail")
        if isinstance(msg, list):  # FastAPI 422: [{"loc": [...], "msg": ...}, ...]
            code = code or "validation_error"
            msg = "; ".join(_detail_line(d) for d in msg)
        ra = inner.get("retry_after") or inner.get("retry_after_seconds")
        return ParsedError(
            str(code) if code is not None else None,
            str(msg) if msg is not None else response.reason_phrase,
            float(ra) if isinstance(ra, (int, float)) else None,
        )
    text = response.text.strip() if isinstance(body, str) else ""
    return ParsedError(None, text[:300] or response.reason_phrase)


def _detail_line(detail: Any) -> str:
    if isinstance(detail, dict):
        loc = ".".join(str(p) for p in detail.get("loc", []) if p != "body")
        return f"{loc}: {detail.get('msg', '')}" if loc else str(detail.get("msg", detail))
    return str(detail)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter for retry number `attempt` (0-based)."""
    return random.uniform(0, min(C.BACKOFF_MAX, C.BACKOFF_BASE * (2**attempt)))


def poll_backoff(failures: int) -> float:
    """Delay before the next try of a job whose status check, search or download failed
    `failures` times in a row: grows from POLL_FIRST to minutes (POLL_ERROR_MAX), jittered."""
    span = min(C.POLL_ERROR_MAX, C.POLL_FIRST * (2 ** min(failures, 20)))
    return random.uniform(span / 2, span)


class Patience:
    """Waiting for a provider-side state (an upload being verified): growing pauses from
    POLL_FIRST up to PREPARE_STEP_MAX, until PREPARE_WAIT_MAX has passed."""

    def __init__(self, limit: float = C.PREPARE_WAIT_MAX) -> None:
        self.limit = limit
        self._deadline = time.monotonic() + limit
        self._delay = C.POLL_FIRST

    @property
    def over(self) -> bool:
        return time.monotonic() > self._deadline

    async def pause(self) -> None:
        await asyncio.sleep(self._delay)
        self._delay = min(C.PREPARE_STEP_MAX, self._delay * C.POLL_FACTOR)


_TLS_LOCK = threading.Lock()


@functools.cache
def _make_tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def tls_context() -> ssl.SSLContext:
    """The one TLS context of every API client of the process (httpx's defaults: certifi,
    or SSL_CERT_FILE / SSL_CERT_DIR). Loading the CA bundle takes tens of milliseconds: made
    by each provider's client as its first request left, it stalled the kernel's loop when a
    batch began."""
    with _TLS_LOCK:
        return _make_tls()


def warm_tls() -> None:
    """Makes the shared TLS context in a thread of its own, before a request needs it."""
    threading.Thread(target=tls_context, name="nbmedia-tls", daemon=True).start()


class ApiClient:
    """One provider's HTTP client: a base URL, an auth header builder and an error parser."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        secret: Secret | None,
        auth_headers: Callable[[str], dict[str, str]],
        error_parser: ErrorParser = default_error_parser,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = C.MAX_RETRIES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        reads: Pacer | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._auth_headers = auth_headers
        self._parse_error = error_parser
        self._transport = transport
        self.max_retries = max_retries
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.retry_listeners: list[RetryListener] = []
        self.reads = reads or Pacer()
        """Every GET of the API goes through it: a few in flight, within the plan's rate."""
        self.writes = Pacer(self.reads.in_flight, bucket=self.reads.bucket, write=True)
        """Creates, updates and uploads: as few in flight (a batch of a thousand creates must
        not queue a thousand requests in httpx's pool), within the same rate, before reads."""

    def __repr__(self) -> str:
        return f"<ApiClient {self.provider} {self.base_url}>"

    @property
    def client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                verify=tls_context() if self._transport is None else True,
                timeout=httpx.Timeout(C.READ_TIMEOUT, connect=C.CONNECT_TIMEOUT),
                follow_redirects=False,  # followed by `_send`, which guards the key
                headers={"User-Agent": "nbmedia/0.1"},
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def redact(self, text: str) -> str:
        """Removes the key from any text that is about to be shown (a server may echo it)."""
        if self._secret is not None:
            text = text.replace(self._secret.reveal(), "********")
        return text

    def _headers(self, extra: dict[str, str] | None, *, with_auth: bool = True) -> dict[str, str]:
        headers = {}
        if self._secret is not None and with_auth:
            headers.update(self._auth_headers(self._secret.reveal()))
        headers.update(extra or {})
        return headers

    def _same_host(self, url: str) -> bool:
        """The key is sent only to the API's own origin (scheme, host and port): never to a
        CDN, an upload bucket, or wherever a redirect points."""
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        with_auth: bool = True,
        stream: bool = False,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
        **body: Any,
    ) -> httpx.Response:
        """One exchange, following redirects here rather than in httpx (which strips only
        `Authorization`): each hop carries the key only if it is the API's own origin, and a
        redirect that would carry a request body to another origin is refused."""
        for _ in range(C.MAX_REDIRECTS + 1):
            request = self.client.build_request(
                method,
                url,
                headers=self._headers(headers, with_auth=with_auth and self._same_host(url)),
                timeout=timeout,
                **body,
            )
            response = await self.client.send(request, stream=stream)
            if not response.is_redirect:
                return response
            target = str(response.url.join(response.headers["location"]))
            await response.aclose()
            body.pop("params", None)  # the Location carries its own query
            if response.status_code in (301, 302, 303) and method not in ("GET", "HEAD"):
                method, body = "GET", {}
            elif any(v is not None for v in body.values()) and not self._same_host(target):
                raise ProviderError(
                    self.provider,
                    response.status_code,
                    "redirect_refused",
                    f"the API redirected a {method} with its body to another origin "
                    f"({urlsplit(target).netloc}); not followed",
                )
            url = target
        raise ProviderError(
            self.provider, 310, "too_many_redirects", f"more than {C.MAX_REDIRECTS} redirects"
        )

    def _notify(self, reason: str, delay: float) -> None:
        for listener in list(self.retry_listeners):
            try:
                listener(reason, delay)
            except Exception:
                log.exception("retry listener failed")

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        data: Any = None,
        files: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        creates_job: bool = False,
        idempotent_create: bool = False,
        with_auth: bool = True,
    ) -> httpx.Response:
        """Sends one API call with the retry policy; returns a 2xx response or raises.

        `with_auth=False` sends no key even to the API's own host (a presigned upload URL,
        which must not receive it).

        `creates_job` marks a POST that may bill: it is retried only when the request provably
        never reached the server (connection refused, or a 429 rejection), unless the provider
        deduplicates it (`idempotent_create`, e.g. an Idempotency-Key header).
        """
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        safe_to_repeat = not creates_job or idempotent_create
        attempt = 0
        reached = False  # an earlier attempt of this call may have been delivered
        pace = self.reads if method == "GET" else self.writes
        while True:
            try:
                async with pace:
                    response = await self._send(
                        method,
                        url,
                        headers=headers,
                        with_auth=with_auth,
                        json=json,
                        params=params,
                        data=data,
                        files=files,
                        content=content,
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                reason = f"cannot connect ({type(exc).__name__})"
                if attempt >= self.max_retries:
                    raise TransportError(
                        self.provider, self.redact(reason), may_have_reached_server=False
                    ) from None
                await self._pause(reason, backoff(attempt))
                attempt += 1
                continue
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__} during {method} {urlsplit(url).path}"
                reached = True
                if not safe_to_repeat or attempt >= self.max_retries:
                    raise TransportError(
                        self.provider, self.redact(reason), may_have_reached_server=True
                    ) from None
                await self._pause(reason, backoff(attempt))
                attempt += 1
                continue

            log.debug(
                "%s %s %s -> %s", self.provider, method, urlsplit(url).path, response.status_code
            )
            if response.is_success:
                return response
            error = self._error(response)
            if response.status_code == 429 and error.exc.retry_after is not None:
                # the limit is the key's, not this request's: every read waits it out
                self.reads.hold(min(error.exc.retry_after, C.RETRY_AFTER_MAX))
            retryable = (response.status_code == 429 and error.retry_after_ok) or (
                response.status_code >= 500 and safe_to_repeat
            )
            if creates_job:
                # a 5xx may come after the job was made; any answer after a delivered attempt
                # leaves the first one standing
                error.exc.may_have_reached_server = reached or response.status_code >= 500
            if not retryable or attempt >= self.max_retries:
                raise error.exc
            delay = error.exc.retry_after if error.exc.retry_after is not None else backoff(attempt)
            if delay > C.RETRY_AFTER_MAX:
                raise error.exc
            label = (
                "rate-limited" if response.status_code == 429 else f"HTTP {response.status_code}"
            )
            await self._pause(f"{label}, retrying in {delay:.0f} s", delay)
            attempt += 1

    def json(self, response: httpx.Response, shape: type = dict) -> Any:
        """The body of a 2xx answer as JSON of the expected `shape` (dict or list).

        An empty, truncated or non-JSON body, or JSON of another shape, raises MalformedResponse
        (a ProviderError carrying the first bytes), never a raw JSONDecodeError.
        """
        raw = response.content
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            detail = "an empty body" if not raw.strip() else "a body that is not valid JSON"
            raise MalformedResponse(
                self.provider, response.status_code, f"answered {detail}", self._head(raw)
            ) from None
        if not isinstance(body, shape):
            raise MalformedResponse(
                self.provider,
                response.status_code,
                f"answered JSON {type(body).__name__} where a {shape.__name__} was expected",
                self._head(raw),
            )
        return body

    def _head(self, raw: bytes) -> bytes:
        return self.redact(raw[:200].decode("utf-8", "replace")).encode()

    async def _pause(self, reason: str, delay: float) -> None:
        log.info("%s: %s", self.provider, reason)
        self._notify(reason, delay)
        await self._sleep(delay)

    def _error(self, response: httpx.Response) -> _Error:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        parsed = self._parse_error(response, body)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            retry_after = parsed.retry_after
        cls = error_for_status(response.status_code)
        exc = cls(
            self.provider,
            response.status_code,
            parsed.code,
            self.redact(parsed.message),
            retry_after=retry_after,
            body=body,
            retryable=parsed.retryable,
        )
        return _Error(exc, parsed.retryable)

    async def download(
        self, url: str, dest: Path | BinaryIO, *, with_auth: bool = False
    ) -> Download:
        """Streams a file into `dest` (the caller's temporary name, or a file it opened for
        writing, rewritten from its start on each attempt) and checks its length.

        A body shorter or longer than its Content-Length raises TransportError (and is retried
        here first). The key is sent only when asked and only to the API's own host: signed CDN
        links need none, and a key must not travel to another host. Disk errors (OSError) are
        the caller's to name.
        """
        timeout = httpx.Timeout(C.DOWNLOAD_READ_TIMEOUT, connect=C.CONNECT_TIMEOUT)
        attempt = 0
        while True:
            try:
                r = await self._send("GET", url, with_auth=with_auth, stream=True, timeout=timeout)
                async with contextlib.aclosing(r):
                    if not r.is_success:
                        await r.aread()
                        err = self._error(r)
                        if r.status_code < 500 or attempt >= self.max_retries:
                            raise err.exc
                        await self._pause(f"download HTTP {r.status_code}", backoff(attempt))
                        attempt += 1
                        continue
                    expected = _content_length(r)
                    size = 0
                    head = b""
                    with _writable(dest) as fh:
                        async for chunk in r.aiter_bytes(C.DOWNLOAD_CHUNK):
                            if len(head) < HEAD_BYTES:
                                head += chunk[: HEAD_BYTES - len(head)]
                            fh.write(chunk)
                            size += len(chunk)
                    if (
                        expected is not None
                        and size != expected
                        and not r.headers.get("content-encoding")
                    ):
                        raise httpx.ReadError(f"got {size} of {expected} bytes")
                    return Download(size, expected, r.headers.get("content-type"), head)
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise TransportError(
                        self.provider,
                        f"download failed ({type(exc).__name__}: {self.redact(str(exc))[:120]})",
                        may_have_reached_server=True,
                    ) from None
                await self._pause("download interrupted, retrying", backoff(attempt))
                attempt += 1


@dataclass
class Download:
    """What a download wrote: how many bytes, what the server announced, and its first bytes
    (for the caller's check of what the file is, without reading it again)."""

    size: int
    expected: int | None
    content_type: str | None
    head: bytes


HEAD_BYTES = 64


@contextlib.contextmanager
def _writable(dest: Path | BinaryIO) -> Iterator[BinaryIO]:
    """`dest` opened for writing (a path), or emptied (a file the caller keeps open)."""
    if isinstance(dest, Path):
        with dest.open("wb") as fh:
            yield fh
    else:
        dest.seek(0)
        dest.truncate()
        yield dest


def _content_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None


@dataclass
class _Error:
    exc: ProviderError
    retry_after_ok: bool


__all__ = [
    "ApiClient",
    "Download",
    "ErrorParser",
    "ParsedError",
    "ProviderError",
    "Secret",
    "backoff",
    "default_error_parser",
    "Patience",
    "poll_backoff",
    "parse_retry_after",
]
