"""Finds the platforms: every folder of an adapter package with an ``adapter.py`` defining a
``PlatformAdapter`` subclass is one platform.

Nothing else lists platforms. Settings, webhook routing, polling, the call gateway, the demo, the
admin and the tests iterate over ``adapters()``, so a new platform is one new folder here. More
packages can be searched (``ADAPTER_PACKAGES``, or ``use_packages`` in a test), each with the same
layout.
"""

from __future__ import annotations

import inspect
import pkgutil
from collections.abc import Iterable
from importlib import import_module
from importlib.util import find_spec

from adapters.base import Capability, PlatformAdapter

DEFAULT_PACKAGES = ("adapters",)
_packages: tuple[str, ...] = DEFAULT_PACKAGES
_found: dict[str, type[PlatformAdapter]] | None = None


def use_packages(packages: Iterable[str]) -> tuple[str, ...]:
    """Search these packages from now on; returns the previous ones (to restore them)."""
    global _packages, _found
    previous, _packages, _found = _packages, tuple(packages), None
    return previous


def _discover() -> dict[str, type[PlatformAdapter]]:
    found: dict[str, type[PlatformAdapter]] = {}
    for package_name in _packages:
        package = import_module(package_name)
        for folder in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            module_name = f"{package_name}.{folder.name}.adapter"
            if not folder.ispkg or find_spec(module_name) is None:
                continue
            module = import_module(module_name)
            for _name, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, PlatformAdapter) and cls.__module__ == module_name and "slug" in vars(cls):
                    if cls.slug in found:
                        raise RuntimeError(f"two adapters claim the slug {cls.slug!r}: {found[cls.slug]} and {cls}")
                    found[cls.slug] = cls
    return found


def adapters() -> dict[str, type[PlatformAdapter]]:
    """Every platform, slug -> adapter class, in folder order."""
    global _found
    if _found is None:
        _found = _discover()
    return _found


def slugs(capability: Capability | None = None) -> list[str]:
    return [slug for slug, cls in adapters().items() if capability is None or capability in cls.capabilities]


def adapter_class(slug: str) -> type[PlatformAdapter]:
    """Raises ``KeyError`` for an unknown slug."""
    return adapters()[slug]


def by_webhook_path(path: str) -> type[PlatformAdapter] | None:
    for cls in adapters().values():
        if Capability.WEBHOOKS in cls.capabilities and cls.webhook_path == path:
            return cls
    return None


def env_prefix(cls: type[PlatformAdapter]) -> str:
    return cls.env_prefix or cls.slug.upper()


def choices() -> list[tuple[str, str]]:
    """The connection model's ``choices`` (a callable, so a new platform needs no migration)."""
    return [(slug, cls.display_name) for slug, cls in adapters().items()]
