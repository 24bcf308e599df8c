"""What every sandbox provider's routes share: an error raised in a handler becomes that
provider's own error body (each provider's error type knows its envelope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError

Handler = Callable[[Request], Awaitable[Response]]
Caller = TypeVar("Caller")
GatedHandler = Callable[[Request, Caller], Awaitable[Response]]

Errors = type[Exception] | tuple[type[Exception], ...]


def endpoint(handler: Handler, errors: Errors = ApiError) -> Handler:
    """Runs `handler`; an exception of `errors` answers with its own `response()`."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except errors as exc:
            return exc.response()  # type: ignore[attr-defined]

    return run


def gated(
    gate: Callable[[Request], Caller],
    handler: GatedHandler[Caller],
    errors: Errors = ApiError,
) -> Handler:
    """Like ``endpoint``, with `gate` (auth, plan, rate) run first: its answer, the caller
    (a key, a key and plan…), is passed on to `handler`."""

    async def run(request: Request) -> Response:
        return await handler(request, gate(request))

    return endpoint(run, errors)
