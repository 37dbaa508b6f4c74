"""End to end: what a guest booked beyond the stay reaches the PMS through each platform's real path
(Expedia's SOAP notification and BR, Booking.com's pull, FeWo-direkt's webhook and fetch) and shows in
the bookings API."""

from __future__ import annotations

import datetime as dt

import pytest

from testkit import wait_for

pytestmark = pytest.mark.e2e

DETAILS = {
    "guests": 4,
    "children": 1,
    "infants": 1,
    "taxes": "31.20",
    "special_requests": ["Late arrival, around 23:00", "A cot, please"],
}
# What each platform's format carries of DETAILS (docs/platforms.md): Expedia has no infants.
EXPECTED = {
    "expedia": {
        "adults": 2,
        "children": 2,
        "infants": None,
        "sub_channel": "Hotels.com",
        "payment_model": "property_collects",
    },
    "booking_com": {"adults": 2, "children": 1, "infants": 1, "sub_channel": "", "payment_model": ""},
    "fewo_direkt": {"adults": 2, "children": 1, "infants": 1, "sub_channel": "", "payment_model": "property_collects"},
}
EXTRA = {
    "expedia": {"sub_channel": "Hotels.com", "payment_model": "property"},
    "fewo_direkt": {"payment_model": "property"},
    "booking_com": {},
}


def test_taxes_guests_and_requests_arrive_on_every_path(e2e, nights):
    start, _ = nights(9, 9)
    for offset, slug in enumerate(EXPECTED):
        check_in = start + dt.timedelta(days=3 * offset)
        answer = e2e.sandbox(
            "POST",
            f"/_control/{slug}/reservations",
            json={
                "listing_id": e2e.listing(slug),
                "check_in": check_in.isoformat(),
                "check_out": (check_in + dt.timedelta(days=3)).isoformat(),
                "guest_name": "Familie Details",
                "total": "450.00",
                **DETAILS,
                **EXTRA[slug],
            },
        )
        assert answer.status_code == 201, answer.text
        reservation = answer.json()["id"]

        imported = lambda slug=slug, reservation=reservation: e2e.pms_booking(slug, reservation)  # noqa: E731
        assert wait_for(imported, timeout=60, interval=0.5), e2e.logs_tail()
        booking = e2e.pms_booking(slug, reservation)
        assert booking["taxes_amount"] is not None and float(booking["taxes_amount"]) == 31.20, (slug, booking)
        assert booking["special_requests"] == DETAILS["special_requests"], (slug, booking)
        for field, value in EXPECTED[slug].items():
            assert booking[field] == value, (slug, field, booking)
        assert booking["platform_status"], (slug, booking)
