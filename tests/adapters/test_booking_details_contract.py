"""Against the live sandbox: what a guest booked beyond the stay (guests by type, taxes, fees, special
requests, sub-channel, who collects) reaches ``BookingData`` on every platform whose format carries it.

``CARRIES`` is written by hand from docs/platforms.md, as the contract's capability table is: it checks
each adapter against its platform's format, not against itself.
"""

# ruff: noqa: F811  (the contract's fixtures are imported by name, and tests take them by that name)
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from adapters.base import PaymentModel
from tests.adapters.test_contract import (  # noqa: F401  (fixtures)
    account,
    adapter,
    control_slug,
    day,
    is_feed,
    listing_id,
    platform,
    slug,
)

DETAILS = {
    "guests": 4,
    "children": 1,
    "infants": 1,
    "taxes": "31.20",
    "fees": "45.00",
    "special_requests": ["Late arrival, around 23:00", "A cot, please"],
    "sub_channel": "Hotels.com",
    "payment_model": "property",
}
# What each format carries (docs/platforms.md); Expedia names no infants: they arrive as children.
CARRIES = {
    "airbnb": {
        "adults": 2,
        "children": 1,
        "infants": 1,
        "taxes": "31.20",
        "fees": "45.00",
        "requests": True,
        "payment_model": PaymentModel.PLATFORM_COLLECTS,
    },
    "fewo_direkt": {
        "adults": 2,
        "children": 1,
        "infants": 1,
        "taxes": "31.20",
        "fees": "45.00",
        "requests": True,
        "payment_model": PaymentModel.PROPERTY_COLLECTS,
    },
    "google": {"adults": 2, "children": 1, "infants": 1, "taxes": "31.20", "requests": True},
    "booking_com": {"adults": 2, "children": 1, "infants": 1, "taxes": "31.20", "requests": True},
    "expedia": {
        "adults": 2,
        "children": 2,
        "taxes": "31.20",
        "requests": True,
        "sub_channel": "Hotels.com",
        "payment_model": PaymentModel.PROPERTY_COLLECTS,
    },
    "ical": {},
}


def book_with_details(sandbox, control_slug, listing_id) -> str:
    body = {
        "listing_id": listing_id,
        "check_in": day(1).isoformat(),
        "check_out": day(4).isoformat(),
        "guest_name": "Alice Archer",
        "total": "480.00",
        "currency": "EUR",
        **DETAILS,
    }
    response = requests.post(f"{sandbox}/_control/{control_slug}/reservations", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_every_platform_is_pinned(slug):
    assert slug in CARRIES, f"{slug}: say in CARRIES which booking details its format carries"


def test_a_booking_keeps_the_details_its_platform_sends(sandbox, slug, control_slug, listing_id, adapter):
    if is_feed(slug):
        pytest.skip("a feed carries no guest details")
    reservation = book_with_details(sandbox, control_slug, listing_id)

    booking = adapter.fetch_booking(reservation)

    carries = CARRIES[slug]
    for kind in ("adults", "children", "infants"):
        assert getattr(booking, kind) == carries.get(kind), kind
    for kind in ("taxes", "fees"):
        expected = carries.get(kind)
        assert getattr(booking, kind) == (Decimal(expected) if expected else None), kind
    assert booking.special_requests == (tuple(DETAILS["special_requests"]) if carries.get("requests") else ())
    assert booking.sub_channel == carries.get("sub_channel", "")
    assert booking.payment_model == carries.get("payment_model")
    assert booking.raw_status  # the platform's own status word


def test_expedia_names_its_own_brand_when_none_is_given(sandbox, listing_id, account):
    from adapters.expedia.adapter import ExpediaAdapter

    if account.base_url.rsplit("/", 1)[-1] != "expedia":
        pytest.skip("expedia only")
    body = {
        "listing_id": listing_id,
        "check_in": day(1).isoformat(),
        "check_out": day(3).isoformat(),
        "guest_name": "Bo Brand",
        "total": "200.00",
        "currency": "EUR",
    }
    reservation = requests.post(f"{sandbox}/_control/expedia/reservations", json=body, timeout=10).json()["id"]

    booking = ExpediaAdapter(account).fetch_booking(str(reservation))

    assert (booking.sub_channel, booking.payment_model) == ("Expedia", PaymentModel.PLATFORM_COLLECTS)
