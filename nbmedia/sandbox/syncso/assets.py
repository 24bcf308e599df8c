"""The asset library (SDK ``assets`` and the docs' Assets API): presigned uploads, registering
a URL (fetched and probed), reading, listing and deleting a key's assets, and resolving the
``assetId`` an input names."""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..kit.bodies import TooLarge, read_limited
from ..kit.env import Env
from ..kit.helpers import iso_ms
from ..kit.stamps import Stamps
from ..services.inputs import Unreachable
from .asset_requests import (
    check_asset_request,
    check_upload_request,
    list_query,
)
from .contract import ASSET_NEEDS, UPLOAD_URL_TTL
from .errors import ApiError, bad_request
from .inputs import fetch_url, new_scratch
from .spec import Spec


@dataclass
class Asset:
    """One file of a key's media library."""

    id: str
    key: str
    seq: int
    created_ms: int
    type: str
    url: str
    name: str
    size: int
    format: str
    input_type: str
    duration: float | None
    width: int | None
    height: int | None

    def json(self) -> dict[str, Any]:
        """The SDK's ``Asset`` (every key, ``null`` when unknown)."""
        return {
            "id": self.id,
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.created_ms),
            "name": self.name,
            "url": self.url,
            "size": self.size,
            "format": self.format,
            "type": self.type,
            "inputType": self.input_type,
            "durationSeconds": self.duration,
            "thumbnailUrl": None,
            "visibility": "USER",
            "width": self.width,
            "height": self.height,
            "projectId": None,
        }

    def sort_value(self, by: str) -> Any:
        return {
            "name": self.name.lower(),
            "date": self.seq,
            "duration": self.duration if self.duration is not None else -1.0,
            "size": self.size,
            "kind": self.type,
        }[by]


@dataclass
class PendingUpload:
    """A presigned upload URL handed out by ``POST /v2/assets/upload``."""

    key: str
    name: str
    """Where the bytes are stored (a file of the provider's folder)."""
    file_name: str
    """The ``fileName`` declared: the asset's name unless registered with another."""
    content_type: str
    size: int
    expires: float


