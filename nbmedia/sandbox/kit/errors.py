"""Error bodies: each API has its own envelope, but the plumbing around it is the same."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse, Response


class ApiError(Exception):
    """An error answer in a provider's own body: each provider's subclass knows its envelope.

    ``routing.endpoint`` turns one raised in a handler into ``response()``.
    """

    def response(self) -> Response:
        raise NotImplementedError


def default_codes(errors: Mapping[str, int]) -> dict[int, str]:
    """The first code listed per status, for errors that know only a status (faults, 404s)."""
    return {status: code for code, status in reversed(list(errors.items()))}


def json_error(
    body: Any,
    status: int,
    *,
    headers: Mapping[str, str] | None = None,
    retry_after: int | None = None,
    www_authenticate: str | None = None,
) -> Response:
    """A JSON error response; ``retry_after`` sets ``Retry-After``, and a 401 gets
    ``WWW-Authenticate`` when the API sends one (unless the caller's headers already do)."""
    out = dict(headers or {})
    if retry_after is not None:
        out["Retry-After"] = str(retry_after)
    if status == 401 and www_authenticate is not None:
        out.setdefault("WWW-Authenticate", www_authenticate)
    return JSONResponse(body, status_code=status, headers=out)
