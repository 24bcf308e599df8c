"""Output files: kept in a temporary directory, served over plain HTTP like signed CDN links.

Downloads need no auth header (a real provider hands out pre-signed URLs), support ``GET`` with
``Content-Length`` and the right ``Content-Type`` (and ``Range``/``HEAD`` through Starlette's
``FileResponse``), and can be slowed down by the ``download_delay`` fault. A provider whose links
expire sets ``Files.guard``, which may refuse a download before it is served.
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

from .faults import Faults

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

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")


class Store:
    """A temporary directory with one folder per provider, removed by ``close()``."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
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
            if not _SAFE_NAME.match(name) or ".." in name or not path.is_file():
                return JSONResponse({"message": "Not Found"}, status_code=404)
            files = self._files.get(provider)
            if files is not None and files.guard is not None:
                refused = files.guard(name, request)
                if refused is not None:
                    return refused
            media_type = MIME.get(path.suffix.lower()) or (
                mimetypes.guess_type(name)[0] or "application/octet-stream"
            )
            delay = float(self.faults.download_delay)
            if delay <= 0 or request.method == "HEAD":
                return FileResponse(path, media_type=media_type)
            size = path.stat().st_size
            return StreamingResponse(
                _slow(path, delay),
                media_type=media_type,
                headers={"Content-Length": str(size), "Accept-Ranges": "none"},
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


async def _slow(path: Path, delay: float) -> AsyncIterator[bytes]:
    """Yield the file in chunks spread evenly over ``delay`` seconds."""
    size = max(1, path.stat().st_size)
    chunks = max(1, -(-size // SLOW_CHUNK))
    pause = delay / chunks
    with path.open("rb") as f:
        while data := f.read(SLOW_CHUNK):
            await asyncio.sleep(pause)
            yield data
