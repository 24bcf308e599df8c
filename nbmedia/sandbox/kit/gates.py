"""Key and plan gates: reading a key from a request, and a test key's plan from its markers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import Request


@dataclass(frozen=True)
class Bearer:
    """What an ``Authorization`` header holds: ``present`` is False with no header at all;
    ``token`` is ``""`` when the header is not ``Bearer <token>``."""

    present: bool
    token: str


def bearer(request: Request) -> Bearer:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        token = ""
    return Bearer(bool(header), token)


def header_key(request: Request, name: str) -> str:
    """A key sent in its own header (``X-Api-Key``…), stripped; ``""`` when absent."""
    return request.headers.get(name, "").strip()


def plan_for(key: str, markers: Iterable[tuple[str, str]], default: str) -> str:
    """The plan of a sandbox key: the first marker it contains names it, else ``default``."""
    return next((plan for marker, plan in markers if marker in key), default)
