"""Media inputs of sandbox jobs: files this sandbox served earlier, or data: URIs.

Offline, no other URL can be fetched: such an input gets the provider's own error for an
unreachable input (each provider module decides which one).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
import secrets
from pathlib import Path

_FILES = re.compile(
    r"^/(?P<provider>[A-Za-z0-9_-]+)/files/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,200})$"
)


class Unreachable(Exception):
    """The input cannot be fetched offline (or does not exist)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        shown = url if len(url) < 80 else url[:60] + "…"
        super().__init__(f"cannot fetch {shown}: {reason}")


def is_data_uri(url: str) -> bool:
    return url.startswith("data:")


def data_uri_mime(url: str) -> str | None:
    """The MIME type a data: URI declares (None if it declares none)."""
    if not is_data_uri(url):
        return None
    return url[5:].split(",", 1)[0].split(";", 1)[0] or None


def data_uri_size(url: str) -> int:
    """Decoded size of a base64 data: URI, without decoding it."""
    payload = url.split(",", 1)[1] if "," in url else ""
    return len(payload) * 3 // 4 - payload[-2:].count("=")


def fetch(url: str, *, sandbox_url: str, store_root: Path, scratch: Path) -> Path:
    """A local path for `url`: a file this sandbox serves, or a decoded data: URI."""
    if url.startswith(sandbox_url + "/"):
        m = _FILES.match(url[len(sandbox_url) :].split("?", 1)[0])
        if m:
            path = store_root / m["provider"] / m["name"]
            if path.is_file():
                return path
        raise Unreachable(url, "no such file on this sandbox")
    if is_data_uri(url):
        head, _, payload = url.partition(",")
        if ";base64" not in head:
            raise Unreachable(url, "only base64 data URIs are supported")
        mime = head[5:].split(";", 1)[0]
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise Unreachable(url, "the data URI is not valid base64") from None
        ext = mimetypes.guess_extension(mime or "") or ".bin"
        scratch.mkdir(parents=True, exist_ok=True)
        path = scratch / f"input-{secrets.token_hex(6)}{ext}"
        path.write_bytes(raw)
        return path
    if url.startswith(("http://", "https://")):
        raise Unreachable(url, "the sandbox is offline and fetches only URLs it served itself")
    raise Unreachable(url, "not an http(s) URL or data: URI")
