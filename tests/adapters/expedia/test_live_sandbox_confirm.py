"""Against the live sandbox: an Expedia booking is retrieved with BR, then confirmed with BC."""

import datetime as dt

import requests

from adapters.base import BookingStatus, Credentials, PlatformAccount
from adapters.expedia.adapter import ExpediaAdapter

START = dt.date.today() + dt.timedelta(days=90)


def reservations(sandbox):
    answer = requests.get(f"{sandbox}/_state/expedia/reservations", timeout=10)
    answer.raise_for_status()
    body = answer.json()
    return body if isinstance(body, list) else body.get("reservations", [])


def test_a_sandbox_booking_is_retrieved_then_confirmed(sandbox):
    listing = "82001"
    requests.post(f"{sandbox}/_control/expedia/listings", json={"listing_id": listing}, timeout=10)
    made = requests.post(
        f"{sandbox}/_control/expedia/reservations",
        json={
            "listing_id": listing,
            "check_in": START.isoformat(),
            "check_out": (START + dt.timedelta(days=2)).isoformat(),
            "guest_name": "Eddie Expedia",
            "total": "250.00",
            "currency": "EUR",
        },
        timeout=10,
    )
    assert made.status_code == 201, made.text
    booking_id = made.json()["id"]
    adapter = ExpediaAdapter(
        PlatformAccount(
            listing_id=listing,
            credentials=Credentials(username="sandbox-expedia", password="sandbox-expedia-pass"),
            base_url=f"{sandbox}/expedia",
            allow_private_network=True,
        )
    )

    (booking,) = [b for b in adapter.fetch_bookings().bookings if b.channel_booking_id == booking_id]
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.check_in, booking.check_out) == (START, START + dt.timedelta(days=2))

    adapter.acknowledge_bookings([(booking, "PMS-77")])

    state = next(r for r in reservations(sandbox) if str(r["id"]) == booking_id)
    assert state["confirmed"] is True
    assert state["confirm_number"] == "PMS-77"
    assert booking_id not in [b.channel_booking_id for b in adapter.fetch_bookings().bookings]
