"""Honest status, shared by the staff home and the staff calendar: a connection's health in three words
(healthy, unhealthy and why, never checked), a stored platform error in plain words, and times in the
property's timezone with the zone named."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.utils import timezone

from channelmgr.models import ChannelConnection

# --- times --------------------------------------------------------------------------------------


def local_time(value: dt.datetime | None, tz_name: str) -> str:
    """``value`` in the property's zone, the zone named: "2027-07-01 14:05 CEST (Europe/Berlin)"."""
    if value is None:
        return "never"
    try:
        zone = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone, tz_name = dt.UTC, "UTC"
    local = value.astimezone(zone)
    named = "" if local.tzname() == tz_name else f" ({tz_name})"  # "UTC (UTC)" says nothing twice
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}{named}"


def age(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long ago, in the largest whole unit: "45 s", "12 min", "3 h", "2 days"; "never" for None."""
    if value is None:
        return "never"
    seconds = max(0, int(((now or timezone.now()) - value).total_seconds()))
    for size, unit in ((86400, " days"), (3600, " h"), (60, " min")):
        if seconds >= size:
            return f"{seconds // size}{unit}" if seconds // size != 1 or size != 86400 else "1 day"
    return f"{seconds} s"


# --- health --------------------------------------------------------------------------------------

HEALTHY, UNHEALTHY, NEVER_CHECKED = "healthy", "unhealthy", "never checked"
ERROR_CHARS = 90  # of the platform's own words; the whole text stays in the sync log


@dataclass(frozen=True)
class Health:
    state: str  # HEALTHY | UNHEALTHY | NEVER_CHECKED
    why: str = ""


def connection_health(connection: ChannelConnection) -> Health:
    """From the last test and the recent pushes and pulls: a success sets ``healthy``, a failure clears it
    and leaves its reason in ``last_error``. Neither yet: never checked."""
    if connection.healthy is True:
        return Health(HEALTHY)
    if connection.healthy is False or connection.last_error:
        return Health(UNHEALTHY, plain_error(connection.last_error) or "the last test failed")
    return Health(NEVER_CHECKED)


def plain_error(error: str) -> str:
    """A stored platform error in words staff can act on (the raw text stays in the sync log)."""
    text = " ".join((error or "").split())
    lowered = text.lower()
    hints = (
        (
            ("401", "unauthor", "token refresh refused", "invalid_grant", "credentials"),
            "the platform refused our credentials",
        ),
        (("403", "forbidden"), "the platform refused access to this listing"),
        (("404", "not found", "unknown listing", "no listing"), "the platform does not know this listing"),
        (("429", "rate limit"), "the platform asked us to slow down"),
        (("timeout", "timed out", "connection refused", "503", "502", "500"), "the platform did not answer"),
    )
    for needles, words in hints:
        if any(needle in lowered for needle in needles):
            return f"{words}: {_short(text)}" if text else words
    return _short(text)


def _short(text: str, limit: int = ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
