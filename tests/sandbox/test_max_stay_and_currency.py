"""The sandbox holds each platform's maximum stay, refuses a guest's stay longer than it, and takes prices
with exactly their currency's ISO 4217 decimals (docs/platforms.md)."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import BOOKING_AUTH
from tests.sandbox.test_booking_com_ari import AVAIL, RATES, avail, message, rates


def max_los(start, end, nights):
    return message(
        start, end, f'<LengthsOfStay><LengthOfStay MinMaxMessageType="SetMaxLOS" Time="{nights}"/></LengthsOfStay>'
    )


def test_ota_set_max_los_is_the_nights_maximum_stay(sandbox):
    answer = sandbox.post(AVAIL, data=avail(max_los("2027-07-01", "2027-07-02", 5)), auth=BOOKING_AUTH)
    assert answer.status_code == 200 and b"<Success/>" in answer.content
    days = sandbox.calendar("booking_com", "B1", "2027-07-01", "2027-07-04")
    assert [d["max_stay"] for d in days] == [5, 5, None]


def push_max_stay(sandbox, slug, listing, night, nights):
    if slug == "booking_com":
        answer = sandbox.post(AVAIL, data=avail(max_los(night, night, nights), hotel=listing), auth=BOOKING_AUTH)
        assert b"<Success/>" in answer.content, answer.text
        return
    item = {
        "start_date": night,
        "end_date": night,
        "available": True,
        "min_nights": 1,
        "max_nights": nights,
        "closed_to_arrival": False,
        "closed_to_departure": False,
    }
    answer = sandbox.put(
        f"/airbnb/v2/listings/{listing}/calendar", json={"ranges": [item]}, headers=sandbox.bearer(slug)
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("slug", ["booking_com", "airbnb"])
def test_a_guest_cannot_book_a_stay_longer_than_the_arrival_nights_maximum(sandbox, slug):
    sandbox.listing(slug, "M1")
    push_max_stay(sandbox, slug, "M1", "2027-08-01", 3)
    refused = sandbox.book(slug, "M1", "2027-08-01", "2027-08-05")
    assert refused.status_code == 409 and "at most 3 nights" in refused.json()["error"]
    assert sandbox.get(f"/_state/{slug}/reservations").json() == []
    assert sandbox.book(slug, "M1", "2027-08-01", "2027-08-04").status_code == 201
    # The maximum belongs to the arrival night: a longer stay arriving the next day is fine.
    assert sandbox.book(slug, "M1", "2027-08-04", "2027-08-10").status_code == 201


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [("12000", "JPY", "12000"), ("120.00", "EUR", "120.00"), ("12.345", "KWD", "12.345")],
)
def test_a_price_with_exactly_its_currencys_decimals_is_taken(sandbox, amount, currency, shown):
    answer = sandbox.post(RATES, data=rates("2027-07-01", "2027-07-01", amount, currency), auth=BOOKING_AUTH)
    assert b"<Success/>" in answer.content, answer.text
    [night] = sandbox.calendar("booking_com", "B1", "2027-07-01", "2027-07-02")
    assert (night["price"], night["currency"]) == (shown, currency)


@pytest.mark.parametrize(
    ("amount", "currency"), [("12000.00", "JPY"), ("12000.50", "JPY"), ("120", "EUR"), ("12.34", "KWD")]
)
def test_a_price_with_other_decimals_than_its_currency_is_refused(sandbox, amount, currency):
    sandbox.listing("booking_com", "B1")
    answer = sandbox.post(RATES, data=rates("2027-07-01", "2027-07-01", amount, currency), auth=BOOKING_AUTH)
    assert b'Code="320"' in answer.content and currency.encode() in answer.content
    assert sandbox.calendar("booking_com", "B1", "2027-07-01", "2027-07-02")[0]["price"] is None


def test_json_platforms_take_the_maximum_stay_up_to_their_ceiling(sandbox):
    headers = sandbox.bearer("airbnb")
    item = {
        "start_date": "2027-03-01",
        "end_date": "2027-03-02",
        "available": True,
        "min_nights": 1,
        "closed_to_arrival": False,
        "closed_to_departure": False,
    }
    ok = sandbox.put("/airbnb/v2/listings/L1/calendar", json={"ranges": [item | {"max_nights": 1125}]}, headers=headers)
    assert ok.status_code == 200, ok.text
    assert sandbox.calendar("airbnb", "L1", "2027-03-01", "2027-03-02")[0]["max_stay"] == 1125
    over = sandbox.put(
        "/airbnb/v2/listings/L1/calendar", json={"ranges": [item | {"max_nights": 1126}]}, headers=headers
    )
    assert over.status_code == 400 and "max_nights" in over.text
