"""Mesh API's error envelope, ``{"error": {code, message, details, provider_error,
retry_after_seconds}, "request_id"}`` with the id in ``x-request-id``, and the 422 problems
gathered FastAPI-style so one answer names all of them."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import JSONResponse, Response

from ..kit import errors as kit
from .contract import STATUS_CODES


def request_id() -> str:
    return "req_" + secrets.token_hex(12)


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> Response:
    """The Mesh error envelope, with ``Retry-After`` mirrored in ``retry_after_seconds``."""
    rid = request_id()
    default = "internal_error" if status >= 500 else "http_error"
    body = {
        "error": {
            "code": code or STATUS_CODES.get(status, default),
            "message": message,
            "details": details or [],
            "provider_error": {},
            "retry_after_seconds": retry_after,
        },
        "request_id": rid,
    }
    return kit.json_error(
        body,
        status,
        headers={**(headers or {}), "x-request-id": rid},
        retry_after=retry_after,
        www_authenticate="Bearer",
    )


def ok(body: Any) -> Response:
    return JSONResponse(body, headers={"x-request-id": request_id()})


class ApiError(kit.ApiError):
    """An error answer; its code is the status's own unless given."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.details = status, message, code, details

    def response(self) -> Response:
        return error(self.status, self.message, code=self.code, details=self.details)


class Problems:
    """Field problems gathered so that one 422 names all of them, FastAPI style."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> None:
        self.items.append({"loc": list(loc), "msg": msg, "type": kind})

    def raise_if_any(self) -> None:
        if self.items:
            msgs = [p["msg"] for p in self.items]
            head = msgs[0] if len(msgs) == 1 else f"{len(msgs)} problems: " + "; ".join(msgs)
            raise ApiError(422, head, details=self.items)
