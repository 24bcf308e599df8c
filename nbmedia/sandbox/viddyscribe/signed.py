"""The signed-URL upload flow for large files: request an ``upload_url``, PUT the bytes to
it (no key, the signed ``Content-Type``), notify, and the verification that then runs on
the clock; ``get_upload_status`` follows it, and a completed upload gets a new, canonical id."""

from __future__ import annotations

import logging
import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..services.clock import Lifecycle, Timing
from .contract import FILENAME_MAX, UPLOAD_URL_TTL, VERIFY_SECONDS, Plan
from .errors import ApiError, invalid, shown
from .gate import plan_of
from .media import Media
from .uploads import Uploads

log = logging.getLogger("nbmedia.sandbox.viddyscribe")


class SignedUploads:
    """The signed flow over the media registry of ``uploads``."""

    def __init__(self, uploads: Uploads) -> None:
        self.uploads = uploads
        self.env = uploads.env
        self.signer = uploads.signer

    def request(self, team: str, inp: dict[str, Any]) -> Media:
        filename = inp.get("filename")
        content_type = inp.get("content_type")
        if not isinstance(filename, str) or not filename.strip():
            raise invalid("input.filename", "is required for a signed upload (e.g. video.mp4)")
        if len(filename) > FILENAME_MAX:
            raise invalid("input.filename", f"must be at most {FILENAME_MAX} characters")
        if not isinstance(content_type, str) or not content_type.strip():
            raise invalid("input.content_type", "is required for a signed upload (e.g. video/mp4)")
        content_type = content_type.strip()
        if not (content_type.startswith("video/") or content_type == "application/octet-stream"):
            raise invalid(
                "input.content_type",
                f"must be a video/* type (got {shown(content_type)})",
            )
        media = self.uploads.new_media(team, filename, content_type, signed=True)
        media.upload_expires = self.env.clock.now() + UPLOAD_URL_TTL
        self.uploads.add(media)
        return media

    async def receive_put(self, request: Request) -> Response:
        """The signed PUT of a large upload: checks its signature, stores the bytes."""
        media = self.uploads.media.get(request.path_params["media_id"])
        if media is None or not media.signed:
            raise ApiError("not_found", "No signed upload at this URL.")
        self.signer.check_put(media, request.query_params)
        sent_type = request.headers.get("content-type", "").split(";", 1)[0].strip()
        if sent_type != media.content_type:
            raise ApiError(
                "signature_mismatch",
                f"The upload URL was signed for Content-Type {media.content_type!r} "
                f"(got {sent_type or 'none'!r}).",
            )
        if media.verification is not None:
            raise invalid("upload_url", "the upload was already completed with notify")
        cap = plan_of(media.team).max_bytes
        size = 0
        part = media.path.with_name(f".{media.path.name}.part")
        with part.open("wb") as f:
            async for chunk in request.stream():
                if size + len(chunk) <= cap + 1:
                    f.write(chunk)
                size += len(chunk)
        part.replace(media.path)
        media.size = size
        media.put_content_type = sent_type
        return Response(status_code=200, headers={"ETag": f'"{secrets.token_hex(8)}"'})

    def notify(self, team: str, body: dict[str, Any]) -> Media:
        media = self._signed_media(team, body.get("media_id"), "media_id")
        self._check_gcs_path(media, body.get("gcs_path"), required=True)
        if media.verification is not None:
            return media  # notifying twice changes nothing
        if media.put_content_type is None or not media.path.is_file():
            raise ApiError(
                "upload_not_ready",
                "Nothing has been uploaded to upload_url yet: PUT the file, then notify.",
            )
        plan = plan_of(team)
        if media.size > plan.max_bytes:
            raise ApiError(
                "file_too_large", self.uploads.too_large_message(media.size, plan, direct=False)
            )
        media.verification = Lifecycle(self.env.clock, Timing(wait=0.0, run=VERIFY_SECONDS))
        self.env.render.submit(self._verify_signed, media, plan)
        return media

    def _verify_signed(self, media: Media, plan: Plan) -> None:
        assert media.verification is not None
        try:
            problem = self.uploads.verify(media, plan)
        except Exception as exc:
            log.exception("verifying %s failed", media.id)
            problem = ("upload_failed", f"Verification failed: {exc}")
        if problem is not None:
            media.verification.fail(*problem, scheduled=True)
            return
        canonical = str(uuid.uuid4())
        with self.uploads.lock:
            media.canonical_id = canonical
            self.uploads.media[canonical] = media
        media.verification.output_ready()

    def _signed_media(self, team: str, media_id: Any, where: str) -> Media:
        if not isinstance(media_id, str) or not media_id:
            raise invalid(where, "is required (the media_id of the upload)")
        media = self.uploads.media.get(media_id)
        if media is None or media.team != team:
            raise ApiError("media_not_found", f"Media {shown(media_id)} not found.")
        return media

    def _check_gcs_path(self, media: Media, gcs_path: Any, *, required: bool) -> None:
        if gcs_path is None and not required:
            return
        if not isinstance(gcs_path, str) or not gcs_path:
            raise invalid("gcs_path", "is required (the gcs_path returned with upload_url)")
        if gcs_path != media.gcs_path:
            raise invalid("gcs_path", f"does not belong to media {media.id}")

    def status(self, team: str, media_id: Any, gcs_path: Any) -> dict[str, Any]:
        media = self._signed_media(team, media_id, "media_id")
        self._check_gcs_path(media, gcs_path, required=False)
        status = media.upload_status
        body: dict[str, Any] = {
            "media_id": media_id,
            "gcs_path": media.gcs_path,
            "upload_status": status,
            "canonical_media_id": media.public_id if status == "completed" else None,
            "filename": media.filename,
            "content_type": media.content_type,
            "file_size_bytes": media.size or None,
            "duration_seconds": None,
            "frame_rate": None,
        }
        if status == "completed" and media.info:
            body["duration_seconds"] = round(media.info["duration"], 3)
            body["frame_rate"] = media.info["video"]["fps"]
        if status == "failed" and media.verification is not None:
            code, message = media.verification.snapshot().error or ("upload_failed", "")
            body["error_code"], body["error"] = code, message
        return body
