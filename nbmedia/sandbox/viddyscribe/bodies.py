"""Request bodies: read with a size limit (``kit.bodies``; over it is ViddyScribe's 403
``file_too_large``), JSON objects, and multipart/form-data parts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..kit.bodies import NotAnObject, TooLarge, json_object, read_limited
from .contract import DIRECT_UPLOAD_MAX
from .errors import ApiError, invalid, mb


@dataclass
class Part:
    name: str
    data: bytes
    filename: str | None
    content_type: str | None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 403 ``file_too_large`` past ``limit`` (read to the end either way)."""
    try:
        return await read_limited(request, limit)
    except TooLarge as exc:
        raise ApiError(
            "file_too_large",
            f"The request is {mb(exc.size)}: direct uploads are limited to "
            f"{mb(DIRECT_UPLOAD_MAX)}; use the signed upload flow for larger files.",
        ) from None


def json_body(raw: bytes, where: str) -> dict[str, Any]:
    """``raw`` as a JSON object, or the 400 naming ``where`` (the body, or a multipart part)."""
    try:
        return json_object(raw)
    except NotAnObject:
        raise invalid(where, "must be a JSON object") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(where, f"is not valid JSON ({exc})") from None


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


_DISPOSITION_PARAM = re.compile(r';\s*([\w*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def parse_multipart(body: bytes, content_type: str) -> dict[str, Part]:
    """multipart/form-data parts by field name (the first of each); no dependency needed."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise invalid("body", "multipart/form-data without a boundary")
    delimiter = b"--" + m[1].encode("latin-1")
    parts: dict[str, Part] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params = {
            k.lower(): (quoted if quoted is not None and quoted != "" else bare or "").strip()
            for k, quoted, bare in _DISPOSITION_PARAM.findall(
                headers.get("content-disposition", "")
            )
        }
        name = params.get("name")
        if name and name not in parts:
            parts[name] = Part(name, data, params.get("filename"), headers.get("content-type"))
    return parts
