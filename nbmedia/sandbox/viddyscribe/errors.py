"""ViddyScribe's error body, ``{"code", "message"}`` plus ``retry_after`` on a 429 that
waiting helps, and the wording its messages share (field names, sizes, lengths)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ..kit import errors as kit
from ..kit.bodies import MiB
from .contract import DEFAULT_CODES, ERRORS


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """``{"code", "message"}``, plus ``retry_after`` and ``Retry-After`` when given."""
    body: dict[str, Any] = {"code": code or DEFAULT_CODES.get(status, "error"), "message": message}
    if retry_after is not None:
        retry_after = int(retry_after)
        body["retry_after"] = retry_after
    return kit.json_error(body, status, headers=headers, retry_after=retry_after)


class ApiError(kit.ApiError):
    """An error answer; its HTTP status comes from ``ERRORS``."""

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after

    def response(self) -> Response:
        return error(ERRORS[self.code], self.message, code=self.code, retry_after=self.retry_after)


def invalid(field_name: str, why: str) -> ApiError:
    """The 400 ``invalid_request`` whose message starts with the field it is about."""
    return ApiError("invalid_request", f"{field_name}: {why}")


def shown(value: Any) -> str:
    """A value for a message: strings quoted Python-style (``'fr-XX'``), anything else as
    JSON with its non-ASCII kept, cut at 60 characters. (The kit's ``shown`` quotes strings
    as JSON; ViddyScribe's messages have always used this form, so it stays.)"""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def mb(size: float) -> str:
    return f"{size / MiB:.1f} MB"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds < 3600 else f"{seconds / 3600:g} h"
