"""read_feed: an event whose dates cannot be read is reported apart, with its UID, and the rest reads."""

import datetime as dt

from adapters.ical.adapter import FeedPage
from adapters.ical.feed import InvalidEvent, read_feed

from .conftest import FEED_URL, FIXTURES

GOOD = "BEGIN:VEVENT\r\nUID:good@x.test\r\nDTSTAMP:20270101T000000Z\r\nDTSTART;VALUE=DATE:20270601\r\nEND:VEVENT\r\n"
NO_START = "BEGIN:VEVENT\r\nUID:no-start@x.test\r\nDTEND;VALUE=DATE:20270605\r\nEND:VEVENT\r\n"
BAD_DURATION = (
    "BEGIN:VEVENT\r\nUID:bad-duration@x.test\r\nDTSTART;VALUE=DATE:20270601\r\nDURATION:soon\r\nEND:VEVENT\r\n"
)
BAD_END_NO_UID = "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270601\r\nDTEND;VALUE=DATE:2027-13-45\r\nEND:VEVENT\r\n"


def feed(*events):
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def test_unreadable_events_are_reported_apart_and_the_rest_reads():
    reading = read_feed(feed(NO_START, GOOD, BAD_DURATION, BAD_END_NO_UID))

    assert [e.uid for e in reading.events] == ["good@x.test"]
    assert [e.uid for e in reading.invalid] == ["no-start@x.test", "bad-duration@x.test", ""]
    assert "DTSTART" in reading.invalid[0].reason
    assert "DURATION" in reading.invalid[1].reason
    assert "DTEND" in reading.invalid[2].reason


def test_the_adapter_page_carries_the_unreadable_events(adapter, http, public_dns):
    http.get(FEED_URL, body=(FIXTURES / "unreadable_dtstart.ics").read_bytes())

    page = adapter.fetch_bookings()

    assert isinstance(page, FeedPage) and page.is_snapshot
    assert page.bookings == ()
    assert page.invalid == (InvalidEvent(uid="broken@example.test", reason=page.invalid[0].reason),)
    assert "DTSTART" in page.invalid[0].reason


def test_health_names_the_unreadable_events(adapter, http, public_dns):
    http.get(FEED_URL, body=feed(GOOD, NO_START).encode())

    result = adapter.check_health()

    assert result.healthy
    assert result.message == "feed readable, 1 events, 1 unreadable"
    assert dt.date(2027, 6, 1) == read_feed(feed(GOOD)).events[0].start
