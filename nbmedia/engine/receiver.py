"""A webhook receiver in the kernel: `POST /<provider>` is verified and handed to the engine.

Webhooks make tracking nearly free (a signed one settles a job without a GET), but a notebook
has no web server. This is the smallest one that does the job, on the Studio's own event loop
(no thread, no framework, a protocol rather than streams): it answers each delivery as soon as
it is whole, on a connection the sender may reuse.
For the sandbox it listens on loopback; for real providers run it behind your own tunnel and
pass the tunnel's address as `public_url` (that is the URL the providers are given).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import NbmediaError, WebhookError

if TYPE_CHECKING:
    from .jobs import Engine

log = logging.getLogger("nbmedia.webhooks")

MAX_BODY = 1 << 20
"""The largest webhook body accepted (a job object is a few KB)."""
MAX_HEAD = 1 << 16
"""The largest request head accepted (a few headers)."""
READ_TIMEOUT = 10.0
HEADER_LINE = re.compile(r"^([^:\r\n]*):(.*)$", re.MULTILINE)
"""A head's `name: value` lines (a line with no colon is skipped)."""
REASONS = {204: "No Content", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error"}  # fmt: skip


@dataclass
class Counts:
    """What the receiver did, for the curious and for tests."""

    received: int = 0
    accepted: int = 0
    refused: list[str] = field(default_factory=list)
    """Why each refused delivery was refused (a bad signature, a replay, …)."""


class WebhookReceiver:
    """Listens on `host:port` (0: a free port) for `POST /<provider>`; see the module doc."""

    def __init__(self, engine: Engine, *, host: str = "127.0.0.1", port: int = 0,
                 public_url: str | None = None) -> None:  # fmt: skip
        self._engine = engine
        self.host = host
        self.port = port
        self._public = public_url.rstrip("/") if public_url else None
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.Transport] = set()
        """Connections open now (kept for the senders' next deliveries)."""
        self.counts = Counts()

    def __repr__(self) -> str:
        state = self.url if self._server is not None else "stopped"
        return f"<WebhookReceiver {state} received={self.counts.received}>"

    @property
    def url(self) -> str:
        """The address given to providers (`/<provider>` is appended per provider)."""
        return self._public or f"http://{self.host}:{self.port}"

    async def start(self) -> WebhookReceiver:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            server = self._server
            self.close()
            await server.wait_closed()  # at once: no kept connection is left for it to wait on

    def close(self) -> None:
        """Stops listening and closes the connections kept open (a delivery is handled within
        one callback, so none is cut half way through being applied)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in list(self._open):
            transport.close()

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> int:
        """The status for one whole request (the engine verifies and applies it)."""
        self.counts.received += 1
        if method != "POST":
            return 405
        provider = target.split("?", 1)[0].strip("/").split("/")[0]
        try:
            self._engine.webhook(provider, headers, body)
        except WebhookError as exc:
            self.counts.refused.append(str(exc))
            log.warning("webhook refused: %s", exc)
            return 401
        except NbmediaError as exc:  # no such provider
            self.counts.refused.append(str(exc))
            return 404
        except Exception:  # a bug must not take the receiver down: the safety net polls on
            log.exception("webhook for %s failed", provider)
            return 500
        self.counts.accepted += 1
        return 204


class _Connection(asyncio.Protocol):
    """One connection, parsed as its bytes come (no task or stream per delivery: a thousand
    webhooks cost a thousand callbacks). Kept open for the sender's next delivery (providers
    and the sandbox reuse connections) unless it asks to close; closed after READ_TIMEOUT
    quiet or on a malformed request."""

    def __init__(self, receiver: WebhookReceiver) -> None:
        self._receiver = receiver
        self._buf = bytearray()
        self._head: tuple[str, str, dict[str, str], int, bool] | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._since = 0.0
        """When the connection was opened or last answered (loop time): the quiet timer's
        start, moved without a new timer for each delivery."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._receiver._open.add(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while self._transport is not None and not self._transport.is_closing():
            if self._head is None:
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buf) > MAX_HEAD:
                        self._reply(413, close=True)
                    return
                try:
                    self._head = _parse_head(bytes(self._buf[:end]).decode("latin-1"))
                except ValueError:
                    self._reply(400, close=True)
                    return
                del self._buf[: end + 4]
                if self._head[3] > MAX_BODY:
                    self._reply(413, close=True)
                    return
            method, target, headers, length, close = self._head
            if len(self._buf) < length:
                return
            body = bytes(self._buf[:length])
            del self._buf[:length]
            self._head = None
            status = self._receiver.answer(method, target, headers, body)
            self._reply(status, close=close)

    def eof_received(self) -> bool:
        if self._buf or self._head is not None:
            self._reply(400, close=True)  # the request ended before it was whole
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._receiver._open.discard(self._transport)
        self._transport = None

    def _arm(self) -> None:
        """READ_TIMEOUT from now: one timer a connection, not one per delivery (a thousand
        deliveries would leave a thousand cancelled timers in the loop's heap)."""
        self._since = asyncio.get_running_loop().time()
        if self._timer is None:
            self._wait_quiet()

    def _wait_quiet(self) -> None:
        """The timer for READ_TIMEOUT after `_since`, told which `_since` it was set for."""
        since = self._since
        self._timer = asyncio.get_running_loop().call_at(since + READ_TIMEOUT, self._quiet, since)

    def _quiet(self, armed: float) -> None:
        self._timer = None
        if self._transport is not None and self._since > armed:  # answered since: wait on
            self._wait_quiet()
            return
        if self._buf or self._head is not None:
            self._reply(400, close=True)  # a request begun and never finished
        elif self._transport is not None:
            self._transport.close()

    def _reply(self, status: int, *, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(_reply_bytes(status, close))
        if close:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            transport.close()  # after what was written is sent
        else:
            self._arm()


@functools.lru_cache(maxsize=32)
def _reply_bytes(status: int, close: bool) -> bytes:
    """An empty answer's bytes (made once per status: a thousand deliveries, a few answers)."""
    keep = "close" if close else "keep-alive"
    return (
        f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\nContent-Length: 0\r\n"
        f"Connection: {keep}\r\n\r\n"
    ).encode()


def _parse_head(head: str) -> tuple[str, str, dict[str, str], int, bool]:
    """Method, target, headers, body length of a request head and whether the sender wants
    the connection closed after it (ValueError if it is not a request head)."""
    request, _, rest = head.partition("\r\n")
    method, target, version = request.split(" ", 2)
    headers = {name.strip(): value.strip() for name, value in HEADER_LINE.findall(rest)}
    named = {k.lower(): v for k, v in reversed(headers.items())}  # the first of a name wins
    length = int(named.get("content-length", 0))
    if length < 0:
        raise ValueError(f"Content-Length {length}")
    connection = named.get("connection", "").lower()
    close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    return method, target, headers, length, close
