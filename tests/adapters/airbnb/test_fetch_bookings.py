import datetime as dt

from responses import matchers

from .conftest import BASE
from .test_fetch_booking import reservation

URL = f"{BASE}/v2/listings/L-100/reservations"


def test_it_pages_with_updated_since_and_the_cursor(adapter, http):
    since = dt.datetime(2027, 1, 1, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    http.get(
        URL,
        match=[matchers.query_param_matcher({"updated_since": "2027-01-01T10:00:00Z"})],
        json={
            "reservations": [reservation(confirmation_code="A")],
            "next_cursor": "c-2",
        },
    )
    http.get(
        URL,
        match=[matchers.query_param_matcher({"updated_since": "2027-01-01T10:00:00Z", "cursor": "c-2"})],
        json={
            "reservations": [reservation(confirmation_code="B")],
            "next_cursor": None,
        },
    )
    first = adapter.fetch_bookings(since=since)
    assert [b.channel_booking_id for b in first.bookings] == ["A"]
    assert first.cursor == "c-2"
    assert not first.is_snapshot
    second = adapter.fetch_bookings(since=since, cursor=first.cursor)
    assert [b.channel_booking_id for b in second.bookings] == ["B"]
    assert second.cursor is None


def test_without_since_it_asks_for_everything(adapter, http):
    http.get(
        URL,
        match=[matchers.query_param_matcher({})],
        json={"reservations": [], "next_cursor": None},
    )
    page = adapter.fetch_bookings()
    assert page.bookings == ()
    assert page.cursor is None
