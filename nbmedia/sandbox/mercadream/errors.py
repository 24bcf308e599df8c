"""MercaDream's error body, ``{"code", "message"}`` (+ ``retry_after`` on 429, ``param`` on
400), and the exception a handler raises to answer with it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..kit import errors as kit
from .contract import DEFAULT_CODES, ERRORS


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The error body: ``{"code", "message"}`` (+ ``retry_after`` on 429, ``param`` on 400)."""
    body: dict[str, Any] = {"code": code or DEFAULT_CODES.get(status, "error"), "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    if retry_after is not None:
        body["retry_after"] = retry_after
    return kit.json_error(
        body,
        status,
        headers=headers,
        retry_after=retry_after,
        www_authenticate='Bearer realm="mercadream"',
    )


class ApiError(kit.ApiError):
    """An error answer: its HTTP status comes from ``ERRORS``."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = ERRORS[code], code, message
        self.retry_after, self.param = retry_after, param

    def response(self) -> Response:
        return error(
            self.status,
            self.message,
            code=self.code,
            retry_after=self.retry_after,
            param=self.param,
        )


def invalid(param: str, message: str) -> ApiError:
    return ApiError("invalid_request", message, param=param)
