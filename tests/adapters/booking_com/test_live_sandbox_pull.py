"""Against the live sandbox: a Booking.com reservation is pulled, then acknowledged."""

import datetime as dt
from decimal import Decimal

import requests

from adapters.base import BookingStatus, Credentials, PlatformAccount
from adapters.booking_com.adapter import BookingComAdapter

START = dt.date.today() + dt.timedelta(days=90)


def reservations(sandbox):
    answer = requests.get(f"{sandbox}/_state/booking_com/reservations", timeout=10)
    answer.raise_for_status()
    body = answer.json()
    return body if isinstance(body, list) else body.get("reservations", [])


def test_a_sandbox_reservation_is_pulled_and_acknowledged(sandbox):
    listing = "81001"
    requests.post(f"{sandbox}/_control/booking_com/listings", json={"listing_id": listing}, timeout=10)
    made = requests.post(
        f"{sandbox}/_control/booking_com/reservations",
        json={
            "listing_id": listing,
            "check_in": START.isoformat(),
            "check_out": (START + dt.timedelta(days=3)).isoformat(),
            "guest_name": "Paula Pull",
            "total": "360.00",
            "currency": "EUR",
        },
        timeout=10,
    )
    assert made.status_code == 201, made.text
    reservation_id = made.json()["id"]
    adapter = BookingComAdapter(
        PlatformAccount(
            listing_id=listing,
            credentials=Credentials(username="sandbox-booking", password="sandbox-booking-pass"),
            base_url=f"{sandbox}/booking_com",
            allow_private_network=True,
        )
    )

    (booking,) = [b for b in adapter.fetch_bookings().bookings if b.channel_booking_id == reservation_id]
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.check_in, booking.check_out) == (START, START + dt.timedelta(days=3))
    assert (booking.total_amount, booking.currency) == (Decimal("360.00"), "EUR")
    assert "Pull" in booking.guest.name
    assert next(r for r in reservations(sandbox) if r["id"] == reservation_id)["acknowledged"] is False

    adapter.acknowledge_bookings([(booking, "PMS-1")])

    assert next(r for r in reservations(sandbox) if r["id"] == reservation_id)["acknowledged"] is True
    assert reservation_id not in [b.channel_booking_id for b in adapter.fetch_bookings().bookings]
