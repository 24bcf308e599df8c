"""Reading request bodies: JSON (an empty body is ``{}``), ``multipart/form-data`` with the
create's files, each size-limited (413), and the fingerprint idempotency compares."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request

from ..kit.bodies import MiB, TooLarge, read_limited
from .contract import IDEMPOTENCY_KEY, JSON_FORM_FIELDS, MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES
from .errors import ApiError, bad_request


@dataclass
class Upload:
    name: str
    filename: str
    content_type: str
    data: bytes

    def suffix(self, kind: str) -> str:
        """The stored file's suffix: the upload's own, its MIME type's, or the kind's first."""
        suffix = Path(self.filename).suffix.lower()
        if suffix in UPLOAD_SUFFIXES[kind]:
            return suffix
        guessed = mimetypes.guess_extension(self.content_type.split(";")[0].strip() or "")
        if guessed in UPLOAD_SUFFIXES[kind]:
            return guessed
        return UPLOAD_SUFFIXES[kind][0]


@dataclass
class Body:
    """A parsed create request: the JSON-like body, its uploads, and its fingerprint."""

    fields: Any
    uploads: dict[str, Upload]
    fingerprint: str


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413 past ``limit`` (read to the end either way)."""
    try:
        return await read_limited(request, limit)
    except TooLarge as exc:
        raise ApiError(413, f"request entity too large ({exc.size / MiB:.1f} MB)") from None


def parse_json(raw: bytes) -> Any:
    """The body's JSON (any JSON value: the validations word a non-object), ``{}`` if empty."""
    try:
        return json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Unexpected token in JSON: {exc}") from None


async def json_body(request: Request) -> Any:
    return parse_json(await read_body(request, MAX_UPLOAD_BYTES))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def parse_multipart(raw: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """Form fields and files of a ``multipart/form-data`` body (no dependency needed)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise bad_request("multipart body without a boundary")
    delimiter = b"--" + m[1].encode("latin-1")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in raw.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data[:-2] if data.endswith(b"\r\n") else data
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if not name:
            continue
        if filename is not None:
            if len(data) > MAX_UPLOAD_BYTES:
                raise ApiError(
                    413,
                    f"File too large: {name[1]} is {len(data) / MiB:.1f} MB; direct uploads are "
                    f"limited to {MAX_UPLOAD_BYTES // MiB} MB: pass a URL instead.",
                )
            files[name[1]] = Upload(
                name[1], filename[1], headers.get("content-type", ""), bytes(data)
            )
        else:
            fields[name[1]] = data.decode("utf-8", errors="replace")
    return fields, files


async def read_create_body(request: Request) -> Body:
    """A create body, JSON or multipart ("with files"), with its idempotency fingerprint
    (JSON compared after parsing; multipart by fields and file digests)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        raw = await read_body(request, 2 * MAX_UPLOAD_BYTES + MiB)
        form, files = parse_multipart(raw, content_type)
        unknown = [n for n in files if n not in ("video", "audio")]
        problems = [f"property {n} should not exist" for n in unknown]
        fields: dict[str, Any] = {}
        for key, value in form.items():
            if key in JSON_FORM_FIELDS:
                try:
                    fields[key] = json.loads(value)
                except ValueError:
                    problems.append(f"{key} must be a JSON string")
            else:
                fields[key] = value
        if problems:
            raise ApiError(400, problems)
        digests = {n: hashlib.sha256(u.data).hexdigest() for n, u in files.items()}
        fingerprint = _canonical({"fields": fields, "files": digests})
        return Body(fields, files, hashlib.sha256(fingerprint.encode()).hexdigest())
    parsed = parse_json(await read_body(request, MAX_UPLOAD_BYTES))
    fingerprint = hashlib.sha256(_canonical(parsed).encode()).hexdigest()
    return Body(parsed, {}, fingerprint)


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, or None; one header of 1-128 safe characters."""
    values = request.headers.getlist("idempotency-key")
    if not values:
        return None
    if len(values) > 1 or not IDEMPOTENCY_KEY.fullmatch(values[0]):
        raise ApiError(
            400,
            "Idempotency-Key must be one header of 1-128 characters from A-Z a-z 0-9 . _ ~ -",
            code="INVALID_IDEMPOTENCY_KEY",
        )
    return values[0]
