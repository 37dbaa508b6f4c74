import datetime as dt
from decimal import Decimal

import pytest
from responses import matchers

from adapters.base import BookingNotFoundError, BookingStatus, Guest, PlatformAPIError

from .conftest import BASE


def rv(**overrides):
    raw = {
        "reservationId": "R-1",
        "listingId": "F-7",
        "status": "BOOKED",
        "arrivalDate": "2027-05-01",
        "departureDate": "2027-05-08",
        "guest": {"name": "Bob Baker", "email": "b@example.com", "phone": "+49"},
        "adults": 2,
        "children": 1,
        "totalAmount": {"amount": "700.00", "currency": "EUR"},
        "lastModified": "2027-01-01T10:00:00Z",
        "revision": 4,
    }
    raw.update(overrides)
    return raw


def test_it_fetches_a_booking_with_the_api_key(adapter, http):
    http.get(
        f"{BASE}/v1/reservations/R-1",
        match=[matchers.header_matcher({"X-Api-Key": "key-1"})],
        json=rv(),
    )
    booking = adapter.fetch_booking("R-1")
    assert booking.channel_booking_id == "R-1"
    assert booking.status is BookingStatus.CONFIRMED
    assert (booking.check_in, booking.check_out) == (dt.date(2027, 5, 1), dt.date(2027, 5, 8))
    assert booking.guest == Guest("Bob Baker", "b@example.com", "+49")
    assert booking.guests_count == 3
    assert (booking.total_amount, booking.currency) == (Decimal("700.00"), "EUR")
    assert booking.version == "0000000004"


def test_a_cancelled_reservation_is_cancelled(adapter, http):
    http.get(f"{BASE}/v1/reservations/R-1", json=rv(status="CANCELLED"))
    assert adapter.fetch_booking("R-1").status is BookingStatus.CANCELLED


def test_an_unknown_booking_is_not_found(adapter, http):
    http.get(f"{BASE}/v1/reservations/R-9", status=404, json={"errors": [{"code": "NOT_FOUND", "message": "no"}]})
    with pytest.raises(BookingNotFoundError):
        adapter.fetch_booking("R-9")


def test_a_wrong_api_key_is_permanent(adapter, http):
    http.get(
        f"{BASE}/v1/reservations/R-1",
        status=401,
        json={"errors": [{"code": "UNAUTHORIZED", "message": "bad key"}]},
    )
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_booking("R-1")
    assert caught.value.permanent
    assert caught.value.code == "UNAUTHORIZED"


def test_it_pages_by_page_number_until_there_is_no_more(adapter, http):
    url = f"{BASE}/v1/listings/F-7/reservations"
    since = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    http.get(
        url,
        match=[matchers.query_param_matcher({"page": "1", "modifiedSince": "2027-01-01T00:00:00Z"})],
        json={"items": [rv()], "page": 1, "hasMore": True},
    )
    http.get(
        url,
        match=[matchers.query_param_matcher({"page": "2", "modifiedSince": "2027-01-01T00:00:00Z"})],
        json={"items": [rv(reservationId="R-2")], "page": 2, "hasMore": False},
    )
    first = adapter.fetch_bookings(since=since)
    assert first.cursor == "2"
    second = adapter.fetch_bookings(since=since, cursor=first.cursor)
    assert [b.channel_booking_id for b in second.bookings] == ["R-2"]
    assert second.cursor is None
