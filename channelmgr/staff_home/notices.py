"""Notices other apps put on the staff home, such as an integrator's webhook subscription that the system
disabled. channelmgr never imports those apps: each registers a provider from its ``AppConfig.ready()``
(as ``channelmgr.scheduler.jobs_register`` does for jobs)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    title: str  # what is wrong, in plain words
    detail: str  # why, and what to do
    url: str = ""  # the admin page that fixes it
    at: dt.datetime | None = None


# name -> provider(organization_id) -> notices; organization_id None is every tenant (a superuser).
_providers: dict[str, Callable[[int | None], list[Notice]]] = {}


def notices_register(name: str, provider: Callable[[int | None], list[Notice]]) -> None:
    _providers[name] = provider


def notices(organization_id: int | None) -> list[Notice]:
    """Every registered provider's notices for the organization; a provider that fails is logged and
    skipped, so one broken app never blanks the home page."""
    found: list[Notice] = []
    for name, provider in _providers.items():
        try:
            found.extend(provider(organization_id))
        except Exception:
            log.exception("staff home notices of %s failed", name)
    return found
