"""iCal both ways, and the echo loop between our export and a platform that imports it.

A platform that imports our export (Airbnb's "import calendar") shows the nights it read from us as
blocked in ITS export ("Airbnb (Not available)", its own UIDs). We import that export as blocks. When
a stay is cancelled here, the platform's export still shows the nights until it re-reads ours (hours);
the nights may only stay closed that long, never for good.

Found in review (2026-12): each test whose docstring starts "Used to fail" failed before its fix
(``importer._ical_echo``); the others pin what held already.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import urlsplit

import pytest
import responses
import time_machine
from django.test import Client

from adapters.ical.feed import parse_feed
from channelmgr.inbound.tasks import poll_connection
from channelmgr.services.ical_export import ical_export_for, ical_export_url, ical_feed
from pms_core.models import Booking
from pms_core.services import booking_cancel, booking_create, calendar_block

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("public_feed_host")]

FEED_URL = "https://feeds.example.test/airbnb-listing.ics"
START = dt.datetime(2027, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def feed(connect):
    return connect("ical", "airbnb-listing", feed_url=FEED_URL)


@pytest.fixture
def export_path(unit) -> str:
    return urlsplit(ical_export_url(ical_export_for(unit))).path


def our_export(export_path) -> list[tuple[dt.date, dt.date]]:
    answer = Client().get(export_path)
    assert answer.status_code == 200
    return sorted((e.start, e.end) for e in parse_feed(answer.content))


class FakeAirbnb:
    """A platform that imports our export on its own schedule and re-exports what it holds in Airbnb's
    style: nights it read from an imported calendar are "Airbnb (Not available)" runs under its own UIDs."""

    def __init__(self, export_path: str):
        self.export_path = export_path
        self.closed: list[tuple[dt.date, dt.date]] = []

    def read_our_export(self) -> None:
        runs: list[list[dt.date]] = []
        for start, end in our_export(self.export_path):
            if runs and start <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], end)
            else:
                runs.append([start, end])
        self.closed = [(s, e) for s, e in runs]

    def export(self, now: dt.datetime) -> str:
        events = "".join(
            f"BEGIN:VEVENT\r\nDTSTAMP:{now:%Y%m%dT%H%M%SZ}\r\nDTSTART;VALUE=DATE:{s:%Y%m%d}\r\n"
            f"DTEND;VALUE=DATE:{e:%Y%m%d}\r\nSUMMARY:Airbnb (Not available)\r\n"
            f"UID:7f662ec65913-{hashlib.md5(f'{s}{e}'.encode()).hexdigest()}@airbnb.com\r\nEND:VEVENT\r\n"
            for s, e in self.closed
        )
        return (
            "BEGIN:VCALENDAR\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\nCALSCALE:GREGORIAN\r\n"
            "VERSION:2.0\r\n" + events + "END:VCALENDAR\r\n"
        )


def closed_here(unit, start: dt.date, end: dt.date) -> list[Booking]:
    return list(Booking.objects.active().filter(unit=unit, check_in__lt=end, check_out__gt=start))


def run_schedule(
    traveller, *, hours: float, platform: FakeAirbnb, feed, platform_http, reread_every=180, poll_every=15
):
    """Advance time minute by 15 minutes: we poll the platform's export every ``poll_every`` minutes, the
    platform re-reads ours every ``reread_every`` minutes."""
    for minute in range(0, int(hours * 60), 15):
        if minute % reread_every == 0:
            platform.read_our_export()
        if minute % poll_every == 0:
            now = dt.datetime.now(dt.UTC)
            platform_http.upsert(responses.GET, FEED_URL, body=platform.export(now), content_type="text/calendar")
            poll_connection.fn(feed.pk)
        traveller.shift(dt.timedelta(minutes=15))


# --- the echo loop -------------------------------------------------------------------------------


def test_a_cancelled_stay_echoed_back_by_a_platform_that_imports_our_export_keeps_its_nights_closed_for_ever(
    feed, unit, day, export_path, platform_http
):
    """Used to fail: the echo loop. A direct stay (nights 1-4) goes out in our export; Airbnb imports it and
    re-exports the nights as "Airbnb (Not available)"; we import that as a block of our own, and our
    export (which carries every active stay, feed-imported blocks included) shows it to Airbnb again.
    After the guest cancels, the block fed by Airbnb's echo keeps the nights in our export, so Airbnb
    keeps them, so we keep the block: three days later the nights are still closed here and on every
    platform. The manager loses every night of every cancelled stay on every channel, silently."""
    with time_machine.travel(START, tick=False) as traveller:
        airbnb = FakeAirbnb(export_path)
        stay = booking_create(unit=unit, check_in=day(1), check_out=day(4), guest_name="Ada")
        run_schedule(traveller, hours=6, platform=airbnb, feed=feed, platform_http=platform_http)
        assert airbnb.closed == [(day(1), day(4))]  # the platform took our stay, as it should

        booking_cancel(booking=stay)
        run_schedule(traveller, hours=72, platform=airbnb, feed=feed, platform_http=platform_http)

        # Once the platform re-read our export after the cancellation (3 h), the nights must be open.
        assert our_export(export_path) == []
        assert airbnb.closed == []
        assert closed_here(unit, day(1), day(4)) == []


def test_the_echo_of_our_own_stay_is_not_reported_as_an_overbooking(feed, unit, day, export_path, platform_http):
    """Used to fail: Airbnb re-exports the nights of our own stay as "Airbnb (Not available)"; we import that echo
    as a block on the very nights of the stay, so it is stored ``overbooked``: every stay we export turns
    into a false overbooking on the staff home (and in the double-booking metric) a poll after the
    platform read our export. Staff learn to ignore the overbooking queue, and miss the real ones."""
    with time_machine.travel(START, tick=False) as traveller:
        airbnb = FakeAirbnb(export_path)
        booking_create(unit=unit, check_in=day(1), check_out=day(4), guest_name="Ada")
        run_schedule(traveller, hours=4, platform=airbnb, feed=feed, platform_http=platform_http)

    assert not Booking.objects.filter(unit=unit, status=Booking.Status.OVERBOOKED).exists()


def test_our_own_export_read_back_as_a_feed_is_recognised_by_its_uids(feed, unit, day, export_path, platform_http):
    """Used to fail: a feed that carries our own UIDs (``booking-<pk>@<our host>``: the host pasted our export URL as
    an import, or a calendar tool passed our events through with their UIDs) is imported like any other.
    Every stay gets a block of its own echo; after the stay is cancelled the echo block is exported under a
    new UID of ours, read back as another block, and so on: the nights never open. Our UID domain is the
    one sure sign of an echo and nothing checks it."""
    with time_machine.travel(START, tick=False) as traveller:
        stay = booking_create(unit=unit, check_in=day(1), check_out=day(4))

        def poll_our_own_export():
            platform_http.upsert(
                responses.GET, FEED_URL, body=Client().get(export_path).content, content_type="text/calendar"
            )
            poll_connection.fn(feed.pk)
            traveller.shift(dt.timedelta(minutes=15))

        poll_our_own_export()
        booking_cancel(booking=stay)
        for _ in range(8):  # two hours of polls
            poll_our_own_export()

        assert closed_here(unit, day(1), day(4)) == []


def test_a_shortened_stay_reopens_its_freed_nights_despite_the_echo(feed, unit, day, export_path, platform_http):
    """Used to fail: same loop on a modification. A stay of nights 1-6 is shortened to 1-3 here; Airbnb's echo of
    1-6 is a block of ours, exported back, so nights 3-6 stay closed everywhere for good although nothing
    but the echo holds them."""
    from pms_core.services import booking_modify

    with time_machine.travel(START, tick=False) as traveller:
        airbnb = FakeAirbnb(export_path)
        stay = booking_create(unit=unit, check_in=day(1), check_out=day(6), guest_name="Ada")
        run_schedule(traveller, hours=6, platform=airbnb, feed=feed, platform_http=platform_http)

        booking_modify(booking=stay, check_in=day(1), check_out=day(3))
        run_schedule(traveller, hours=24, platform=airbnb, feed=feed, platform_http=platform_http)

        assert closed_here(unit, day(3), day(6)) == []
        assert airbnb.closed == [(day(1), day(3))]


# --- the export: what it holds (pinning) ----------------------------------------------------------


def test_the_export_carries_overbooked_stays_and_blocks_held_back_by_a_mass_removal_hold(
    feed, unit, day, export_path, platform_http
):
    """Pin: an overbooked stay holds its nights, so does a block whose removal the mass-removal hold keeps."""
    from adapters.base import BookingData, BookingPage, BookingStatus
    from channelmgr.inbound.importer import ical_snapshot_import

    with time_machine.travel(START, tick=False):
        booking_create(unit=unit, check_in=day(1), check_out=day(4))
        booking_create(unit=unit, check_in=day(2), check_out=day(5), overbook_on_clash=True)
        data = BookingData(
            platform="ical",
            channel_booking_id="ev1@airbnb.com",
            listing_id="airbnb-listing",
            status=BookingStatus.CONFIRMED,
            check_in=day(10),
            check_out=day(12),
            version="0000000000-20270601T080000Z",
            raw_status="Reserved",
            kind="block",
        )
        ical_snapshot_import(connection=feed, page=BookingPage(bookings=(data,), cursor=None, is_snapshot=True))
        ical_snapshot_import(connection=feed, page=BookingPage(bookings=(), cursor=None, is_snapshot=True))
        feed.refresh_from_db()
        assert feed.ical_hold is not None

        assert our_export(export_path) == [(day(1), day(4)), (day(2), day(5)), (day(10), day(12))]


def test_the_export_of_a_unit_with_hundreds_of_stays_is_one_answer_of_few_queries(
    unit, day, export_path, django_assert_max_num_queries
):
    """Pin: 400 stays, every one in the feed, with a bounded number of queries."""
    for n in range(400):
        calendar_block(unit=unit, start=day(1 + 2 * n), end=day(2 + 2 * n))
    with django_assert_max_num_queries(6):
        answer = Client().get(export_path)
    assert len(parse_feed(answer.content)) == 400
    assert answer["Cache-Control"] == "private, max-age=300"
    assert "ETag" not in answer and "Last-Modified" not in answer  # every GET is a full, fresh read


def test_a_block_imported_from_a_feed_goes_out_in_our_export(feed, unit, day):
    """Pin (the root of the echo loop): a feed's event, once a block here, is in our export as "Not available"."""
    from adapters.base import BookingData, BookingPage, BookingStatus
    from channelmgr.inbound.importer import ical_snapshot_import

    data = BookingData(
        platform="ical",
        channel_booking_id="x@airbnb.com",
        listing_id="airbnb-listing",
        status=BookingStatus.CONFIRMED,
        check_in=day(1),
        check_out=day(3),
        version="0000000000-20270601T080000Z",
        raw_status="Airbnb (Not available)",
        kind="block",
    )
    ical_snapshot_import(connection=feed, page=BookingPage(bookings=(data,), cursor=None, is_snapshot=True))
    assert [(e.start, e.end, e.summary) for e in parse_feed(ical_feed(ical_export_for(unit)))] == [
        (day(1), day(3), "Not available")
    ]
