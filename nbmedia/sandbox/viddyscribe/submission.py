"""What a generation request asks for, from any of its three shapes: JSON ``{"input",
"generation_config"}``, the overview's flat ``{"media_id", "language", ...}``, or multipart
with ``input`` and ``generation_config`` as JSON strings beside ``file``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .bodies import Part, is_multipart, json_body, parse_multipart, read_body
from .catalog import INPUT_TYPES
from .contract import DIRECT_UPLOAD_MAX, JSON_BODY_MAX, MULTIPART_OVERHEAD
from .errors import invalid
from .validation import parse_config, parse_input


@dataclass
class Submission:
    input: dict[str, Any]
    """The checked ``input`` (its ``type`` one of ``INPUT_TYPES``)."""
    config: dict[str, Any]
    """The generation config with every default filled in."""
    file: Part | None
    """The multipart ``file``, if the request carried one."""


async def read_submission(request: Request, kind: str) -> Submission:
    """The request's input and config, checked (400 naming the first bad field)."""
    file_part: Part | None = None
    if is_multipart(request):
        raw = await read_body(request, DIRECT_UPLOAD_MAX + MULTIPART_OVERHEAD)
        parts = parse_multipart(raw, request.headers["content-type"])
        for name in parts:
            if name not in ("input", "file", "generation_config"):
                raise invalid(name, "is not a field of this request")
        file_part = parts.get("file")
        inp = json_body(parts["input"].data, "input") if "input" in parts else {"type": "file"}
        raw_config: Any = (
            json_body(parts["generation_config"].data, "generation_config")
            if "generation_config" in parts
            else None
        )
        config = parse_config(raw_config, kind)
    else:
        body = json_body(await read_body(request, JSON_BODY_MAX), "body")
        if "input" in body:
            for key in body:
                if key not in ("input", "generation_config"):
                    raise invalid(key, "is not a field of this request")
            inp = body["input"]
            config = parse_config(body.get("generation_config"), kind)
        elif "media_id" in body:  # the overview's flat quick example
            inp = {"type": "media_id", "media_id": body["media_id"]}
            flat = {k: v for k, v in body.items() if k != "media_id"}
            config = parse_config(flat, kind, prefix="")
        else:
            raise invalid("input", "is required (or the flat media_id form)")
    json_types = tuple(t for t in INPUT_TYPES if t != "file")
    inp = parse_input(inp, allowed=INPUT_TYPES if file_part else json_types)
    return Submission(inp, config, file_part)
