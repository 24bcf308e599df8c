"""MercaDream's routes, relative to its base URL: each runs behind the key, plan and rate gate
(``kit.routing.gated``), and an ``ApiError`` becomes MercaDream's error body."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..kit.env import Env
from ..kit.routing import GatedHandler, gated
from .contract import NAME, Plan
from .state import MercaDream
from .validation import json_body, query_before, query_limit, query_status

Caller = tuple[str, Plan]


def build(env: Env) -> list[Route]:
    """The MercaDream routes, relative to the provider's base URL."""
    api = MercaDream(env)
    env.audit.register(NAME, api.audit_lookup)

    def creator(kind: str) -> GatedHandler[Caller]:
        async def create(request: Request, caller: Caller) -> Response:
            key, plan = caller
            job = api.create(key, plan, kind, await json_body(request))
            return JSONResponse(api.job_json(job), status_code=201)

        return create

    async def get_job(request: Request, caller: Caller) -> Response:
        return JSONResponse(api.job_json(api.get(caller[0], request.path_params["job_id"])))

    async def list_jobs(request: Request, caller: Caller) -> Response:
        status = query_status(request)
        limit, before = query_limit(request), query_before(request)
        return JSONResponse(api.list_jobs(caller[0], status, limit, before))

    async def vault(request: Request, caller: Caller) -> Response:
        limit, before = query_limit(request), query_before(request)
        return JSONResponse(api.vault(caller[0], limit, before))

    def route(path: str, handler: GatedHandler[Caller], method: str) -> Route:
        return Route(path, gated(api.authorize, handler), methods=[method])

    return [
        route("/v2/generate", creator("video"), "POST"),
        route("/v2/speech", creator("speech"), "POST"),
        route("/v2/music", creator("music"), "POST"),
        route("/v2/jobs", list_jobs, "GET"),
        route("/v2/jobs/{job_id}", get_job, "GET"),
        route("/v2/vault", vault, "GET"),
    ]
