"""Validation of the asset library's requests: a presigned upload, a URL to register, and the
list's query."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..kit.helpers import is_int
from .checks import is_media_url, query_list
from .contract import (
    ASSET_FIELDS,
    ASSET_NAME_MAX,
    ASSET_PAGE,
    ASSET_PAGE_DEFAULT,
    ASSET_SORT_DEFAULT,
    ASSET_SORTS,
    ASSET_TYPES,
    ASSET_UPLOAD_MAX,
    MIME_TYPE,
    UPLOAD_FIELDS,
)
from .errors import ApiError, Problems, bad_request


def check_upload_request(body: Any) -> tuple[str, str, int]:
    """``POST /v2/assets/upload``: ``(fileName, contentType, size)``."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    problems = Problems()
    problems.unknown(body, UPLOAD_FIELDS, "")
    name, mime, size = body.get("fileName"), body.get("contentType"), body.get("size")
    if not (isinstance(name, str) and 0 < len(name) <= ASSET_NAME_MAX):
        problems.add(f"fileName must be a string of 1-{ASSET_NAME_MAX} characters")
    if not (isinstance(mime, str) and MIME_TYPE.fullmatch(mime)):
        problems.add("contentType must be a MIME type such as video/mp4")
    if not (is_int(size) and 1 <= size <= ASSET_UPLOAD_MAX):
        problems.add(f"size must be an integer from 1 to {ASSET_UPLOAD_MAX} (5 GB)")
    problems.raise_if_any()
    return name, mime, size


def check_asset_request(body: Any) -> tuple[str, str, str | None]:
    """``POST /v2/assets``: ``(url, type, name)``; a ``projectId`` is 422 (no projects here)."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    problems = Problems()
    problems.unknown(body, ASSET_FIELDS, "")
    url, kind, name = body.get("url"), body.get("type"), body.get("name")
    if url is None:
        problems.add("url should not be empty")
    elif not is_media_url(url):
        problems.add("url must be a URL address (http, https or a data: URI)")
    if kind is None:
        problems.add("type should not be empty")
    problems.one_of(body, "type", "", ASSET_TYPES)
    if name is not None and not (isinstance(name, str) and 0 < len(name) <= ASSET_NAME_MAX):
        problems.add(f"name must be a string of 1-{ASSET_NAME_MAX} characters")
    problems.raise_if_any()
    if body.get("projectId") is not None:
        raise ApiError(
            422,
            f"Project {body['projectId']} not found in your organization (the sandbox has no "
            "projects).",
            error_code="project_not_found",
        )
    return url, kind, name


@dataclass(frozen=True)
class ListQuery:
    """``GET /v2/assets``'s query, checked."""

    types: list[str]
    sort: str
    limit: int
    start: int
    search: str
    project_id: str | None

    @property
    def sort_on(self) -> str:
        return ASSET_SORTS[self.sort]

    @property
    def descending(self) -> bool:
        return self.sort.endswith("Desc")


def list_query(request: Request) -> ListQuery:
    """The list's filters, sort and page, or one 400 listing every bad value."""
    q = request.query_params
    problems = Problems()
    types = query_list(request, "types")
    if any(t not in ASSET_TYPES for t in types):
        problems.add(
            f"each value in types must be one of the following values: {', '.join(ASSET_TYPES)}"
        )
    sort = q.get("sortBy", ASSET_SORT_DEFAULT)
    if sort not in ASSET_SORTS:
        problems.add(f"sortBy must be one of the following values: {', '.join(ASSET_SORTS)}")
    limit = ASSET_PAGE_DEFAULT
    if q.get("limit") is not None:
        raw = q["limit"]
        if not (raw.isdigit() and ASSET_PAGE[0] <= int(raw) <= ASSET_PAGE[1]):
            problems.add(f"limit must be an integer from {ASSET_PAGE[0]} to {ASSET_PAGE[1]}")
        else:
            limit = int(raw)
    start = 0
    cursor = q.get("cursor")
    if cursor is not None:
        if not re.fullmatch(r"o[0-9]{1,9}", cursor):
            problems.add("cursor is not a cursor this API returned")
        else:
            start = int(cursor[1:])
    problems.raise_if_any()
    search = (q.get("searchQuery") or "").lower()
    return ListQuery(types, sort, limit, start, search, q.get("projectId"))
