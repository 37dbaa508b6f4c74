"""The simulated platforms, one module each.

A platform is a module in this package that defines a `Platform` subclass with a `slug`; adding the
module adds the platform. Modules without one (`base`, `ota`, `paging`, ...) are its helpers.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.platforms.base import Platform


def platform_classes() -> tuple[type[Platform], ...]:
    """Every platform class in this package, in the order of their module names."""
    from sandbox.platforms.base import Platform

    found: dict[str, type[Platform]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, Platform) or not cls.slug:
                continue
            if cls.slug in found:
                raise TypeError(f"{cls.__qualname__} and {found[cls.slug].__qualname__} both declare {cls.slug!r}")
            found[cls.slug] = cls
    return tuple(found.values())


def build_platforms(app: Sandbox, classes: tuple[type[Platform], ...] | None = None) -> list[Platform]:
    return [cls(app) for cls in (platform_classes() if classes is None else classes)]
