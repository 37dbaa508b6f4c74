"""iCal feeds are snapshots: events become blocks, and a block whose event left the feed is released."""

import pytest

from adapters.base import BookingData, BookingPage, BookingStatus
from channelmgr.inbound.importer import ical_snapshot_import
from channelmgr.inbound.tasks import poll_connection
from pms_core.models import Booking
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db

FEED_URL = "https://feeds.example.test/listing-1.ics"
FEED = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN\r\n"
    "BEGIN:VEVENT\r\nDTSTAMP:20270601T120000Z\r\nDTSTART;VALUE=DATE:20270701\r\nDTEND;VALUE=DATE:20270704\r\n"
    "SUMMARY:Reserved\r\nUID:a1@airbnb.com\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


@pytest.fixture
def feed(connect):
    return connect("ical", "listing-1", feed_url=FEED_URL)


def event(day, uid, start, end, version="0000000000-20270601T120000Z"):
    return BookingData(
        platform="ical",
        channel_booking_id=uid,
        listing_id="listing-1",
        status=BookingStatus.CONFIRMED,
        check_in=day(start),
        check_out=day(end),
        version=version,
        raw_status="Reserved",
        kind="block",
    )


def snapshot(*events):
    return BookingPage(bookings=tuple(events), cursor=None, is_snapshot=True)


def test_feed_events_become_blocks_scoped_by_the_connection(feed, day):
    counts = ical_snapshot_import(connection=feed, page=snapshot(event(day, "a1", 1, 4), event(day, "b2", 10, 12)))

    assert counts == {"created": 2}
    block = Booking.objects.get(channel_booking_id=f"{feed.pk}:a1")
    assert (block.kind, block.source, block.status, block.note) == ("block", "ical", "confirmed", "Reserved")


def test_an_event_that_left_the_feed_releases_its_nights(feed, unit, day):
    ical_snapshot_import(connection=feed, page=snapshot(event(day, "a1", 1, 4), event(day, "b2", 10, 12)))

    counts = ical_snapshot_import(connection=feed, page=snapshot(event(day, "b2", 10, 12)))

    assert counts == {"unchanged": 1, "removed": 1}
    assert Booking.objects.get(channel_booking_id=f"{feed.pk}:a1").status == Booking.Status.CANCELLED
    booking_create(unit=unit, check_in=day(1), check_out=day(4))  # free again


def test_a_moved_event_moves_its_block(feed, day):
    ical_snapshot_import(connection=feed, page=snapshot(event(day, "a1", 1, 4)))

    ical_snapshot_import(connection=feed, page=snapshot(event(day, "a1", 5, 7, version="0000000001-20270602T120000Z")))

    block = Booking.objects.get(channel_booking_id=f"{feed.pk}:a1")
    assert (block.check_in, block.check_out) == (day(5), day(7))


def test_an_event_that_comes_back_closes_its_nights_again(feed, day):
    ical_snapshot_import(connection=feed, page=snapshot(event(day, "a1", 1, 4)))
    # A glitch: the feed was empty once, and the removal was applied (the poll would hold it instead,
    # see test_ical_mass_removal_hold.py; here the reinstatement itself is under test).
    ical_snapshot_import(connection=feed, page=snapshot(), hold_mass_removal=False)

    ical_snapshot_import(connection=feed, page=snapshot(event(day, "a1", 1, 4, version="0000000000-20270603T0000Z")))

    live = Booking.objects.get(channel_booking_id=f"{feed.pk}:a1")
    assert live.status == Booking.Status.CONFIRMED
    assert Booking.objects.filter(source="ical", status=Booking.Status.CANCELLED).count() == 1


def test_a_block_on_sold_nights_is_overbooked_not_dropped(feed, unit, day):
    booking_create(unit=unit, check_in=day(2), check_out=day(3))

    counts = ical_snapshot_import(connection=feed, page=snapshot(event(day, "a1", 1, 4)))

    assert counts == {"overbooked": 1}


def test_another_feeds_blocks_are_left_alone(feed, connect, villa, day):
    from pms_core.models import Unit

    other = connect("ical", "listing-2", unit=Unit.objects.create(property=villa, name="Annex", base_price="80.00"))
    ical_snapshot_import(connection=other, page=snapshot(event(day, "z9", 1, 4)))

    ical_snapshot_import(connection=feed, page=snapshot())

    assert Booking.objects.get(channel_booking_id=f"{other.pk}:z9").status == Booking.Status.CONFIRMED


