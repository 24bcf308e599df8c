"""Taking in a video that comes with a request (a multipart ``file`` or an ``input.url``):
stored in the uploads folder, then verified in a worker thread while the request waits."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from urllib.parse import urlsplit

from ..services.inputs import is_data_uri
from .bodies import Part
from .errors import invalid
from .media import Media
from .uploads import Uploads


async def ingest_part(uploads: Uploads, team: str, part: Part | None, name: str | None) -> Media:
    """The multipart ``file`` as a verified media, named ``name`` if given."""
    if part is None or part.filename is None:
        raise invalid("file", "is required: send the video as the multipart field 'file'")
    path = uploads.folder / f".direct-{secrets.token_hex(8)}"
    path.write_bytes(part.data)
    try:
        return await asyncio.to_thread(
            uploads.ingest,
            team,
            path,
            name or part.filename or "video.mp4",
            part.content_type or "application/octet-stream",
        )
    finally:
        path.unlink(missing_ok=True)


async def ingest_url(uploads: Uploads, team: str, inp: dict[str, Any]) -> Media:
    """``input.url`` fetched (a file this sandbox served, or a data: URI) and verified."""
    url = inp.get("url")

    def work() -> Media:
        got = uploads.fetch_url(team, url, "input.url", uploads.folder)
        name = inp.get("filename") or (
            urlsplit(url).path.rsplit("/", 1)[-1] if not is_data_uri(url) else "video.mp4"
        )
        try:
            return uploads.ingest(team, got, str(name) or "video.mp4", "video/mp4")
        finally:
            if got.parent == uploads.folder:
                got.unlink(missing_ok=True)

    return await asyncio.to_thread(work)
