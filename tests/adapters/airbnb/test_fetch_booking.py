import datetime as dt
from decimal import Decimal

import pytest
from responses import matchers

from adapters.base import BookingNotFoundError, BookingStatus, Guest, PlatformAPIError

from .conftest import BASE


def reservation(**overrides):
    raw = {
        "confirmation_code": "HMABC123",
        "listing_id": "L-100",
        "status": "accepted",
        "start_date": "2027-03-01",
        "end_date": "2027-03-05",
        "guest": {
            "first_name": "Alice",
            "last_name": "Archer",
            "email": "a@example.com",
            "phone": "+4912",
        },
        "number_of_guests": 2,
        "total_price": "480.00",
        "currency": "EUR",
        "updated_at": "2027-01-01T10:00:00Z",
        "version": 7,
    }
    raw.update(overrides)
    return raw


def test_it_fetches_a_booking_with_the_bearer_token(adapter, http):
    http.get(
        f"{BASE}/v2/reservations/HMABC123",
        match=[matchers.header_matcher({"Authorization": "Bearer at-1"})],
        json={"reservation": reservation()},
    )
    booking = adapter.fetch_booking("HMABC123")
    assert booking.platform == "airbnb"
    assert booking.channel_booking_id == "HMABC123"
    assert booking.listing_id == "L-100"
    assert booking.status is BookingStatus.CONFIRMED
    assert (booking.check_in, booking.check_out) == (
        dt.date(2027, 3, 1),
        dt.date(2027, 3, 5),
    )
    assert booking.guest == Guest(name="Alice Archer", email="a@example.com", phone="+4912")
    assert booking.guests_count == 2
    assert booking.total_amount == Decimal("480.00")
    assert booking.currency == "EUR"
    assert booking.version == "0000000007"
    assert booking.kind == "reservation"


def test_versions_sort_as_strings_in_revision_order(adapter, http):
    http.get(f"{BASE}/v2/reservations/A", json={"reservation": reservation(version=9)})
    http.get(f"{BASE}/v2/reservations/B", json={"reservation": reservation(version=10)})
    assert adapter.fetch_booking("A").version < adapter.fetch_booking("B").version


@pytest.mark.parametrize("raw_status", ["cancelled", "denied"])
def test_cancelled_and_denied_reservations_are_cancelled(adapter, http, raw_status):
    http.get(
        f"{BASE}/v2/reservations/HMABC123",
        json={"reservation": reservation(status=raw_status)},
    )
    booking = adapter.fetch_booking("HMABC123")
    assert booking.status is BookingStatus.CANCELLED
    assert booking.raw_status == raw_status


def test_an_unknown_booking_is_not_found(adapter, http):
    http.get(
        f"{BASE}/v2/reservations/NOPE",
        status=404,
        json={"error": "not_found", "error_message": "no such reservation"},
    )
    with pytest.raises(BookingNotFoundError) as caught:
        adapter.fetch_booking("NOPE")
    assert caught.value.permanent
    assert caught.value.status == 404


def test_an_expired_token_asks_the_engine_to_refresh_and_retry(adapter, http):
    http.get(f"{BASE}/v2/reservations/HMABC123", status=401, json={"error": "invalid_token"})
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_booking("HMABC123")
    assert caught.value.code == "token_expired"
    assert not caught.value.permanent


def test_a_malformed_reservation_is_a_transient_error(adapter, http):
    http.get(f"{BASE}/v2/reservations/HMABC123", json={"reservation": {"status": "accepted"}})
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_booking("HMABC123")
    assert caught.value.code == "invalid_response"
    assert not caught.value.permanent


def test_a_server_error_is_transient(adapter, http):
    http.get(f"{BASE}/v2/reservations/HMABC123", status=502, body="bad gateway")
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_booking("HMABC123")
    assert not caught.value.permanent
    assert caught.value.status == 502
