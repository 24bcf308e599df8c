"""sync.so's NestJS error body ``{"statusCode", "message", "error"}``, the exception a handler
raises to answer with it, the class-validator list of problems a 400 carries, and the failure
that ends a generation (not a request)."""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import Response

from ..kit import errors as kit
from .contract import REASONS


def error(
    status: int,
    message: str | list[str],
    *,
    code: str | None = None,
    error_code: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The NestJS error body. ``retry_after`` is ignored: sync.so documents no Retry-After.
    ``error_code`` is the newer docs' machine-readable ``errorCode`` (asset_not_found,
    concurrency_limit_reached, …); ``code`` is the idempotency guide's field."""
    body: dict[str, Any] = {
        "statusCode": status,
        "message": message,
        "error": REASONS.get(status, "Error"),
    }
    if code is not None:
        body["code"] = code
    if error_code is not None:
        body["errorCode"] = error_code
    return kit.json_error(body, status, headers=headers)


class ApiError(kit.ApiError):
    """An error answer: a string ``message``, or the list of a body validation's problems."""

    def __init__(
        self,
        status: int,
        message: str | list[str],
        *,
        code: str | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.status, self.message, self.code = status, message, code
        self.error_code = error_code

    @property
    def messages(self) -> list[str]:
        """The message as a list (a batch line prefixes each of them)."""
        return self.message if isinstance(self.message, list) else [self.message]

    def response(self) -> Response:
        return error(self.status, self.message, code=self.code, error_code=self.error_code)


def bad_request(*messages: str) -> ApiError:
    """A 400 listing ``messages`` (class-validator's shape)."""
    return ApiError(400, list(messages))


class GenerationFailure(Exception):
    """A generation ends FAILED (or REJECTED) with this ``error_code`` and ``error``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def is_number(value: Any) -> bool:
    """A finite JSON number (``True`` is not one)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


class Problems:
    """class-validator style messages gathered so one 400 lists every problem."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def unknown(self, obj: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for name in obj:
            if name not in allowed:
                self.add(f"property {where}{name} should not exist")

    def number(
        self, obj: dict[str, Any], name: str, where: str, bounds: tuple[float, float] | None
    ) -> None:
        value = obj.get(name)
        if value is None:
            return
        if not is_number(value):
            self.add(f"{where}{name} must be a number conforming to the specified constraints")
        elif bounds is not None and value < bounds[0]:
            self.add(f"{where}{name} must not be less than {bounds[0]:g}")
        elif bounds is not None and value > bounds[1]:
            self.add(f"{where}{name} must not be greater than {bounds[1]:g}")

    def one_of(self, obj: dict[str, Any], name: str, where: str, choices: tuple[str, ...]) -> None:
        value = obj.get(name)
        if value is not None and value not in choices:
            self.add(f"{where}{name} must be one of the following values: {', '.join(choices)}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ApiError(400, list(self.items))
