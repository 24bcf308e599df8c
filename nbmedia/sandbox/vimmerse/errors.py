"""Vimmerse v2's one error shape, exactly ``{"message", "code"}``, for every error including
validation (422 ``VALIDATION_ERROR``, naming each broken field)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..kit import errors as kit
from .contract import DEFAULT_CODES, ERRORS, MESSAGES


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error body: exactly ``{"message", "code"}``."""
    body = {"message": message, "code": code or DEFAULT_CODES.get(status, "ERROR")}
    return kit.json_error(body, status, headers=headers, retry_after=retry_after)


class ApiError(kit.ApiError):
    """An error answer; its HTTP status comes from ``ERRORS``."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code, self.message = code, message or MESSAGES.get(code, code)
        super().__init__(self.message)

    def response(self) -> Response:
        return error(ERRORS[self.code], self.message, code=self.code)


class Invalid(kit.ApiError):
    """A 422 in v2's one error shape, ``{"message", "code": "VALIDATION_ERROR"}``: the message
    names each broken field (``quantity: Input should be …; loop: …``)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    def response(self) -> Response:
        message = "; ".join(
            f"{_where(e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
            for e in self.errors
        )
        return error(422, message, code="VALIDATION_ERROR")


def _where(loc: list[Any]) -> str:
    """A field's path in a message: ``media_items.0.url``; ``body`` for the body as a whole."""
    path = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query") else list(map(str, loc))
    if loc and loc[0] == "body" and path and path[0].isdigit():
        return "body"  # where in the text the JSON broke, not a field
    return ".".join(path) or "body"


def value_error(loc: list[Any], message: str, value: Any) -> Invalid:
    return Invalid(
        [{"type": "value_error", "loc": loc, "msg": f"Value error, {message}", "input": value}]
    )
