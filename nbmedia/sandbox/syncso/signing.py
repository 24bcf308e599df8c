"""Webhook bodies and signatures: a generation's ``Sync-Signature: t=<unix>,v1=<hex>`` over
``"{t}.{raw body}"``, and a batch's ``X-Signature-Primary: <hex>`` over the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from .contract import BATCH_SIGNATURE_HEADER, SIGNATURE_HEADER, WEBHOOK_USER_AGENT


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Sync-Signature`` value: ``t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _compact(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def generation_webhook(payload: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers POSTed when a generation ends."""
    body = _compact(payload)
    return body, {
        "Content-Type": "application/json",
        "User-Agent": WEBHOOK_USER_AGENT,
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
    }


def batch_webhook(payload: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers POSTed once when a batch ends."""
    body = _compact(payload)
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "User-Agent": WEBHOOK_USER_AGENT,
        BATCH_SIGNATURE_HEADER: digest,
    }
