import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.base import BookingNotFoundError, BookingStatus, PlatformAPIError, TokenRefreshError
from adapters.google.adapter import GoogleAdapter
from adapters.google.keys import GOOGLE_JWKS_URL, fetch_jwks
from tests.adapters.google.conftest import BASE

G = {
    "reservationId": "G-1",
    "listingId": "villa-9",
    "status": "CONFIRMED",
    "checkIn": "2027-07-10",
    "checkOut": "2027-07-12",
    "guest": {"givenName": "Gina", "familyName": "Guest", "email": "gina@example.test", "phone": "+1 555"},
    "guestCount": 3,
    "total": {"amount": "480.00", "currencyCode": "EUR"},
    "updateTime": "2027-06-01T10:00:00Z",
    "revision": 4,
}


def test_the_authorize_url_carries_client_redirect_and_state():
    url = GoogleAdapter.authorize_url(base_url=BASE, client_id="c", redirect_uri="https://cm.test/cb", state="s1")
    parts = urlsplit(url)
    assert parts.path == "/google/oauth2/authorize"
    query = parse_qs(parts.query)
    assert query["response_type"] == ["code"]
    assert (query["client_id"], query["redirect_uri"], query["state"]) == (["c"], ["https://cm.test/cb"], ["s1"])


def test_exchanging_a_code_returns_both_tokens(adapter, http):
    http.post(f"{BASE}/oauth2/token", json={"access_token": "a2", "refresh_token": "r2", "expires_in": 3600})
    tokens = adapter.exchange_code(code="code-1", redirect_uri="https://cm.test/cb")
    assert (tokens.access_token, tokens.refresh_token) == ("a2", "r2")
    form = parse_qs(http.calls[0].request.body)
    assert form["grant_type"] == ["authorization_code"]
    assert form["client_secret"] == ["sandbox-google-secret"]


def test_a_refresh_returns_the_new_pair(adapter, http):
    http.post(f"{BASE}/oauth2/token", json={"access_token": "a3", "refresh_token": "r3", "expires_in": 60})
    tokens = adapter.refresh_access_token()
    assert tokens.refresh_token == "r3"
    assert parse_qs(http.calls[0].request.body)["refresh_token"] == ["1//refresh"]
    assert tokens.expires_at > dt.datetime.now(dt.UTC)


def test_invalid_grant_is_a_token_refresh_error(adapter, http):
    http.post(f"{BASE}/oauth2/token", status=400, json={"error": "invalid_grant"})
    with pytest.raises(TokenRefreshError) as caught:
        adapter.refresh_access_token()
    assert caught.value.permanent
    assert caught.value.code == "invalid_grant"


def test_a_token_endpoint_outage_is_transient(adapter, http):
    http.post(f"{BASE}/oauth2/token", status=503)
    with pytest.raises(PlatformAPIError) as caught:
        adapter.refresh_access_token()
    assert not caught.value.permanent
    assert not isinstance(caught.value, TokenRefreshError)


def test_fetch_booking_maps_the_reservation_json(adapter, http):
    http.get(f"{BASE}/v1/reservations/G-1", json={"reservation": G})
    booking = adapter.fetch_booking("G-1")
    assert http.calls[0].request.headers["Authorization"] == "Bearer ya29.token"
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.check_in, booking.check_out) == (dt.date(2027, 7, 10), dt.date(2027, 7, 12))
    assert (booking.guest.name, booking.guests_count) == ("Gina Guest", 3)
    assert (booking.total_amount, booking.currency) == (Decimal("480.00"), "EUR")
    assert booking.version == "0000000004"


def test_an_unknown_booking_is_not_found(adapter, http):
    http.get(f"{BASE}/v1/reservations/nope", status=404, json={"error": "not_found"})
    with pytest.raises(BookingNotFoundError):
        adapter.fetch_booking("nope")


def test_fetch_bookings_pages_with_the_page_token(adapter, http):
    http.get(f"{BASE}/v1/listings/villa-9/reservations", json={"reservations": [G], "nextPageToken": "p2"})
    page = adapter.fetch_bookings(since=dt.datetime(2027, 6, 1, tzinfo=dt.UTC), cursor="p1")
    assert http.calls[0].request.params == {"updatedSince": "2027-06-01T00:00:00Z", "pageToken": "p1"}
    assert page.cursor == "p2"
    assert page.bookings[0].channel_booking_id == "G-1"


def test_health_reads_the_partner(adapter, http):
    http.get(f"{BASE}/v1/partner", json={"partner": "sandbox"})
    assert adapter.check_health().healthy


def test_fetch_jwks_goes_through_the_http_module(http):
    http.get(GOOGLE_JWKS_URL, json={"keys": [{"kid": "k1", "kty": "RSA", "n": "x", "e": "AQAB"}]})
    assert fetch_jwks()["keys"][0]["kid"] == "k1"


def test_a_jwks_without_keys_is_an_error(http):
    http.get("https://keys.test/certs", json={"nope": 1})
    with pytest.raises(PlatformAPIError):
        fetch_jwks("https://keys.test/certs")
