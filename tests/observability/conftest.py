"""The live sync fixtures (a sandbox whose webhooks reach the live server, worker threads, a unit on
every platform we push to) and a guest booking made on a platform through the sandbox's control API."""

from __future__ import annotations

import datetime as dt

import requests

from tests.channelmgr.sync.conftest import (  # noqa: F401  (fixtures, used by name)
    connected_unit,
    sandbox,
    sandbox_url,
    worker,
)


def guest_books(sandbox_base: str, unit, *, platform: str, check_in: dt.date, nights: int, guest_name: str) -> str:
    """Book ``unit``'s listing on ``platform`` as a guest would; returns the platform's reservation id."""
    from channelmgr.models import ChannelConnection

    connection = ChannelConnection.objects.get(unit=unit, platform_type=platform)
    listing = {"listing_id": connection.platform_listing_id}
    requests.post(f"{sandbox_base}/_control/{platform}/listings", json=listing, timeout=10).raise_for_status()
    answer = requests.post(
        f"{sandbox_base}/_control/{platform}/reservations",
        json={
            "listing_id": connection.platform_listing_id,
            "check_in": check_in.isoformat(),
            "check_out": (check_in + dt.timedelta(days=nights)).isoformat(),
            "guest_name": guest_name,
            "total": f"{150 * nights}.00",
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def imported(platform: str, reservation_id: str):
    """The PMS booking imported from ``platform``'s reservation, or None while it hasn't arrived."""
    from pms_core.models import Booking

    return Booking.objects.filter(source=platform, channel_booking_id=reservation_id).first()
