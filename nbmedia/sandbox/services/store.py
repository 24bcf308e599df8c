"""Output files: kept in a temporary directory, served over plain HTTP like signed CDN links.

Downloads need no auth header (a real provider hands out pre-signed URLs), support ``GET`` with
``Content-Length`` and the right ``Content-Type`` (and ``Range``/``HEAD`` through Starlette's
``FileResponse``), and can be slowed down by the ``download_delay`` fault, cut short by
``truncated_download_rate`` or replaced by an HTML error page by ``html_download_rate``. A
provider whose links expire sets ``Files.guard``, which may refuse a download before it is served.
Every attempt (refusals included) is recorded in the sandbox's audit with the bytes really sent.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from .audit import Audit
from .faults import DropConnection, Faults

SLOW_CHUNK = 16 * 1024
"""Smaller chunks when ``download_delay`` is set, so a streaming client sees steady progress."""

MIME = {
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".vtt": "text/vtt",
    ".json": "application/json",
    ".edl": "text/plain",
    ".srt": "application/x-subrip",
}

FileGuard = Callable[[str, Request], "Response | None"]
"""``guard(name, request)``: ``None`` serves the file, a response refuses the download."""

DOWNLOAD_ERROR_PAGE = (
    b"<html><head><title>503 Service Unavailable</title></head>"
    b"<body><h1>503 Service Unavailable</h1><p>The CDN could not reach the origin "
    b"(sandbox fault).</p></body></html>"
)
"""What ``html_download_rate`` serves instead of a file (with status 200, as some CDNs do)."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")


class Store:
    """A temporary directory with one folder per provider, removed by ``close()``."""

    def __init__(self, faults: Faults, audit: Audit | None = None) -> None:
        self.faults = faults
        self.audit = audit if audit is not None else Audit()
        self._tmp = tempfile.TemporaryDirectory(prefix="nbmedia-sandbox-")
        self.root = Path(self._tmp.name)
        self._files: dict[str, Files] = {}

    def files(self, provider: str, base_url: str) -> Files:
        files = Files(self.root / provider, f"{base_url}/{provider}/files")
        self._files[provider] = files
        return files

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self._tmp.cleanup()

    def routes(self, provider: str) -> list[Route]:
        """Routes to mount at ``/<provider>/files``."""
        folder = self.root / provider

        async def serve(request: Request) -> Response:
            name = request.path_params["name"]
            path = folder / name
            audited = _Audited(self.audit, provider, name, request.method)
            if not _SAFE_NAME.match(name) or ".." in name or not path.is_file():
                return audited.wrap(JSONResponse({"message": "Not Found"}, status_code=404))
            audited.size = path.stat().st_size
            files = self._files.get(provider)
            if files is not None and files.guard is not None:
                refused = files.guard(name, request)
                if refused is not None:
                    return audited.wrap(refused)
            media_type = MIME.get(path.suffix.lower()) or (
                mimetypes.guess_type(name)[0] or "application/octet-stream"
            )
            fault = self.faults.download_fault() if request.method == "GET" else None
            audited.fault = fault
            if fault == "html":
                return audited.wrap(Response(DOWNLOAD_ERROR_PAGE, media_type="text/html"))
            if fault == "truncated":
                return audited.wrap(_Truncated(path, media_type))
            delay = float(self.faults.download_delay)
            if delay <= 0 or request.method == "HEAD":
                return audited.wrap(FileResponse(path, media_type=media_type))
            return audited.wrap(
                StreamingResponse(
                    _slow(path, delay),
                    media_type=media_type,
                    headers={"Content-Length": str(audited.size), "Accept-Ranges": "none"},
                )
            )

        return [Route("/{name}", serve, methods=["GET", "HEAD"])]


class Files:
    """One provider's folder of outputs and the URL each file is downloaded from."""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder = folder
        self.base = url
        self.guard: FileGuard | None = None
        """Set by a provider whose download links are signed or expire; off by default."""
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        if not _SAFE_NAME.match(name) or ".." in name:
            raise ValueError(f"unsafe file name {name!r}")
        return self.folder / name

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


class _Truncated(Response):
    """Announces the whole file, sends about half of it, then drops the connection."""

    def __init__(self, path: Path, media_type: str) -> None:
        self.path = path
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers({"Content-Length": str(path.stat().st_size), "Accept-Ranges": "none"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        data = self.path.read_bytes()
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send(
            {"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True}
        )
        raise DropConnection


class _Audited:
    """One download attempt: wraps the response that answers it, counting what is sent."""

    def __init__(self, audit: Audit, provider: str, name: str, method: str) -> None:
        self.audit = audit
        self.provider = provider
        self.name = name
        self.method = method
        self.size: int | None = None
        self.fault: str | None = None

    def wrap(self, response: Response) -> Response:
        return _Counted(response, self)


class _Counted(Response):
    """Sends ``inner`` and records, however it ends, the status and body bytes sent."""

    def __init__(self, inner: Response, attempt: _Audited) -> None:
        self.inner = inner
        self.attempt = attempt
        self.status_code = inner.status_code
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status: int | None = None
        sent = 0
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            a = self.attempt
            a.audit.served(
                provider=a.provider,
                name=a.name,
                method=a.method,
                status=status,
                bytes_sent=sent,
                size=a.size,
                complete=status == 200 and a.fault is None and sent == a.size,
                fault=a.fault,
            )

        async def counting(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
                if not message.get("more_body", False):
                    record()  # before the last bytes leave: a client that has them sees it
            await send(message)

        try:
            await self.inner(scope, receive, counting)
        finally:
            record()  # cut short (a fault, or the client went away)


async def _slow(path: Path, delay: float) -> AsyncIterator[bytes]:
    """Yield the file in chunks spread evenly over ``delay`` seconds."""
    size = max(1, path.stat().st_size)
    chunks = max(1, -(-size // SLOW_CHUNK))
    pause = delay / chunks
    with path.open("rb") as f:
        while data := f.read(SLOW_CHUNK):
            await asyncio.sleep(pause)
            yield data
