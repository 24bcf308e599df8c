"""The provider registry: a new provider is one module here and one line below."""

from __future__ import annotations

from .base import Provider
from .mercadream import MercaDream
from .meshapi import MeshAPI
from .vimmerse import Vimmerse

REGISTRY: dict[str, type[Provider]] = {cls.name: cls for cls in (MercaDream, Vimmerse, MeshAPI)}

__all__ = ["REGISTRY", "MercaDream", "MeshAPI", "Provider", "Vimmerse"]
