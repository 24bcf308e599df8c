"""The provider registry: a new provider is one module here and one line below."""

from __future__ import annotations

from .base import Provider
from .mercadream import MercaDream

REGISTRY: dict[str, type[Provider]] = {cls.name: cls for cls in (MercaDream,)}

__all__ = ["REGISTRY", "MercaDream", "Provider"]
