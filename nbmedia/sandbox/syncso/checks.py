"""Small checks the body, asset and batch validations share: URLs and repeatable queries."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from ..services.inputs import is_data_uri


def is_media_url(value: Any) -> bool:
    """An input's ``url``: http(s) with a host, or a ``data:`` URI."""
    if not isinstance(value, str):
        return False
    if is_data_uri(value):
        return "," in value
    return is_http_url(value)


def is_http_url(value: Any) -> bool:
    """A webhook URL: http(s) with a host."""
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def present(obj: dict[str, Any], name: str) -> bool:
    """Given and not ``null`` (``null`` means "not given" everywhere in this API)."""
    return obj.get(name) is not None


def query_list(request: Request, name: str) -> list[str]:
    """A query parameter given repeatedly and/or comma-separated."""
    return [
        v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()
    ]
