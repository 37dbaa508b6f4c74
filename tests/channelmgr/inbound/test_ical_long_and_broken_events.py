"""Real feeds are messy: closures longer than a stay import clipped to the sync window, and one
malformed event fails only itself (reported on the sync log, counted) while the rest of the feed applies."""

import datetime as dt

import pytest
import responses
import time_machine
from prometheus_client import REGISTRY

from adapters.base import BookingData, BookingPage, BookingStatus
from channelmgr.inbound import importer
from channelmgr.inbound.importer import ical_snapshot_import
from channelmgr.inbound.tasks import poll_connection
from channelmgr.models import ChannelConnection, SyncLog
from pms_core.models import Booking

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("june_first", "public_feed_host")]

FEED_URL = "https://feeds.example.test/booking-closures.ics"
# The property (Europe/Berlin) is on 2027-06-01 all through these tests, so the sync window is
# [2027-06-01, 2028-05-31) with the default SYNC_WINDOW_DAYS of 365.
NOW = dt.datetime(2027, 6, 1, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2027, 6, 1)
WINDOW_END = dt.date(2028, 5, 31)


def vevent(uid, start, end=None, *, summary="CLOSED - Not available", stamp="20270601T080000Z", raw_start=None):
    lines = ["BEGIN:VEVENT", f"DTSTAMP:{stamp}"]
    lines.append(f"DTSTART;VALUE=DATE:{raw_start or start.strftime('%Y%m%d')}")
    if end is not None:
        lines.append(f"DTEND;VALUE=DATE:{end.strftime('%Y%m%d')}")
    lines += [f"UID:{uid}", f"SUMMARY:{summary}", "END:VEVENT"]
    return "\r\n".join(lines) + "\r\n"


def calendar(*events):
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//admin.booking.com\\\\\\, b.v.//NONSGML v1.0//EN\r\n"
    return head + "".join(events) + "END:VCALENDAR\r\n"


# Booking.com's "closed" export: 540 nights, started well before today and ending past the window.
LONG_START, LONG_END = dt.date(2027, 1, 1), dt.date(2028, 6, 24)
assert (LONG_END - LONG_START).days == 540


@pytest.fixture
def feed(connect):
    return connect("ical", "booking-closures", feed_url=FEED_URL)


def serve(platform_http, body):
    """The feed answers ``body`` from now on."""
    platform_http.upsert(responses.GET, FEED_URL, body=body, content_type="text/calendar")


def block(feed, uid):
    return Booking.objects.get(source="ical", channel_booking_id=f"{feed.pk}:{uid}")


def invalid_count():
    return (
        REGISTRY.get_sample_value("channel_manager_bookings_imported_total", {"platform": "ical", "action": "invalid"})
        or 0
    )


def test_a_540_night_closure_and_a_malformed_event_the_closure_applies_clipped_the_bad_event_is_reported(
    feed, platform_http
):
    closed_from = dt.date(2027, 9, 1)  # 540 nights from here run 9 months past the window's end
    body = calendar(
        vevent("long@booking.com", closed_from, closed_from + dt.timedelta(days=540)),
        vevent("broken@booking.com", None, raw_start="2027XX01"),
        vevent("short@booking.com", dt.date(2027, 7, 10), dt.date(2027, 7, 14)),
    )
    serve(platform_http, body)
    before = invalid_count()

    poll_connection.fn(feed.pk)

    long = block(feed, "long@booking.com")
    assert (long.check_in, long.check_out, long.status) == (closed_from, WINDOW_END, Booking.Status.CONFIRMED)
    assert long.note == "CLOSED - Not available"
    short = block(feed, "short@booking.com")
    assert (short.check_in, short.check_out) == (dt.date(2027, 7, 10), dt.date(2027, 7, 14))
    assert not Booking.objects.filter(channel_booking_id=f"{feed.pk}:broken@booking.com").exists()

    log = SyncLog.objects.get(connection=feed)
    assert log.status == SyncLog.Status.SUCCESS
    assert log.details["actions"] == {"created": 2, "invalid": 1}
    [problem] = log.details["refused"]
    assert "broken@booking.com" in problem and "DTSTART" in problem
    assert invalid_count() == before + 1
    feed.refresh_from_db()
    assert feed.status == ChannelConnection.Status.ACTIVE  # one bad event does not fail the feed
    assert feed.last_error == ""


def test_the_clipped_closure_read_again_is_unchanged_and_moves_only_when_the_window_does(feed, platform_http):
    serve(platform_http, calendar(vevent("long@booking.com", LONG_START, LONG_END)))
    poll_connection.fn(feed.pk)

    # The same export again, and one stamped later (Booking.com stamps every export): no change.
    poll_connection.fn(feed.pk)
    serve(platform_http, calendar(vevent("long@booking.com", LONG_START, LONG_END, stamp="20270601T093000Z")))
    poll_connection.fn(feed.pk)

    first, same, restamped = SyncLog.objects.filter(connection=feed).order_by("id")
    assert first.details["actions"] == {"created": 1}
    assert same.details["actions"] == {"unchanged": 1}
    assert restamped.details["actions"] == {"unchanged": 1}
    assert (block(feed, "long@booking.com").check_in, block(feed, "long@booking.com").check_out) == (
        TODAY,
        WINDOW_END,
    )

    with time_machine.travel(NOW + dt.timedelta(days=1)):
        poll_connection.fn(feed.pk)
        poll_connection.fn(feed.pk)

    *_, moved, settled = SyncLog.objects.filter(connection=feed).order_by("id")
    assert moved.details["actions"] == {"modified": 1}
    assert settled.details["actions"] == {"unchanged": 1}
    long = block(feed, "long@booking.com")
    assert (long.check_in, long.check_out) == (TODAY + dt.timedelta(days=1), WINDOW_END + dt.timedelta(days=1))
    assert Booking.objects.filter(source="ical").count() == 1


