"""Request bodies: read with a size limit, parsed as one JSON object."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

MiB = 1024 * 1024


class TooLarge(Exception):
    """The body is over the limit; ``size`` is how big it really was (it was read to the end,
    so the client sees the answer rather than a reset connection)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"body of {size} bytes is over the limit of {limit}")
        self.size, self.limit = size, limit


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, or ``TooLarge`` past `limit` bytes (read to the end either way)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise TooLarge(size, limit)
    return b"".join(chunks)


class NotAnObject(Exception):
    """The body is JSON, but not an object."""


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object. Raises ``ValueError`` (or ``UnicodeDecodeError``) for bytes
    that are not JSON, and ``NotAnObject`` for JSON that is not an object: each API words
    and shapes these errors its own way."""
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise NotAnObject(type(body).__name__)
    return body
