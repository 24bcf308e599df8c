"""ViddyScribe's Enterprise routes, relative to its base URL, and the signed upload's PUT;
an ``ApiError`` becomes ``{"code", "message"}`` (``kit.routing.endpoint``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..kit.bodies import MiB
from ..kit.env import Env
from ..kit.routing import Handler, endpoint
from ..services.clock import Stage
from .bodies import is_multipart, json_body, parse_multipart, read_body
from .contract import (
    API,
    DIRECT_UPLOAD_MAX,
    JOB_KINDS,
    JSON_BODY_MAX,
    MULTIPART_OVERHEAD,
    NAME,
    STATUS,
)
from .errors import invalid
from .gate import Submissions, authorize, check_allocation
from .ingest import ingest_part, ingest_url
from .jobs import Jobs
from .queue import TeamQueues
from .signed import SignedUploads
from .signing import Signer
from .submission import read_submission
from .uploads import Uploads
from .validation import parse_input


def build(env: Env) -> list[Route]:
    """The ViddyScribe Enterprise routes, relative to the provider's base URL."""
    signer = Signer(env)
    uploads = Uploads(env, signer)
    signed = SignedUploads(uploads)
    queues = TeamQueues(env)
    submissions = Submissions(env.faults)
    jobs = Jobs(env, queues, signer)
    env.files.guard = signer.check_download
    env.audit.register(NAME, jobs.audit_lookup)

    async def upload_media(request: Request) -> Response:
        team = authorize(request)
        with submissions.hold(team):
            if is_multipart(request):
                raw = await read_body(request, DIRECT_UPLOAD_MAX + MULTIPART_OVERHEAD)
                parts = parse_multipart(raw, request.headers["content-type"])
                inp: dict[str, Any] = {}
                if "input" in parts:
                    raw_input = json_body(parts["input"].data, "input")
                    inp = parse_input(raw_input, allowed=("file",))
                media = await ingest_part(uploads, team, parts.get("file"), inp.get("filename"))
                return JSONResponse(uploads.media_json(media))
            body = json_body(await read_body(request, JSON_BODY_MAX), "body")
            for key in body:
                if key != "input":
                    raise invalid(key, "is not a field of upload_media (send input)")
            if "input" not in body:
                raise invalid("input", "is required")
            kind = body["input"].get("type") if isinstance(body["input"], dict) else None
            if kind == "file":
                raise invalid("input.type", "file uploads are multipart/form-data with 'file'")
            inp = parse_input(body["input"], allowed=("url", "signed_url"))
            if inp["type"] == "signed_url":
                media = signed.request(team, inp)
                return JSONResponse(
                    {
                        "media_id": media.id,
                        "upload_url": signer.upload_url(media),
                        "gcs_path": media.gcs_path,
                        "status": "pending_upload",
                        "content_type": media.content_type,
                    }
                )
            media = await ingest_url(uploads, team, inp)
            return JSONResponse(uploads.media_json(media))

    async def notify(request: Request) -> Response:
        team = authorize(request)
        body = json_body(await read_body(request, MiB), "body")
        media = signed.notify(team, body)
        return JSONResponse(
            {
                "media_id": media.id,
                "gcs_path": media.gcs_path,
                "status": media.upload_status,
                "upload_status": media.upload_status,
            }
        )

    async def upload_status(request: Request) -> Response:
        team = authorize(request)
        q = request.query_params
        return JSONResponse(signed.status(team, q.get("media_id"), q.get("gcs_path")))

    def generate(kind: str) -> Handler:
        async def handler(request: Request) -> Response:
            team = authorize(request)
            check_allocation(team)
            with submissions.hold(team):
                asked = await read_submission(request, kind)
                inp = asked.input
                queues.check(team)
                if inp["type"] == "media_id":
                    media = uploads.ready_media(team, inp.get("media_id"), "input.media_id")
                elif inp["type"] == "url":
                    media = await ingest_url(uploads, team, inp)
                else:
                    media = await ingest_part(uploads, team, asked.file, inp.get("filename"))
                job = jobs.create(team, kind, media, asked.config, inp.get("filename"))
            return JSONResponse(
                {"job_id": job.id, "status": STATUS[Stage.WAITING], "media_id": media.public_id}
            )

        return handler

    async def get_results(request: Request) -> Response:
        team = authorize(request)
        job = jobs.get(team, request.query_params.get("job_id"))
        return JSONResponse(jobs.job_json(job))

    routes = [
        Route(f"{API}/upload_media", endpoint(upload_media), methods=["POST"]),
        Route(f"{API}/notify_upload_complete", endpoint(notify), methods=["POST"]),
        Route(f"{API}/get_upload_status", endpoint(upload_status), methods=["GET"]),
        Route(f"{API}/get_results", endpoint(get_results), methods=["GET"]),
        Route("/upload/{media_id}/{filename}", endpoint(signed.receive_put), methods=["PUT"]),
    ]
    for path, kind in JOB_KINDS.items():
        routes.append(Route(f"{API}/{path}", endpoint(generate(kind)), methods=["POST"]))
    return routes