def test_a_closure_wholly_outside_the_window_holds_nothing_and_is_not_a_removal(feed, platform_http):
    far = dt.date(2029, 1, 1)
    serve(
        platform_http,
        calendar(
            vevent("far@booking.com", far, far + dt.timedelta(days=400)),
            vevent("short@booking.com", dt.date(2027, 7, 10), dt.date(2027, 7, 14)),
        ),
    )

    poll_connection.fn(feed.pk)

    assert SyncLog.objects.get(connection=feed).details["actions"] == {"outside_window": 1, "created": 1}
    assert list(Booking.objects.filter(source="ical").values_list("channel_booking_id", flat=True)) == [
        f"{feed.pk}:short@booking.com"
    ]


def test_a_short_event_is_stored_whole_past_nights_and_all(feed, platform_http):
    serve(platform_http, calendar(vevent("past@airbnb.com", dt.date(2027, 5, 20), dt.date(2027, 6, 5))))

    poll_connection.fn(feed.pk)

    past = block(feed, "past@airbnb.com")
    assert (past.check_in, past.check_out) == (dt.date(2027, 5, 20), dt.date(2027, 6, 5))


def test_an_event_that_turns_malformed_keeps_its_block(feed, platform_http):
    events = [vevent(f"e{n}@booking.com", dt.date(2027, 7, 1 + 3 * n), dt.date(2027, 7, 3 + 3 * n)) for n in range(3)]
    serve(platform_http, calendar(*events))
    poll_connection.fn(feed.pk)

    serve(platform_http, calendar(events[0], events[1], vevent("e2@booking.com", None, raw_start="2027XX01")))
    poll_connection.fn(feed.pk)

    assert block(feed, "e2@booking.com").status == Booking.Status.CONFIRMED  # not "left the feed"
    last = SyncLog.objects.filter(connection=feed).order_by("id").last()
    assert last.details["actions"] == {"unchanged": 2, "invalid": 1}


def test_a_setting_that_makes_the_clip_too_long_for_the_pms_fails_only_that_event(feed, platform_http, settings):
    settings.SYNC_WINDOW_DAYS = 400  # longer than MAX_STAY_NIGHTS: the PMS refuses the clipped closure
    serve(
        platform_http,
        calendar(
            vevent("long@booking.com", LONG_START, LONG_END),
            vevent("short@booking.com", dt.date(2027, 7, 10), dt.date(2027, 7, 14)),
        ),
    )

    poll_connection.fn(feed.pk)

    log = SyncLog.objects.get(connection=feed)
    assert log.status == SyncLog.Status.SUCCESS
    assert log.details["actions"] == {"invalid": 1, "created": 1}
    [problem] = log.details["refused"]
    assert "long@booking.com" in problem and "refused" in problem and "365" in problem


# --- straight through the importer: what the PMS refuses, and a database error, stay isolated ---------


def data(uid, start, end, version="0000000000-20270601T080000Z"):
    return BookingData(
        platform="ical",
        channel_booking_id=uid,
        listing_id="booking-closures",
        status=BookingStatus.CONFIRMED,
        check_in=start,
        check_out=end,
        version=version,
        raw_status="CLOSED - Not available",
        kind="block",
    )


def snapshot(*events):
    return BookingPage(bookings=tuple(events), cursor=None, is_snapshot=True)


def test_a_range_the_pms_refuses_fails_only_itself_and_keeps_its_block(feed, day):
    ical_snapshot_import(connection=feed, page=snapshot(data("a", day(1), day(3)), data("b", day(5), day(7))))
    problems = []

    counts = ical_snapshot_import(
        connection=feed,
        # "a" now ends before it starts
        page=snapshot(data("a", day(3), day(1), version="0000000001-20270601T090000Z"), data("c", day(9), day(11))),
        problems=problems,
    )

    assert counts == {"invalid": 1, "created": 1, "removed": 1}
    assert block(feed, "a").status == Booking.Status.CONFIRMED
    assert block(feed, "b").status == Booking.Status.CANCELLED
    assert block(feed, "c").status == Booking.Status.CONFIRMED
    assert len(problems) == 1 and problems[0].startswith("event a: refused")


def test_a_database_error_on_one_event_is_rolled_back_alone(feed, day, monkeypatch):
    ical_snapshot_import(connection=feed, page=snapshot(data("a", day(1), day(3))))
    real_import = importer.booking_import

    def exploding(*, connection, data, snapshot=False):
        if data.channel_booking_id == "boom":
            # A second row under a channel id we hold: the database's unique constraint refuses it.
            Booking.objects.create(
                unit=connection.unit,
                kind=Booking.Kind.BLOCK,
                check_in=day(20),
                check_out=day(21),
                source="ical",
                channel_booking_id=f"{connection.pk}:a",
            )
        return real_import(connection=connection, data=data, snapshot=snapshot)

    monkeypatch.setattr(importer, "booking_import", exploding)
    problems = []

    counts = ical_snapshot_import(
        connection=feed,
        page=snapshot(data("a", day(1), day(3)), data("boom", day(5), day(6)), data("c", day(9), day(11))),
        problems=problems,
    )

    assert counts == {"unchanged": 1, "invalid": 1, "created": 1}
    assert "IntegrityError" in problems[0] or "UNIQUE" in problems[0].upper()
    # The savepoint rolled back the stray row alone; the transaction goes on.
    assert list(
        Booking.objects.filter(source="ical").order_by("check_in").values_list("channel_booking_id", "status")
    ) == [(f"{feed.pk}:a", "confirmed"), (f"{feed.pk}:c", "confirmed")]
