"""Media registry and the uploads verified while the request waits: direct (multipart or a
data: URI) and URL uploads, probed now; and the check that a media may be used by a job."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..kit.env import Env
from ..services.inputs import Unreachable, data_uri_size, fetch, is_data_uri
from .contract import DIRECT_UPLOAD_MAX, UPLOAD_PENDING, Plan
from .errors import ApiError, invalid, mb, minutes, shown
from .gate import plan_of
from .media import Media, safe_filename
from .signing import Signer


class Uploads:
    """Every media of one sandbox by id (a verified signed upload under both its ids)."""

    def __init__(self, env: Env, signer: Signer) -> None:
        self.env = env
        self.signer = signer
        self.lock = threading.Lock()
        self.media: dict[str, Media] = {}
        self._sandbox_url = env.base_url.rsplit("/", 1)[0]
        self.folder = env.files.folder / ".uploads"
        """Where uploads and request scratch files live (never served: a dot folder)."""
        self.folder.mkdir(parents=True, exist_ok=True)

    def add(self, media: Media, media_id: str | None = None) -> None:
        with self.lock:
            self.media[media_id or media.id] = media

    def _gcs_path(self, team: str, media_id: str, filename: str) -> str:
        team_hash = hashlib.sha256(team.encode()).hexdigest()[:12]
        return f"teams/{team_hash}/videos/{media_id}/{filename}"

    def new_media(self, team: str, filename: str, content_type: str, *, signed: bool) -> Media:
        media_id = str(uuid.uuid4())
        filename = safe_filename(filename)
        suffix = Path(filename).suffix.lower()[:8] or ".mp4"
        return Media(
            id=media_id,
            team=team,
            filename=filename,
            content_type=content_type,
            path=self.folder / f"{media_id}{suffix}",
            signed=signed,
            gcs_path=self._gcs_path(team, media_id, filename),
            created=time.time(),
        )

    def ingest(self, team: str, source: Path, filename: str, content_type: str) -> Media:
        """A direct or URL upload, verified now (blocking): a ready media or the error."""
        plan = plan_of(team)
        size = source.stat().st_size
        if size > min(plan.max_bytes, DIRECT_UPLOAD_MAX):
            raise ApiError("file_too_large", self.too_large_message(size, plan, direct=True))
        media = self.new_media(team, filename, content_type, signed=False)
        if source.parent == self.folder:
            source.rename(media.path)
        else:
            shutil.copyfile(source, media.path)
        media.size = size
        problem = self.verify(media, plan)
        if problem is not None:
            media.path.unlink(missing_ok=True)
            raise ApiError(*problem)
        self.add(media)
        return media

    def too_large_message(self, size: int, plan: Plan, *, direct: bool) -> str:
        if direct and plan.max_bytes > DIRECT_UPLOAD_MAX:
            return (
                f"The file is {mb(size)}: direct uploads are limited to "
                f"{mb(DIRECT_UPLOAD_MAX)}; use the signed upload flow for larger files."
            )
        return (
            f"The file is {mb(size)}: the {plan.name} plan allows files up to {mb(plan.max_bytes)}."
        )

    def verify(self, media: Media, plan: Plan) -> tuple[str, str] | None:
        """Probe the stored bytes: None if usable, else (code, message)."""
        from ..services.media.probe import probe

        try:
            info = probe(media.path)
        except ValueError:
            return "no_video_stream", "The uploaded file is not a media file that can be decoded."
        if info["video"] is None or not info["video"]["width"]:
            return (
                "no_video_stream",
                "The uploaded file contains audio only or otherwise has no video stream. "
                "Upload a file with at least one video stream.",
            )
        if not info["duration"] or info["duration"] <= 0:
            return "no_video_stream", "The uploaded video has no frames."
        if info["duration"] > plan.max_seconds:
            return (
                "video_too_long",
                f"The video lasts {info['duration'] / 60:.1f} min: the {plan.name} plan allows "
                f"videos up to {minutes(plan.max_seconds)}.",
            )
        media.info = info
        return None

    def fetch_url(self, team: str, url: Any, where: str, scratch: Path) -> Path:
        """A local file for a URL input (blocking), or the 400/403 that refuses it."""
        if not isinstance(url, str) or not url:
            raise invalid(where, "must be a non-empty URL string")
        if not (is_data_uri(url) or url.startswith(("http://", "https://"))):
            raise invalid(where, f"must be an http(s) URL or a base64 data: URI (got {shown(url)})")
        if is_data_uri(url) and data_uri_size(url) > DIRECT_UPLOAD_MAX:
            size = data_uri_size(url)
            raise ApiError(
                "file_too_large", self.too_large_message(size, plan_of(team), direct=True)
            )
        own = self._own_file(url)
        if own is not None:
            refused = self.signer.check_signature(own, urlsplit(url).query)
            if refused is not None:
                raise invalid(where, f"the signed URL cannot be used: {refused[1]}")
        try:
            return fetch(
                url,
                sandbox_url=self._sandbox_url,
                store_root=self.env.files.folder.parent,
                scratch=scratch,
            )
        except Unreachable as exc:
            raise invalid(where, f"the video could not be downloaded: {exc.reason}") from None

    def _own_file(self, url: str) -> str | None:
        prefix = self.env.files.base + "/"
        if not url.startswith(prefix):
            return None
        return url[len(prefix) :].split("?", 1)[0]

    def media_json(self, media: Media) -> dict[str, Any]:
        assert media.info is not None
        video = media.info["video"]
        return {
            "media_id": media.public_id,
            "status": "created",
            "duration_seconds": round(media.info["duration"], 3),
            "frame_rate": video["fps"],
            "width": video["width"],
            "height": video["height"],
            "file_size_bytes": media.size,
            "filename": media.filename,
            "content_type": media.content_type,
        }

    def ready_media(self, team: str, media_id: Any, where: str) -> Media:
        """A media that generation may use, or 404/409."""
        if not isinstance(media_id, str) or not media_id:
            raise invalid(where, "is required")
        media = self.media.get(media_id)
        if media is None or media.team != team:
            raise ApiError("media_not_found", f"Media {shown(media_id)} not found.")
        status = media.upload_status
        if status in (UPLOAD_PENDING, "processing"):
            raise ApiError(
                "upload_not_ready",
                f"Media {media_id} is still being verified (upload_status {status}); "
                "retry shortly.",
            )
        if status == "failed":
            reason = ""
            if media.verification is not None and media.verification.snapshot().error:
                reason = " (" + media.verification.snapshot().error[1] + ")"  # type: ignore[index]
            raise ApiError(
                "upload_failed",
                f"Upload verification failed for media {media_id}{reason}. "
                "Re-upload the media and try again.",
            )
        return media

    # ------------------------------------------------------------------------ jobs
