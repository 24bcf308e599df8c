"""The provider registry: every `Provider` subclass defined in a module of this package.

A new provider is one module here (and its sandbox module): nothing else names it.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Provider


def _discover() -> dict[str, type[Provider]]:
    found: dict[str, type[Provider]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Provider)
                and value is not Provider
                and value.__module__ == module.__name__
                and "name" in vars(value)
            ):
                found[value.name] = value
    return found


REGISTRY: dict[str, type[Provider]] = _discover()
"""Provider name → class, in the order of their module names."""

__all__ = ["REGISTRY", "Provider"]