def test_polling_a_feed_reads_it_and_applies_the_snapshot(feed, platform_http, settings, day):
    settings.ALLOW_PRIVATE_NETWORK_FETCH = True
    platform_http.get(FEED_URL, body=FEED, content_type="text/calendar")

    poll_connection.fn(feed.pk)

    block = Booking.objects.get(source="ical")
    assert (block.check_in, block.check_out, block.channel_booking_id) == (day(1), day(4), f"{feed.pk}:a1@airbnb.com")


# --- a feed is the truth at the version it shows ------------------------------------------------------

STAMP = "0000000000-20270601T080000Z"  # SEQUENCE 0, the feed's fixed DTSTAMP: an unchanged event


def _feed(day, *numbers: int) -> BookingPage:
    return BookingPage(
        bookings=tuple(event(day, f"ev{n}", 1 + 3 * n, 3 + 3 * n, STAMP) for n in numbers),
        cursor=None,
        is_snapshot=True,
    )


def test_an_ical_event_that_returns_unchanged_after_leaving_the_feed_closes_its_nights_again(connect, day):
    """Five blocks; one poll's feed lacks ev4 (one of five: not a suspected glitch, so its block is
    cancelled at once); the next poll shows ev4 again, byte for byte. The feed holds ev4's nights again,
    so the PMS does. (The returning copy, at the version the cancelled row kept, used to be dismissed as
    stale before the reinstatement path was reached.)"""
    feed = connect("ical", "listing-1", feed_url="https://feeds.example.test/listing-1.ics")
    ical_snapshot_import(connection=feed, page=_feed(day, 0, 1, 2, 3, 4))
    assert ical_snapshot_import(connection=feed, page=_feed(day, 0, 1, 2, 3)).get("removed") == 1

    counts = ical_snapshot_import(connection=feed, page=_feed(day, 0, 1, 2, 3, 4))

    live = Booking.objects.filter(source="ical", channel_booking_id=f"{feed.pk}:ev4").exclude(
        status=Booking.Status.CANCELLED
    )
    assert live.exists(), f"ev4 is in the feed again but its nights stay released (import said {counts})"
    assert Booking.objects.active().filter(unit=feed.unit, check_in=day(13), check_out=day(15)).exists()


def test_a_feed_that_moves_an_event_without_bumping_its_version_moves_the_block(connect, day):
    """Some feeds stamp every event with a fixed DTSTAMP and no SEQUENCE: a moved event arrives at the
    version already stored. The feed shows where the block is now, so the block moves there."""
    feed = connect("ical", "listing-1", feed_url="https://feeds.example.test/listing-1.ics")
    ical_snapshot_import(connection=feed, page=_feed(day, 0, 1))
    moved = BookingPage(
        bookings=(event(day, "ev0", 1, 3, STAMP), event(day, "ev1", 20, 24, STAMP)), cursor=None, is_snapshot=True
    )

    assert ical_snapshot_import(connection=feed, page=moved) == {"unchanged": 1, "modified": 1}
    block = Booking.objects.get(channel_booking_id=f"{feed.pk}:ev1")
    assert (block.check_in, block.check_out, block.is_active) == (day(20), day(24), True)


def test_an_older_copy_of_the_feed_is_still_stale(connect, day):
    """A cached copy of the feed (a CDN) may be older than the last read: a strictly older version does
    not move a block back."""
    feed = connect("ical", "listing-1", feed_url="https://feeds.example.test/listing-1.ics")
    newer = event(day, "ev0", 5, 8, "0000000001-20270602T080000Z")
    ical_snapshot_import(connection=feed, page=BookingPage(bookings=(newer,), cursor=None, is_snapshot=True))
    older = BookingPage(bookings=(event(day, "ev0", 1, 3, STAMP),), cursor=None, is_snapshot=True)

    assert ical_snapshot_import(connection=feed, page=older) == {"stale": 1}
    block = Booking.objects.get(channel_booking_id=f"{feed.pk}:ev0")
    assert (block.check_in, block.check_out) == (day(5), day(8))
