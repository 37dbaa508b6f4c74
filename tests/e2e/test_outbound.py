"""Outbound, end to end: a guest's booking closes the nights on every other platform within seconds; price
and restriction changes through the API reach every platform; a burst is coalesced."""

from __future__ import annotations

import datetime as dt
import math
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from adapters.registry import adapter_class
from testkit import wait_for
from testkit.stack import PLATFORMS, delta

pytestmark = pytest.mark.e2e

OTHERS = [slug for slug in PLATFORMS if slug != "airbnb"]


def test_a_guest_booking_on_airbnb_closes_the_nights_everywhere_and_cancel_and_modify_follow(e2e, nights):
    start, end = nights(0)
    assert e2e.all_open(PLATFORMS, start, end)

    answer = e2e.book("airbnb", start, end, guest="Familie Weber")
    assert answer.status_code == 201, answer.text
    booked_at = time.monotonic()
    reservation = answer.json()["id"]
    assert wait_for(lambda: e2e.all_closed(OTHERS, start, end), timeout=10, interval=0.1), e2e.availability(
        OTHERS, start, end
    )
    elapsed = time.monotonic() - booked_at
    print(f"booked on airbnb -> closed on {len(OTHERS)} other platforms in {elapsed:.2f}s")
    assert elapsed <= 10
    booking = e2e.pms_booking("airbnb", reservation)
    assert booking and booking["status"] == "confirmed", booking
    assert (booking["check_in"], booking["check_out"]) == (start.isoformat(), end.isoformat())

    # The guest cancels: the nights open again everywhere.
    assert e2e.sandbox("POST", f"/_control/airbnb/reservations/{reservation}/cancel").status_code == 200
    assert wait_for(lambda: e2e.all_open(OTHERS, start, end), timeout=15, interval=0.2), e2e.availability(
        OTHERS, start, end
    )
    assert e2e.pms_booking("airbnb", reservation)["status"] == "cancelled"

    # Another guest books, then moves the stay two nights later: the nights move with it.
    answer = e2e.book("airbnb", start, end, guest="Familie Schulz")
    assert answer.status_code == 201, answer.text
    reservation = answer.json()["id"]
    assert wait_for(lambda: e2e.all_closed(OTHERS, start, end), timeout=10, interval=0.1)
    moved_in, moved_out = start + dt.timedelta(days=2), end + dt.timedelta(days=2)
    answer = e2e.sandbox(
        "POST",
        f"/_control/airbnb/reservations/{reservation}/modify",
        json={"check_in": moved_in.isoformat(), "check_out": moved_out.isoformat()},
    )
    assert answer.status_code == 200, answer.text

    def moved():
        return e2e.all_open(OTHERS, start, moved_in) and e2e.all_closed(OTHERS, moved_in, moved_out)

    assert wait_for(moved, timeout=15, interval=0.2), e2e.availability(OTHERS, start, moved_out)
    booking = e2e.pms_booking("airbnb", reservation)
    assert (booking["status"], booking["check_in"], booking["check_out"]) == (
        "confirmed",
        moved_in.isoformat(),
        moved_out.isoformat(),
    )


def test_prices_and_restrictions_set_through_the_api_reach_every_platform(e2e, nights):
    start, end = nights(1, length=6)
    middle = start + dt.timedelta(days=3)
    answer = e2e.api(
        "POST",
        "/calendar",
        json={
            "values": [
                {
                    "unit": e2e.unit_id,
                    "start": start.isoformat(),
                    "end": middle.isoformat(),
                    "price": "187.50",
                    "min_stay": 3,
                    "closed_to_arrival": True,
                },
                {"unit": e2e.unit_id, "start": middle.isoformat(), "end": end.isoformat(), "price": "99.00"},
                {"unit": e2e.unit_id, "start": middle.isoformat(), "end": end.isoformat(), "stop_sell": True},
            ]
        },
    )
    assert answer.status_code == 200, answer.text

    def expected(slug) -> bool:
        days = e2e.calendar(slug, start, end)
        if len(days) != 6:
            return False
        first, second = days[:3], days[3:]
        return all(
            Decimal(d["price"] or 0) == Decimal("187.50")
            and d["min_stay"] == 3
            and d["closed_to_arrival"]
            and d["available"]
            for d in first
        ) and all(Decimal(d["price"] or 0) == Decimal("99.00") and not d["available"] for d in second)

    assert wait_for(lambda: all(expected(slug) for slug in PLATFORMS), timeout=20, interval=0.3), {
        slug: e2e.calendar(slug, start, end) for slug in PLATFORMS
    }
    # The nights around the change kept the unit's defaults.
    for slug in PLATFORMS:
        (after,) = e2e.calendar(slug, end, end + dt.timedelta(days=1))
        assert Decimal(after["price"]) == Decimal("150.00") and after["min_stay"] == 1, (slug, after)
        assert not after["closed_to_arrival"] and after["available"], (slug, after)


