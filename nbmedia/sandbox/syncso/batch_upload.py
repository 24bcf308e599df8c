"""``POST /v2/batch``: the multipart form (``input`` file, ``webhook_url``, ``dry_run``),
checked before the file's lines."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ..kit.bodies import MiB
from .bodies import Upload, parse_multipart, read_body
from .checks import is_http_url
from .contract import BATCH_FILE_MAX, BATCH_FORM_FIELDS
from .errors import ApiError, bad_request


@dataclass(frozen=True)
class BatchForm:
    input: Upload
    webhook_url: str | None
    dry_run: bool


async def read_batch_form(request: Request) -> BatchForm:
    """The form, or one 400 listing every problem with it."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise bad_request("the body must be multipart/form-data with an input file")
    raw = await read_body(request, BATCH_FILE_MAX + MiB)
    form, files = parse_multipart(raw, content_type)
    problems = [
        f"property {n} should not exist"
        for n in [*form, *files]
        if n not in (*BATCH_FORM_FIELDS, "input")
    ]
    if "input" not in files:
        problems.append("input should not be empty: send the JSON Lines file as input")
    dry = form.get("dry_run", "false").strip().lower()
    if dry not in ("true", "false"):
        problems.append("dry_run must be a boolean value")
    webhook = form.get("webhook_url") or None
    if webhook is not None and not is_http_url(webhook):
        problems.append("webhook_url must be a URL address")
    if problems:
        raise ApiError(400, problems)
    return BatchForm(files["input"], webhook, dry == "true")
