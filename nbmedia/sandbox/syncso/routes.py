"""sync.so's routes, relative to its base URL (as the SDK calls them, plus the aliases older
and newer docs name): each runs behind the key and rate gate (``kit.routing.gated``), and an
``ApiError`` becomes sync.so's NestJS error body."""

from __future__ import annotations

import asyncio
import shutil
from functools import partial

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..kit.env import Env
from ..kit.routing import GatedHandler, endpoint, gated
from .batch_file import parse_batch_file
from .batch_upload import read_batch_form
from .bodies import idempotency_key, json_body, read_create_body
from .contract import MODELS, NAME
from .errors import ApiError
from .estimate import estimate
from .generations import Generation
from .inputs import fetch_inputs, new_scratch
from .state import SyncSo
from .validation import validate


def build(env: Env) -> list[Route]:
    """The sync.so v2 routes, relative to the provider's base URL."""
    api = SyncSo(env)
    gens, assets, batches = api.generations, api.assets, api.batches
    env.audit.register(NAME, gens.audit_lookup)

    async def create(request: Request, key: str) -> Response:
        idem = idempotency_key(request)
        body = await read_create_body(request)
        if idem is not None:
            replay = api.idempotency.claim(key, idem, body.fingerprint)
            if replay is not None:
                env.audit.created(NAME, replay, key, "generate")  # counted as a replay
                return JSONResponse(
                    gens.json(gens.by_id(replay)),
                    status_code=201,
                    headers={"Idempotent-Replayed": "true"},
                )
        gen: Generation | None = None
        try:
            gen = await api.create(key, body)
        finally:
            if idem is not None:
                api.idempotency.settle(key, idem, body.fingerprint, gen.id if gen else None)
        return JSONResponse(gens.json(gen), status_code=201)

    async def get_generation(request: Request, key: str) -> Response:
        return JSONResponse(gens.json(gens.get(key, request.path_params["id"])))

    async def list_generations(request: Request, key: str) -> Response:
        return JSONResponse(gens.list_json(key, request))

    async def estimate_cost(request: Request, key: str) -> Response:
        spec = validate(await json_body(request))
        assets.resolve(key, spec)
        scratch = new_scratch(env)
        try:
            fetch = partial(fetch_inputs, env)
            result = await asyncio.to_thread(estimate, spec, scratch, fetch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return JSONResponse(result, status_code=201)

    async def models(request: Request, key: str) -> Response:
        return JSONResponse(
            [
                {
                    "id": model_id,
                    "name": model_id,
                    "type": info.type,
                    "version": info.version,
                    "description": info.description,
                }
                for model_id, info in MODELS.items()
            ]
        )

    async def create_upload(request: Request, key: str) -> Response:
        return JSONResponse(assets.presign(key, await json_body(request)), status_code=201)

    async def create_asset(request: Request, key: str) -> Response:
        body = await json_body(request)
        asset = await asyncio.to_thread(assets.register, key, body)
        return JSONResponse(asset.json(), status_code=201)

    async def list_assets(request: Request, key: str) -> Response:
        return JSONResponse(assets.list_json(key, request))

    async def get_asset(request: Request, key: str) -> Response:
        return JSONResponse(assets.get(key, request.path_params["id"]).json())

    async def delete_asset(request: Request, key: str) -> Response:
        return JSONResponse(assets.delete(key, request.path_params["id"]))

    async def create_batch(request: Request, key: str) -> Response:
        batches.check_allowed(key)
        form = await read_batch_form(request)
        rows = parse_batch_file(form.input.data, lambda spec: assets.resolve(key, spec))
        if form.dry_run:
            return JSONResponse({"status": "VALIDATED"}, status_code=201)
        batches.check_concurrency(key)
        prepared = []
        for request_id, spec in rows:
            scratch = new_scratch(env)
            unreachable = await asyncio.to_thread(fetch_inputs, env, spec, scratch)
            prepared.append((request_id, spec, scratch, unreachable))
        batch = batches.start(key, prepared, form.webhook_url)
        return JSONResponse(batches.json(batch, status="PENDING"), status_code=201)

    async def get_batch(request: Request, key: str) -> Response:
        return JSONResponse(batches.json(batches.get(key, request.path_params["id"])))

    async def list_batches(request: Request, key: str) -> Response:
        return JSONResponse(batches.list_json(key, request))

    async def batch_result(request: Request) -> Response:
        data = batches.results(request.path_params["id"])
        if data is None:
            raise ApiError(404, "No results for this batch (unknown, or not finished yet)")
        return Response(data, media_type="application/jsonl")

    def route(path: str, handler: GatedHandler[str], method: str, bucket: str = "other") -> Route:
        return Route(path, gated(api.gate.for_bucket(bucket), handler, ApiError), methods=[method])

    return [
        route("/v2/assets/upload", create_upload, "POST"),
        route("/v2/assets", create_asset, "POST"),
        route("/v2/assets", list_assets, "GET"),
        route("/v2/assets/{id}", get_asset, "GET"),
        route("/v2/assets/{id}", delete_asset, "DELETE"),
        Route("/uploads/{token}", assets.receive_upload, methods=["PUT"]),
        route("/v2/batch", create_batch, "POST", "create"),
        route("/v2/batch", list_batches, "GET"),
        route("/v2/batch/{id}", get_batch, "GET"),
        Route("/v2/batches/{id}/result", endpoint(batch_result, ApiError), methods=["GET"]),
        route("/v2/generate", create, "POST", "create"),
        route("/v2/generate/upload", create, "POST", "create"),
        route("/v2/generate", list_generations, "GET"),
        route("/v2/generations", list_generations, "GET"),
        route("/v2/analyze/cost", estimate_cost, "POST"),
        route("/v2/generate/estimate-cost", estimate_cost, "POST"),
        route("/v2/generations/estimate-cost", estimate_cost, "POST"),
        route("/v2/models", models, "GET"),
        route("/v2/generate/{id}", get_generation, "GET"),
    ]
