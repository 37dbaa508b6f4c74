"""Account batching, end to end: three units that are room types of one hotel are pushed in one request,
which the sandbox validates against the platform's schema (Booking.com: OTA; Expedia: EQC AR), and a
guest's booking of one room type lands on its own unit.

Invariant: a push of one room type carries every due change of its hotel's other room types (one
rate-limit slot for the hotel, not one per unit), and each room type's calendar on the platform ends up
exactly as the PMS holds that unit's nights.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from testkit import wait_for
from testkit.stack import Stack, delta
from tests.e2e.conftest import services

pytestmark = pytest.mark.e2e

# The platforms whose one request carries several room types of a hotel (pinned: the adapters' own
# declaration is pinned in tests/adapters/test_contract.py).
BATCHING = ["booking_com", "expedia"]
UNITS = 3


@pytest.fixture(scope="module")
def hotel():
    database_url, redis_url = services()
    started = Stack(database_url=database_url, redis_url=redis_url, name="hotel", units=UNITS, hotel=True).start()
    try:
        yield started
    finally:
        started.stop()


def _prices(stack: Stack, platform: str, unit: int, start: dt.date, end: dt.date) -> list[Decimal | None]:
    days = stack.calendar(platform, start, end, listing=stack.unit_listing(unit, platform))
    return [Decimal(d["price"]) if d["price"] is not None else None for d in days]


@pytest.mark.parametrize("platform", BATCHING)
def test_one_request_carries_the_price_changes_of_three_room_types(hotel, platform):
    assert wait_for(hotel.idle, timeout=120, interval=0.5)
    units = hotel.seed["units"]
    start = dt.date.today() + dt.timedelta(days=30 + 10 * BATCHING.index(platform))  # each case its own nights
    end = start + dt.timedelta(days=4)
    write = hotel.write_endpoint(platform, "pricing")
    before = hotel.all_stats()

    # One API request changes all three units: every connection gets its dirty range in one transaction.
    values = [
        {"unit": unit, "start": start.isoformat(), "end": end.isoformat(), "price": f"{201 + i}.00"}
        for i, unit in enumerate(units)
    ]
    answer = hotel.api("POST", "/calendar", json={"values": values})
    assert answer.status_code == 200, answer.text

    def priced() -> bool:
        return all(
            _prices(hotel, platform, unit, start, end) == [Decimal(f"{201 + i}.00")] * 4 for i, unit in enumerate(units)
        )

    assert wait_for(priced, timeout=30, interval=0.3), {u: _prices(hotel, platform, u, start, end) for u in units}
    assert wait_for(hotel.idle, timeout=30, interval=0.3)
    after = hotel.all_stats()
    assert delta(before, after, platform, write) == 1, (before[platform], after[platform])
    # The sandbox checks every OTA request against the schema first: none was refused.
    assert after[platform]["invalid_payloads"] == before[platform]["invalid_payloads"], after[platform]["last_invalid"]


@pytest.mark.parametrize("platform", BATCHING)
def test_a_guest_booking_of_one_room_type_closes_that_unit_only(hotel, platform):
    assert wait_for(hotel.idle, timeout=120, interval=0.5)
    units = hotel.seed["units"]
    second = units[1]
    start = dt.date.today() + dt.timedelta(days=60 + 10 * BATCHING.index(platform))
    end = start + dt.timedelta(days=2)
    answer = hotel.sandbox(
        "POST",
        f"/_control/{platform}/reservations",
        json={
            "listing_id": hotel.unit_listing(second, platform),
            "check_in": start.isoformat(),
            "check_out": end.isoformat(),
            "guest_name": "Familie Rossi",
            "total": "400.00",
        },
    )
    assert answer.status_code == 201, answer.text
    reservation = answer.json()["id"]

    def imported():
        booking = hotel.pms_booking(platform, reservation)
        return booking if booking and booking["status"] == "confirmed" else None

    assert wait_for(imported, timeout=60, interval=0.3), hotel.logs_tail()
    assert imported()["unit"] == second
    # The nights close on the other platforms for that unit, and stay open for its neighbours.
    others = [slug for slug in hotel.seed["unit_listings"][str(second)] if slug != platform]

    def closed_for_second_only() -> bool:
        for slug in others:
            for unit in units:
                days = hotel.calendar(slug, start, end, listing=hotel.unit_listing(unit, slug))
                if len(days) != 2 or any(d["available"] == (unit == second) for d in days):
                    return False
        return True

    assert wait_for(closed_for_second_only, timeout=30, interval=0.3)
