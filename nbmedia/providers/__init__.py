"""The provider registry: a new provider is one module here and one line below."""

from __future__ import annotations

from .base import Provider
from .mercadream import MercaDream
from .meshapi import MeshAPI
from .syncso import SyncSo
from .viddyscribe import ViddyScribe
from .vimmerse import Vimmerse

REGISTRY: dict[str, type[Provider]] = {
    cls.name: cls for cls in (MercaDream, Vimmerse, MeshAPI, ViddyScribe, SyncSo)
}

__all__ = ["REGISTRY", "MercaDream", "MeshAPI", "Provider", "SyncSo", "ViddyScribe", "Vimmerse"]
