"""Webhook signatures: HMAC-SHA256 over the raw body in ``MercaDream-Signature``, and the
body's own ``signature`` field (see ``webhook_body`` for what it can cover)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def sign(secret: str, data: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``data``."""
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _compact(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def webhook_body(payload: dict[str, Any], secret: str) -> tuple[bytes, str]:
    """The exact body bytes and the ``MercaDream-Signature`` header value.

    The header is HMAC-SHA256 over the raw body and is authoritative. The body's own
    ``signature`` field cannot sign the body that contains it: it is the HMAC of the compact
    JSON (``separators=(",", ":")``, ASCII, key order kept) of the payload without
    ``signature``, which is the body with its last member removed.
    """
    unsigned = {k: v for k, v in payload.items() if k != "signature"}
    body = _compact({**unsigned, "signature": sign(secret, _compact(unsigned))})
    return body, sign(secret, body)
