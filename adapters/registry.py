"""Maps each platform slug to its adapter class, imported lazily by dotted path.

The connection model takes its ``choices`` from ``PLATFORMS``, so no platform list is written twice.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from adapters.base import PlatformAdapter

# slug -> (display name, dotted path of the adapter class)
PLATFORMS: dict[str, tuple[str, str]] = {
    "airbnb": ("Airbnb", "adapters.airbnb.adapter.AirbnbAdapter"),
    "booking_com": ("Booking.com", "adapters.booking_com.adapter.BookingComAdapter"),
    "expedia": ("Expedia", "adapters.expedia.adapter.ExpediaAdapter"),
    "fewo_direkt": ("FeWo-direkt / Vrbo", "adapters.fewo_direkt.adapter.FewoDirektAdapter"),
    "google": ("Google Vacation Rentals", "adapters.google.adapter.GoogleAdapter"),
    "ical": ("iCal feed", "adapters.ical.adapter.IcalAdapter"),
}

# The webhook URL path segment per platform (the seeds' URLs use dashes).
WEBHOOK_PATHS: dict[str, str] = {
    "airbnb": "airbnb",
    "booking_com": "booking-com",
    "expedia": "expedia",
    "fewo_direkt": "fewo-direkt",
    "google": "google",
}


def choices() -> list[tuple[str, str]]:
    return [(slug, name) for slug, (name, _path) in PLATFORMS.items()]


@cache
def adapter_class(slug: str) -> type[PlatformAdapter]:
    """Raises ``KeyError`` for an unknown slug."""
    _name, dotted = PLATFORMS[slug]
    module_path, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_path), class_name)
