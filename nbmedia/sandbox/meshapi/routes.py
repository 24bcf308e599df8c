"""Mesh API's video routes, relative to its base URL; an ``ApiError`` becomes the Mesh error
envelope (``kit.routing.endpoint``)."""

from __future__ import annotations

import asyncio
import shutil

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..kit.env import Env
from ..kit.routing import endpoint
from .contract import NAME
from .errors import ok
from .state import MeshApi
from .validation import json_body, read_body, validate


def build(env: Env) -> list[Route]:
    """The Mesh API video routes, relative to the provider's base URL."""
    api = MeshApi(env)
    env.audit.register(NAME, api.audit_lookup)

    async def create(request: Request) -> Response:
        raw = await read_body(request)  # before the key: an oversized body is 413 whatever it
        key = api.authorize(request, creating=True)
        model_id, opts, items = validate(json_body(raw))
        scratch = api.new_scratch()
        try:
            unreachable = await asyncio.to_thread(api.fetch_media, key, items, scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        task = api.create(key, model_id, opts, items, scratch, unreachable)
        return ok({"id": task.id})

    async def get_task(request: Request) -> Response:
        key = api.authorize(request)
        return ok(api.sync(api.get(key, request.path_params["task_id"])))

    async def list_tasks(request: Request) -> Response:
        key = api.authorize(request)
        return ok(api.list_tasks(key, request))

    return [
        Route("/v1/video/generations", endpoint(create), methods=["POST"]),
        Route("/v1/video/generations", endpoint(list_tasks), methods=["GET"]),
        Route("/v1/video/generations/{task_id}", endpoint(get_task), methods=["GET"]),
    ]
