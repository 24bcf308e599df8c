"""Media inputs given as a URL, a local file or an earlier job's output, in one shape."""

from __future__ import annotations

import base64
import mimetypes
import os
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..models import Job, Output


def input_url(provider: str, field: str, value: Any, kind: str | None = None) -> str:
    """An http(s) or data: URL for `value`: a URL, a local file (as a data URI), or a Job/Output.

    An earlier job's output is passed by its provider URL (the sandbox serves those too).
    """
    if isinstance(value, Job):
        out = value.output(kind) or value.output()
        if out is None or not out.url:
            raise ValidationError(provider, field, repr(value), "that job has no output yet")
        return out.url
    if isinstance(value, Output):
        if not value.url:
            raise ValidationError(provider, field, value.kind, "that output has no URL")
        return value.url
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if text.startswith(("http://", "https://", "data:")):
            return text
        path = existing_file(text)
        if path is not None:
            return data_uri(path)
        raise ValidationError(
            provider, field, text, "must be an http(s) URL, a data: URI or an existing file"
        )
    raise ValidationError(provider, field, value, "must be a URL, a file path or an earlier job")


def existing_file(value: Any) -> Path | None:
    """`value` as the path of an existing file, else None (also for text no path can be: too
    long for the file system, a NUL byte, a lone surrogate)."""
    if not isinstance(value, (str, os.PathLike)):
        return None
    try:
        path = Path(value)
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def data_uri(path: Path) -> str:
    """A base64 data URI with the file's MIME prefix (e.g. data:image/png;base64,...)."""
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def data_uri_size(uri: str) -> int:
    """Bytes encoded in a data URI (without decoding it)."""
    payload = uri.split(",", 1)[1] if "," in uri else ""
    return len(payload) * 3 // 4 - payload[-2:].count("=")


def data_uri_mime(uri: str) -> str | None:
    if not uri.startswith("data:"):
        return None
    return uri[5:].split(";", 1)[0].split(",", 1)[0] or None
