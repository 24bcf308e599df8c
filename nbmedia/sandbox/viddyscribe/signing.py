"""Signed links, GCS-style (``X-Goog-Date``/``Expires``/``Signature`` over an HMAC the
sandbox keeps): download links ``get_results`` hands out, and the signed upload's PUT URL."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote, unquote

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from ..kit.env import Env
from .contract import ERRORS, SIGNED_URL_TTL, UPLOAD_URL_TTL
from .errors import ApiError, error
from .media import Media


class Signer:
    """Signs and checks this sandbox's links; the secret lives as long as the sandbox."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._secret = secrets.token_bytes(32)

    def _sign(self, material: str) -> str:
        return hmac.new(self._secret, material.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ downloads

    def sign_download(self, name: str) -> str:
        issued = self.env.clock.now()
        sig = self._sign(f"GET\n{name}\n{issued:.3f}\n{SIGNED_URL_TTL}")
        return (
            f"{self.env.files.url(name)}?X-Goog-Algorithm=GOOG4-HMAC-SHA256"
            f"&X-Goog-Date={issued:.3f}&X-Goog-Expires={SIGNED_URL_TTL}&X-Goog-Signature={sig}"
        )

    def check_signature(self, name: str, query: str) -> tuple[str, str] | None:
        """None for a valid, fresh signed link to ``name``; else (code, message)."""
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        try:
            issued = float(unquote(params.get("X-Goog-Date", "")))
            ttl = int(unquote(params.get("X-Goog-Expires", "")))
        except ValueError:
            return "signature_mismatch", "This download needs a signed URL from get_results."
        expected = self._sign(f"GET\n{name}\n{issued:.3f}\n{ttl}")
        if not hmac.compare_digest(expected, unquote(params.get("X-Goog-Signature", ""))):
            return "signature_mismatch", "The signature of this URL does not match."
        if self.env.clock.now() > issued + ttl:
            return (
                "signed_url_expired",
                f"This signed URL expired ({ttl // 60} min after it was issued); "
                "call get_results again for a fresh one.",
            )
        return None

    def check_download(self, name: str, request: Request) -> Response | None:
        """The file store's guard: only signed, unexpired links are served."""
        refused = self.check_signature(name, request.url.query)
        if refused is None:
            return None
        return error(ERRORS[refused[0]], refused[1], code=refused[0])

    # -------------------------------------------------------------------- uploads

    def upload_url(self, media: Media) -> str:
        issued = self.env.clock.now()
        name = quote(media.filename)
        sig = self._sign(f"PUT\n{media.id}\n{media.content_type}\n{issued:.3f}\n{UPLOAD_URL_TTL}")
        return (
            f"{self.env.base_url}/upload/{media.id}/{name}?X-Goog-Algorithm=GOOG4-HMAC-SHA256"
            f"&X-Goog-Date={issued:.3f}&X-Goog-Expires={UPLOAD_URL_TTL}&X-Goog-Signature={sig}"
        )

    def check_put(self, media: Media, q: QueryParams) -> None:
        """A PUT URL signed for this media and still fresh, or the 403 that refuses it."""
        try:
            issued, ttl = float(q.get("X-Goog-Date", "")), int(q.get("X-Goog-Expires", ""))
        except ValueError:
            raise ApiError("signature_mismatch", "The upload URL is not signed.") from None
        expected = self._sign(f"PUT\n{media.id}\n{media.content_type}\n{issued:.3f}\n{ttl}")
        if not hmac.compare_digest(expected, q.get("X-Goog-Signature", "")):
            raise ApiError("signature_mismatch", "The upload URL's signature does not match.")
        if self.env.clock.now() > issued + ttl:
            raise ApiError("signed_url_expired", "The upload URL has expired; request a new one.")
