"""Vimmerse's routes, relative to its base URL: each runs behind the ``X-Api-Key`` gate
(``kit.routing.gated``), and errors become v2's ``{"message", "code"}`` body."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..kit.env import Env
from ..kit.routing import gated
from .contract import NAME
from .state import Vimmerse
from .validation import select_fields


def build(env: Env) -> list[Route]:
    """The Vimmerse routes, relative to the provider's base URL."""
    api = Vimmerse(env)
    env.audit.register(NAME, api.audit_lookup)

    async def create(request: Request, key: str) -> Response:
        media = await api.create(key, await request.body())
        return JSONResponse(api.media_json(media))

    async def one(request: Request, key: str) -> Response:
        media_id = request.path_params["media_id"]
        if request.method == "PATCH":
            media = await api.update(key, media_id, await request.body())
            return JSONResponse(api.media_json(media))
        obj = api.media_json(api.get(key, media_id))
        return JSONResponse(select_fields(obj, request.query_params.get("fields")))

    return [
        Route("/v2/media", gated(api.authorize, create), methods=["POST"]),
        Route("/v2/media/{media_id}", gated(api.authorize, one), methods=["GET", "PATCH"]),
    ]
