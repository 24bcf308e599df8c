"""A webhook receiver in the kernel: `POST /<provider>` is verified and handed to the engine.

Webhooks make tracking nearly free (a signed one settles a job without a GET), but a notebook
has no web server. This is the smallest one that does the job, on the Studio's own event loop
(no thread, no framework): it reads one request per connection, answers at once and closes.
For the sandbox it listens on loopback; for real providers run it behind your own tunnel and
pass the tunnel's address as `public_url` (that is the URL the providers are given).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import NbmediaError, WebhookError

if TYPE_CHECKING:
    from .jobs import Engine

log = logging.getLogger("nbmedia.webhooks")

MAX_BODY = 1 << 20
"""The largest webhook body accepted (a job object is a few KB)."""
READ_TIMEOUT = 10.0
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
        self.counts = Counts()

    def __repr__(self) -> str:
        state = self.url if self._server is not None else "stopped"
        return f"<WebhookReceiver {state} received={self.counts.received}>"

    @property
    def url(self) -> str:
        """The address given to providers (`/<provider>` is appended per provider)."""
        return self._public or f"http://{self.host}:{self.port}"

    async def start(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def close(self) -> None:
        """Stops listening (sync; connections being served finish on their own)."""
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status = await asyncio.wait_for(self._answer(reader), READ_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, OSError):
            status = 400
        except asyncio.LimitOverrunError:
            status = 413
        try:
            reason = REASONS.get(status, "")
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .encode()
            )  # fmt: skip
            await writer.drain()
            writer.close()
        except OSError:
            pass

    async def _answer(self, reader: asyncio.StreamReader) -> int:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request, *lines = head.split("\r\n")
        method, target, _version = request.split(" ", 2)
        headers = {}
        for line in lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip()] = value.strip()
        length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), 0))
        if length > MAX_BODY:
            return 413
        body = await reader.readexactly(length)
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
