"""What every sandbox provider's routes share: an error raised in a handler becomes that
provider's own error body (each provider's error type knows its envelope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler, errors: type[Exception] | tuple[type[Exception], ...]) -> Handler:
    """Runs `handler`; an exception of `errors` answers with its own `response()`."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except errors as exc:
            return exc.response()  # type: ignore[attr-defined]

    return run
