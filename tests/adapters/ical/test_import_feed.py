import datetime as dt

import pytest

from adapters.base import (
    AvailabilityUpdate,
    BookingNotFoundError,
    BookingStatus,
    Capability,
    Credentials,
    PlatformAccount,
    PlatformAPIError,
    PricingUpdate,
    WebhookConfig,
    WebhookSignatureError,
)
from adapters.ical.adapter import IcalAdapter

from .conftest import FEED_URL, FIXTURES


def test_it_imports_every_event_as_a_confirmed_block_in_a_snapshot(adapter, http, public_dns):
    http.get(FEED_URL, body=(FIXTURES / "folded_crlf.ics").read_bytes(), content_type="text/calendar")
    page = adapter.fetch_bookings(since=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert page.is_snapshot
    assert page.cursor is None
    assert len(page.bookings) == 2
    block = next(b for b in page.bookings if b.channel_booking_id == "one-night@example.test")
    assert block.platform == "ical"
    assert block.kind == "block"
    assert block.status is BookingStatus.CONFIRMED
    assert block.listing_id == "unit-9"
    assert (block.check_in, block.check_out) == (dt.date(2027, 2, 10), dt.date(2027, 2, 11))
    assert block.raw_status == "Not available"


def test_it_finds_one_event_by_uid(adapter, http, public_dns):
    http.get(FEED_URL, body=(FIXTURES / "folded_crlf.ics").read_bytes())
    assert adapter.fetch_booking("one-night@example.test").check_in == dt.date(2027, 2, 10)


def test_a_uid_missing_from_the_feed_is_not_found(adapter, http, public_dns):
    http.get(FEED_URL, body=(FIXTURES / "folded_crlf.ics").read_bytes())
    with pytest.raises(BookingNotFoundError):
        adapter.fetch_booking("gone@example.test")


def test_a_page_that_is_not_a_calendar_is_a_permanent_error(adapter, http, public_dns):
    http.get(FEED_URL, body=b"<html>Log in</html>", content_type="text/html")
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_bookings()
    assert caught.value.permanent
    assert caught.value.code == "invalid_feed"


@pytest.mark.parametrize(("status", "permanent"), [(404, True), (403, True), (429, False), (503, False)])
def test_http_errors_map_to_permanent_or_transient(adapter, http, public_dns, status, permanent):
    http.get(FEED_URL, status=status)
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_bookings()
    assert caught.value.permanent is permanent
    assert caught.value.status == status


def test_a_connection_without_a_feed_url_is_a_permanent_error():
    adapter = IcalAdapter(PlatformAccount(listing_id="u", credentials=Credentials(), base_url=""))
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_bookings()
    assert caught.value.code == "no_feed_url"


def test_it_declares_only_what_a_feed_can_do(adapter):
    assert adapter.capabilities == frozenset({Capability.PULL_BOOKINGS, Capability.SNAPSHOT_FEED})
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_availability(AvailabilityUpdate("u", ()))
    assert caught.value.permanent
    with pytest.raises(PlatformAPIError):
        adapter.update_pricing(PricingUpdate("u", ()))
    with pytest.raises(WebhookSignatureError):
        IcalAdapter.verify_webhook_signature(headers={}, body=b"", config=WebhookConfig(), now=dt.datetime.now(dt.UTC))


def test_health_reports_the_event_count(adapter, http, public_dns):
    http.get(FEED_URL, body=(FIXTURES / "missing_dtend_lf.ics").read_bytes())
    result = adapter.check_health()
    assert result.healthy
    assert "4 events" in result.message


def test_health_reports_an_unreachable_feed(adapter, http, public_dns):
    http.get(FEED_URL, status=404)
    assert not adapter.check_health().healthy