def _priced(stack, start, end, first_price: int) -> bool:
    nights = (end - start).days
    for slug in PLATFORMS:
        days = stack.calendar(slug, start, end)
        if len(days) != nights or any(Decimal(d["price"] or 0) != first_price + i for i, d in enumerate(days)):
            return False
    return True


def _price_change(stack, night: dt.date, price: int) -> dict:
    end = night + dt.timedelta(days=1)
    return {"unit": stack.unit_id, "start": night.isoformat(), "end": end.isoformat(), "price": f"{price}.00"}


def _outbox_events(stack) -> int:
    return stack.scalar("SELECT count(*) FROM pms_core_outboxevent WHERE event_type = 'pricing.updated'")


def test_100_price_changes_within_a_second_cost_one_request_per_batch_and_no_rate_limit_violation(e2e):
    """100 changes (a different price each night, so nothing collapses: 100 ranges) committed within one
    second: one push per connection, ``ceil(100 / max_batch)`` requests on each platform."""
    start = dt.date.today() + dt.timedelta(days=140)
    end = start + dt.timedelta(days=100)
    before, events_before = e2e.all_stats(), _outbox_events(e2e)
    answer = e2e.api(
        "POST",
        "/calendar",
        json={"values": [_price_change(e2e, start + dt.timedelta(days=i), 200 + i) for i in range(100)]},
    )
    assert answer.status_code == 200, answer.text
    assert _outbox_events(e2e) - events_before == 100  # 100 changes, 100 domain events
    assert wait_for(lambda: _priced(e2e, start, end, 200), timeout=30, interval=0.5)
    assert wait_for(e2e.idle, timeout=30)
    after = e2e.all_stats()
    for slug in PLATFORMS:
        availability, pricing = e2e.write_endpoint(slug, "availability"), e2e.write_endpoint(slug, "pricing")
        made = delta(before, after, slug, pricing)
        minimum = math.ceil(100 / adapter_class(slug).max_batch)
        assert made == minimum, (slug, made, minimum, after[slug]["requests"])
        if availability != pricing:
            assert delta(before, after, slug, availability) == 0, slug
        assert after[slug]["rate_limit_violations"] == 0, (slug, after[slug])
        assert after[slug]["invalid_payloads"] == 0, (slug, after[slug]["last_invalid"])


def test_100_separate_api_requests_are_coalesced_into_few_pushes(e2e):
    """100 separate ``POST /calendar`` requests, as fast as the server takes them. Changes to one unit are
    serialized (a row lock per unit), so on a busy machine the burst takes longer than a second; the
    debounce holds a push while changes keep coming, but never longer than PUSH_MAX_WAIT_SECONDS (5 s). So
    each platform gets at most ``ceil(100 / max_batch)`` requests per started 5 s of burst (plus one push
    for a tail), never one per change, and no rate limit is ever exceeded."""
    start = dt.date.today() + dt.timedelta(days=250)
    end = start + dt.timedelta(days=100)
    before = e2e.all_stats()

    def change(i: int):
        return e2e.api(
            "POST", "/calendar", json={"values": [_price_change(e2e, start + dt.timedelta(days=i), 300 + i)]}
        )

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(change, range(100)))
    burst = time.monotonic() - began
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200][:3]
    assert wait_for(lambda: _priced(e2e, start, end, 300), timeout=40, interval=0.5)
    assert wait_for(e2e.idle, timeout=30)
    after = e2e.all_stats()
    pushes_allowed = math.ceil(burst / 5.0) + 1
    made = {slug: delta(before, after, slug, e2e.write_endpoint(slug, "pricing")) for slug in PLATFORMS}
    print(f"100 separate price requests in {burst:.2f}s -> pricing requests per platform {made}")
    for slug in PLATFORMS:
        minimum = math.ceil(100 / adapter_class(slug).max_batch)
        assert minimum <= made[slug] <= minimum * pushes_allowed, (slug, made[slug], burst)
        assert after[slug]["rate_limit_violations"] == 0, (slug, after[slug])