class Assets:
    """Every asset of one sandbox, by id, and the presigned uploads not yet used."""

    def __init__(self, env: Env, stamps: Stamps) -> None:
        self.env = env
        self.stamps = stamps
        self._lock = threading.Lock()
        self._assets: dict[str, Asset] = {}
        self._uploads: dict[str, PendingUpload] = {}
        self._presigned_urls: dict[str, str] = {}
        """URL of a file PUT to a presigned upload → the fileName it was declared with."""

    def resolve(self, key: str, spec: Spec) -> None:
        """Point every ``assetId`` input at its asset's file: an id the key does not own is 404
        ``asset_not_found`` (as ``GET /v2/assets/{id}``), an asset of the wrong type a 400."""
        for item in spec.items:
            if item.asset_id is None:
                continue
            asset = self.get(key, item.asset_id)
            allowed = ASSET_NEEDS[item.type]
            if asset.type not in allowed:
                raise bad_request(
                    f"input.{item.index}.assetId names a{'n' if asset.type == 'AUDIO' else ''} "
                    f"{asset.type} asset; a {item.type} input takes {' or '.join(allowed)}"
                )
            item.url = asset.url

    def get(self, key: str, asset_id: str) -> Asset:
        with self._lock:
            asset = self._assets.get(asset_id)
        if asset is None or asset.key != key:
            raise ApiError(404, f"Asset with id {asset_id} not found", error_code="asset_not_found")
        return asset

    def presign(self, key: str, body: Any) -> dict[str, Any]:
        """A presigned upload: the URL to PUT to, and the ``url`` the file will have."""
        name, mime, size = check_upload_request(body)
        suffix = Path(name).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""
        stored = f"asset-{uuid.uuid4().hex[:16]}{suffix}"
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._uploads[token] = PendingUpload(
                key, stored, name, mime, size, time.time() + UPLOAD_URL_TTL
            )
        return {
            "uploadUrl": f"{self.env.base_url}/uploads/{token}",
            "url": self.env.files.url(stored),
            "expiresIn": UPLOAD_URL_TTL,
        }

    async def receive_upload(self, request: Request) -> Response:
        """The presigned PUT: no key; the Content-Type must be the one declared; at most the
        declared size (S3-style 403s for a bad or expired URL or a different Content-Type)."""
        with self._lock:
            pending = self._uploads.get(request.path_params["token"])
        if pending is None or pending.expires < time.time():
            return Response("AccessDenied: the upload URL is unknown or has expired", 403)
        if request.headers.get("content-type", "") != pending.content_type:
            return Response(
                "SignatureDoesNotMatch: the Content-Type must be the one given to "
                f"/v2/assets/upload ({pending.content_type})",
                403,
            )
        try:
            data = await read_limited(request, pending.size)
        except TooLarge:
            return Response(f"EntityTooLarge: more than the declared {pending.size} bytes", 400)
        self.env.files.path(pending.name).write_bytes(data)
        with self._lock:
            self._presigned_urls[self.env.files.url(pending.name)] = pending.file_name
        return Response(status_code=200)

    def register(self, key: str, body: Any) -> Asset:
        """``POST /v2/assets`` (blocking): the URL's file is fetched and probed; a ``data:`` URI
        or a file of another provider is copied into this one's files so the asset has a URL."""
        from ..services.media.probe import probe

        url, kind, name = check_asset_request(body)
        scratch = new_scratch(self.env)
        try:
            try:
                path = fetch_url(self.env, url, scratch)
            except Unreachable as exc:
                raise bad_request(f"url could not be verified: {exc.reason}") from None
            try:
                info = probe(path)
            except (ValueError, OSError):
                info = {"duration": None, "video": None, "audio": None}
            stream = info["audio"] if kind == "AUDIO" else info["video"]
            if stream is None:
                raise bad_request(f"url is not a readable {kind.lower()} file")
            if path.parent != self.env.files.folder:
                suffix = path.suffix or {"VIDEO": ".mp4", "AUDIO": ".wav"}.get(kind, ".png")
                stored = f"asset-{uuid.uuid4().hex[:16]}{suffix}"
                shutil.copyfile(path, self.env.files.path(stored))
                path, url = self.env.files.path(stored), self.env.files.url(stored)
            with self._lock:
                uploaded = self._presigned_urls.get(url)
            created, seq = self.stamps.next()
            video = info["video"] if kind != "AUDIO" else None
            asset = Asset(
                id=str(uuid.uuid4()),
                key=key,
                seq=seq,
                created_ms=created,
                type=kind,
                url=url,
                name=name or uploaded or path.name,
                size=path.stat().st_size,
                format=path.suffix.lstrip(".").lower(),
                input_type="UPLOAD" if uploaded is not None else "URL",
                duration=round(float(info["duration"]), 3)
                if info["duration"] and kind != "IMAGE"
                else None,
                width=video["width"] if video else None,
                height=video["height"] if video else None,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        with self._lock:
            self._assets[asset.id] = asset
        return asset

    def delete(self, key: str, asset_id: str) -> dict[str, str]:
        asset = self.get(key, asset_id)
        with self._lock:
            self._assets.pop(asset.id, None)
        return {"id": asset.id}

    def list_json(self, key: str, request: Request) -> dict[str, Any]:
        """Sorted by ``sortBy``, paged by an opaque ``nextCursor``, with ``totalCount``."""
        q = list_query(request)
        with self._lock:
            rows = [a for a in self._assets.values() if a.key == key]
        if q.project_id:
            rows = []  # no asset of the sandbox belongs to a project
        rows = [
            a for a in rows if (not q.types or a.type in q.types) and q.search in a.name.lower()
        ]
        rows.sort(key=lambda a: a.seq)
        rows.sort(key=lambda a: a.sort_value(q.sort_on), reverse=q.descending)
        page = rows[q.start : q.start + q.limit]
        more = q.start + q.limit < len(rows)
        return {
            "items": [a.json() for a in page],
            "nextCursor": f"o{q.start + q.limit}" if more else None,
            "totalCount": len(rows),
        }
