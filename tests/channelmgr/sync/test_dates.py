"""Dates, time zones and DST. A night is its property's local date everywhere: in what a platform tells
us, in what we push, in the window we push, across a property's time-zone change.

Found in review (2026-12): each test whose docstring starts "Used to fail" failed before its fix (what it
broke is in its docstring). The others pin behaviour nothing else tested:

- the first night of the window (tonight) is pushed closed on either side of the property's midnight in
  the far east (Pacific/Kiritimati, UTC+14) and the far west (Pacific/Pago_Pago, UTC-11), and the day
  turn marks the night entering the window's far end exactly once;
- a property moved west closes the stay night that became tonight; a property moved east with a close-out
  still waiting pushes it;
- iCal all-day (VALUE=DATE), TZID and DST-spanning events keep their local dates; our export is all-day;
- odd stay dates from a platform (29 February of a common year, check-out before check-in, 0 nights) are
  refused alone, left unacknowledged and reported; 29 February of a leap year is a night like any other;
- the staff calendar opens on the property's today, not the server's.

The platforms are faked with ``responses``: FeWo-direkt applies each push as it lands (``FakePlatforms``
of ``test_prices_reach_platforms``), Booking.com answers pulls, a feed host serves the iCal text.
"""

# The fixtures come from the modules whose fakes this one reuses.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt

import pytest
import responses
from django.contrib.auth.models import Permission
from django.urls import reverse

from adapters.ical.feed import read_feed
from channelmgr.inbound.polling import connection_poll
from channelmgr.inbound.tasks import poll_connection
from channelmgr.models import ChannelConnection, DirtyRange, SyncLog
from channelmgr.services.ical_export import ical_export_for, ical_feed
from channelmgr.sync.outbound import mark_dirty
from channelmgr.sync.push import push_connection
from channelmgr.sync.window import window_edges_mark
from channelmgr.tasks import consume_outbox_event
from pms_core.models import Booking, OutboxEvent, Property
from pms_core.services import booking_create
from pms_core.services.catalog import property_update, unit_update
from tests.channelmgr.inbound.conftest import (  # noqa: F401 (fixtures)
    BOOKING_BASE,
    connect,
    fresh_resilience_state,
    platform_http,
    public_feed_host,
)
from tests.channelmgr.sync.test_prices_reach_platforms import (  # noqa: F401 (fixtures)
    AVAILABILITY,
    PRICING,
    WINDOW_DAYS,
    _quick,
    clock,
    fewo,
    platforms,
    settle,
)

pytestmark = pytest.mark.django_db

D = dt.date
UTC = dt.UTC
FEED_URL = "https://feeds.example.test/owner-calendar.ics"
PULL = f"{BOOKING_BASE}/hotels/ota/OTA_HotelResNotif"
ACK = f"{BOOKING_BASE}/hotels/ota/OTA_NotifReport"
NOTIF_REPORT_RS = (
    b'<OTA_NotifReportRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Success/></OTA_NotifReportRS>'
)


def _zone(unit, zone: str) -> None:
    """Move the unit's property to ``zone`` the way staff do (the API and the admin call this)."""
    property_update(prop=Property.objects.get(pk=unit.property_id), timezone=zone)
    unit.refresh_from_db()


def _push_now(connections) -> None:
    """What the workers do at once, without moving the clock: every outbox event consumed, each connection
    pushed for both kinds."""
    for event_id in OutboxEvent.objects.filter(consumed_at__isnull=True).order_by("pk").values_list("pk", flat=True):
        consume_outbox_event.fn(event_id)
    for connection in connections:
        for kind in (AVAILABILITY, PRICING):
            push_connection(connection_id=connection.pk, kind=kind)


def _airbnb_stay(unit, code: str, check_in: dt.date, check_out: dt.date) -> Booking:
    return booking_create(unit=unit, check_in=check_in, check_out=check_out, source="airbnb", channel_booking_id=code)


def _status(platforms, night: dt.date) -> str | None:
    return platforms.night("L-1", night).get("status")


def _feed(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nDTSTAMP:20270601T120000Z\r\n{event}END:VEVENT\r\n" for event in events)
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
    return f"{head}{body}END:VCALENDAR\r\n"


def _poll_feed(feed: ChannelConnection, text: str):
    with responses.RequestsMock() as http:
        http.add(responses.GET, FEED_URL, body=text, content_type="text/calendar")
        return connection_poll(connection=feed)


def _reservation(rid: str, start: str, end: str) -> str:
    return f"""
    <HotelReservation ResStatus="Commit" CreateDateTime="2027-06-01T09:00:00Z"
      LastModifyDateTime="2027-06-01T09:30:00Z">
      <UniqueID Type="14" ID="{rid}"/>
      <RoomStays><RoomStay>
        <GuestCounts><GuestCount AgeQualifyingCode="10" Count="2"/></GuestCounts>
        <TimeSpan Start="{start}" End="{end}"/>
        <Total AmountAfterTax="480.00" CurrencyCode="EUR"/>
        <BasicPropertyInfo HotelCode="4711"/>
      </RoomStay></RoomStays>
      <ResGuests><ResGuest><Profiles><ProfileInfo><Profile><Customer>
        <PersonName><GivenName>Greta</GivenName><Surname>Gast</Surname></PersonName>
      </Customer></Profile></ProfileInfo></Profiles></ResGuest></ResGuests>
    </HotelReservation>"""


def _queue(*reservations: str) -> bytes:
    return (
        '<OTA_HotelResNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0" '
        f'TimeStamp="2027-06-01T10:00:00+00:00"><HotelReservations>{"".join(reservations)}</HotelReservations>'
        "</OTA_HotelResNotifRQ>"
    ).encode()


def _pull(connection, platform_http, *reservations: str):
    """One Booking.com pull that offers ``reservations``; returns the acknowledgement's mock."""
    platform_http.get(PULL, body=_queue(*reservations), content_type="text/xml")
    ack = platform_http.post(ACK, body=NOTIF_REPORT_RS)
    poll_connection.fn(connection.pk)
    return ack


# --- 1. tonight, on either side of the property's midnight --------------------------------------------


@pytest.mark.parametrize(
    ("zone", "last_second"),
    [
        # Kiritimati's 23:59:59 on 2027-06-20 is 09:59:59 UTC the same day: the server is still on the 20th
        # for 14 more hours after the property's day turned.
        ("Pacific/Kiritimati", dt.datetime(2027, 6, 20, 9, 59, 59, tzinfo=UTC)),
        # Pago Pago's 23:59:59 on 2027-06-20 is 10:59:59 UTC on the 21st: the server turned 11 hours before.
        ("Pacific/Pago_Pago", dt.datetime(2027, 6, 21, 10, 59, 59, tzinfo=UTC)),
    ],
)
def test_tonight_is_closed_on_either_side_of_the_propertys_midnight_and_the_day_turn_marks_one_night(
    unit, fewo, platforms, clock, zone, last_second
):
    clock.move_to(last_second - dt.timedelta(hours=1))
    _zone(unit, zone)
    settle([fewo], clock, rounds=1)  # the window pushed (the clock is moved back below)
    clock.move_to(last_second)
    window_edges_mark()
    DirtyRange.objects.all().delete()
    before_end = ChannelConnection.objects.get(pk=fewo.pk).window_marked_until
    assert before_end == D(2027, 6, 20) + dt.timedelta(days=WINDOW_DAYS)

    # 23:59:59 local: a guest books tonight (the 20th) on Airbnb
    _airbnb_stay(unit, "A1", D(2027, 6, 20), D(2027, 6, 21))
    _push_now([fewo])
    assert _status(platforms, D(2027, 6, 20)) == "UNAVAILABLE"

    # 00:00:01 local: the next guest books tonight (the 21st), the first night of the new window
    clock.move_to(last_second + dt.timedelta(seconds=2))
    _airbnb_stay(unit, "A2", D(2027, 6, 21), D(2027, 6, 23))
    _push_now([fewo])
    assert _status(platforms, D(2027, 6, 21)) == "UNAVAILABLE"
    assert _status(platforms, D(2027, 6, 22)) == "UNAVAILABLE"

    # The day turn: the one night entering the window's end is marked once, and only once.
    assert window_edges_mark() == 1
    marked = set(DirtyRange.objects.filter(connection=fewo).values_list("kind", "start", "end"))
    assert marked == {(kind, before_end, before_end + dt.timedelta(days=1)) for kind in (AVAILABILITY, PRICING)}
    assert window_edges_mark() == 0


# --- 2. a time-zone change with stays and close-outs waiting -------------------------------------------


def test_a_property_moved_west_closes_the_stay_night_that_became_tonight(unit, fewo, platforms, clock):
    """02:00 UTC on 2027-06-20: 11:00 on the 20th in Tokyo, 19:00 on the 19th in Los Angeles. An Airbnb guest
    (the property was in Los Angeles all along; its zone was wrong) is in from the 19th to the 22nd. Staff
    correct the property's zone: tonight, the 19th, goes out closed."""
    clock.move_to(dt.datetime(2027, 6, 20, 2, 0, tzinfo=UTC))
    _zone(unit, "Asia/Tokyo")
    _airbnb_stay(unit, "A1", D(2027, 6, 19), D(2027, 6, 22))
    settle([fewo], clock)
    assert _status(platforms, D(2027, 6, 19)) is None  # the past in Tokyo: rightly not pushed

    _zone(unit, "America/Los_Angeles")
    settle([fewo], clock)

    assert _status(platforms, D(2027, 6, 19)) == "UNAVAILABLE"


def test_a_property_moved_east_pushes_the_close_out_that_was_waiting(unit, fewo, platforms, clock):
    """A direct stay's close-out waits (the platform was down: its range is dirty); staff move the property
    from Pago Pago to Kiritimati, its today jumping from the 19th to the 21st. The nights still ahead go out
    closed; the ones now past are dropped without error."""
    clock.move_to(dt.datetime(2027, 6, 20, 10, 30, tzinfo=UTC))  # Pago Pago 23:30 on the 19th
    _zone(unit, "Pacific/Pago_Pago")
    settle([fewo], clock, rounds=1)
    clock.move_to(dt.datetime(2027, 6, 20, 10, 30, tzinfo=UTC))
    booking_create(unit=unit, check_in=D(2027, 6, 19), check_out=D(2027, 6, 24))
    OutboxEvent.objects.update(consumed_at=dt.datetime(2027, 6, 20, 10, 30, tzinfo=UTC))
    mark_dirty(connection=fewo, kinds=[AVAILABILITY], start=D(2027, 6, 19), end=D(2027, 6, 24), schedule=False)

    _zone(unit, "Pacific/Kiritimati")  # 00:30 on the 21st
    _push_now([fewo])

    assert [_status(platforms, D(2027, 6, d)) for d in (21, 22, 23)] == ["UNAVAILABLE"] * 3
    assert not DirtyRange.objects.filter(connection=fewo, kind=AVAILABILITY, end__gt=D(2027, 6, 21)).exists()


def test_a_unit_moved_to_a_property_further_west_closes_tonight(unit, fewo, platforms, clock):
    """Used to fail. Same as the property moved west above, but staff correct it the other way the admin
    and the API allow: they move the unit to the right property (Los Angeles) instead of changing the
    wrong one's zone. ``unit_update`` announces only a ``pricing.updated`` for the new window, and no
    ``window_edges`` mark covers the start of a window, so tonight (the 19th), held by the Airbnb guest,
    stays open on FeWo-direkt: its price arrives, its close-out never does, and even the daily
    ``reconcile --fix`` (no booking differs) leaves it open until the night is past. Sold twice."""
    clock.move_to(dt.datetime(2027, 6, 20, 2, 0, tzinfo=UTC))
    _zone(unit, "Asia/Tokyo")
    los_angeles = Property.objects.create(
        organization=unit.property.organization, name="LA bungalows", timezone="America/Los_Angeles", currency="EUR"
    )
    _airbnb_stay(unit, "A1", D(2027, 6, 19), D(2027, 6, 22))
    settle([fewo], clock)
    assert _status(platforms, D(2027, 6, 20)) == "UNAVAILABLE"

    unit_update(unit=unit, property=los_angeles)
    settle([fewo], clock, reconcile=True)

    held = platforms.night("L-1", D(2027, 6, 19))
    assert held.get("status") == "UNAVAILABLE", f"tonight, held by Airbnb guest A1, is on FeWo-direkt as {held}"


def test_a_long_feed_closure_covers_the_night_a_move_west_made_tonight(
    unit, fewo, platforms, clock, connect, public_feed_host
):
    """Used to fail. Booking.com's export closes the listing for two years ("CLOSED - Not available"); the
    importer clips a closure longer than a stay to the sync window, from the property's today, and puts the
    clip in the block's version (``ical_clip``: ``<feed version>~<start>-<end>``). Staff move the property
    west (Tokyo to Los Angeles): the window now starts a day earlier, and the push the change announces
    sends that night, tonight in Los Angeles, as OPEN to FeWo-direkt, because the block still starts at
    Tokyo's today. The feed's next poll re-clips the closure from the 19th, but that version sorts below
    the stored one (``~20270619`` < ``~20270620``), so the import calls it stale and keeps the block as it
    was: tonight stays open on every platform until it is past, though the feed closes it all along."""
    clock.move_to(dt.datetime(2027, 6, 20, 2, 0, tzinfo=UTC))
    _zone(unit, "Asia/Tokyo")
    feed = connect("ical", "bdc-export", feed_url=FEED_URL)
    closed = (
        "DTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20290101\r\n"
        "SUMMARY:CLOSED - Not available\r\nUID:c1@booking.com\r\n"
    )
    assert _poll_feed(feed, _feed(closed)).status == "success"
    block = Booking.objects.get(channel_booking_id=f"{feed.pk}:c1@booking.com")
    assert block.check_in == D(2027, 6, 20)  # clipped at Tokyo's today
    settle([fewo], clock, rounds=1)
    clock.move_to(dt.datetime(2027, 6, 20, 2, 0, tzinfo=UTC))

    _zone(unit, "America/Los_Angeles")  # 19:00 on the 19th
    _push_now([fewo])
    clock.shift(dt.timedelta(minutes=15))  # the feed's next poll, and the pushes after it
    result = _poll_feed(ChannelConnection.objects.get(pk=feed.pk), _feed(closed))
    _push_now([fewo])

    held = platforms.night("L-1", D(2027, 6, 19))
    assert held.get("status") == "UNAVAILABLE", (
        f"tonight, closed by the feed, is on FeWo-direkt as {held} after the next poll ({result.actions})"
    )


# --- 3. iCal: which nights an event closes, and what we export ------------------------------------------


def test_an_ical_event_in_utc_closes_the_propertys_local_nights(unit, connect, clock, public_feed_host):
    """Used to fail. Google Calendar exports timed events in UTC (``DTSTART:...Z``, as the reference export
    ``icalendar-pkg_google_calendar_alarm_google_future.ics`` does). An owner in Pago Pago (UTC-11) blocks
    their family's visit from 17:00 on 1 July to 09:00 on 4 July: ``20270702T040000Z`` to
    ``20270704T200000Z``. The importer takes the UTC date, so the block starts on the 2nd: the night of
    1 July (the family's first) stays open everywhere. In Kiritimati (UTC+14) the same rule shifts a block a
    day the other way. A UTC time is no one's local date; the property's is."""
    clock.move_to(dt.datetime(2027, 6, 20, 10, 0, tzinfo=UTC))
    _zone(unit, "Pacific/Pago_Pago")
    feed = connect("ical", "owner-cal", feed_url=FEED_URL)
    event = "DTSTART:20270702T040000Z\r\nDTEND:20270704T200000Z\r\nSUMMARY:Family visit\r\nUID:fam@google.com\r\n"

    assert _poll_feed(feed, _feed(event)).status == "success"

    block = Booking.objects.get(channel_booking_id=f"{feed.pk}:fam@google.com")
    assert (block.check_in, block.check_out) == (D(2027, 7, 1), D(2027, 7, 4))


def test_ical_all_day_and_zoned_events_keep_their_local_dates_across_dst():
    """VALUE=DATE events are nights as written; a TZID event counts by its own local dates, also when it
    spans a DST change (Europe/Berlin springs forward on 2027-03-28, falls back on 2027-10-31)."""
    reading = read_feed(
        _feed(
            "UID:a\r\nDTSTART;VALUE=DATE:20270327\r\nDTEND;VALUE=DATE:20270329\r\n",
            "UID:b\r\nDTSTART;TZID=Europe/Berlin:20270327T150000\r\nDTEND;TZID=Europe/Berlin:20270329T110000\r\n",
            "UID:c\r\nDTSTART;TZID=Europe/Berlin:20271030T150000\r\nDTEND;TZID=Europe/Berlin:20271101T110000\r\n",
            "UID:d\r\nDTSTART;VALUE=DATE:20270327\r\nDURATION:P2D\r\n",
            "UID:e\r\nDTSTART;TZID=Pacific/Kiritimati:20270701T003000\r\nDTEND;TZID=Pacific/Kiritimati:20270703T003000\r\n",
            "UID:f\r\nDTSTART;VALUE=DATE:20280229\r\nDTEND;VALUE=DATE:20280301\r\n",
        )
    )
    assert reading.invalid == []
    assert {e.uid: (e.start, e.end) for e in reading.events} == {
        "a": (D(2027, 3, 27), D(2027, 3, 29)),
        "b": (D(2027, 3, 27), D(2027, 3, 29)),
        "c": (D(2027, 10, 30), D(2027, 11, 1)),
        "d": (D(2027, 3, 27), D(2027, 3, 29)),
        "e": (D(2027, 7, 1), D(2027, 7, 3)),
        "f": (D(2028, 2, 29), D(2028, 3, 1)),
    }


def test_an_exact_ical_duration_across_the_spring_dst_change_keeps_its_last_night():
    """Used to fail (minor). RFC 5545 3.3.6: ``PT24H`` is an exact duration, ``P1D`` a nominal one. From
    23:30 on 27 March 2027 in Berlin, 24 hours later is 00:30 on the 29th (the clocks sprang forward on the
    28th), so the event ends on the 29th and, by the importer's own rule ([start date, end date)), closes
    the 27th and the 28th. The importer adds the 24 hours on the wall clock (23:30 on the 28th) and closes
    the 27th only: the night of the 28th stays open."""
    reading = read_feed(_feed("UID:x\r\nDTSTART;TZID=Europe/Berlin:20270327T233000\r\nDURATION:PT24H\r\n"))

    (event,) = reading.events
    assert (event.start, event.end) == (D(2027, 3, 27), D(2027, 3, 29))


def test_our_ical_export_is_all_day_local_nights_whatever_the_servers_date(unit, clock):
    """Kiritimati is on the 21st while the server (UTC) is still on the 20th: the export names the stay's
    nights as all-day dates with an exclusive end, no times and no zone to shift them."""
    clock.move_to(dt.datetime(2027, 6, 20, 10, 30, tzinfo=UTC))
    _zone(unit, "Pacific/Kiritimati")
    booking_create(unit=unit, check_in=D(2027, 6, 21), check_out=D(2027, 6, 23))

    text = ical_feed(ical_export_for(unit))

    assert "DTSTART;VALUE=DATE:20270621\r\n" in text and "DTEND;VALUE=DATE:20270623\r\n" in text
    (event,) = read_feed(text).events
    assert (event.start, event.end) == (D(2027, 6, 21), D(2027, 6, 23))


# --- 4. stay dates from a platform's message --------------------------------------------------------------


def test_an_ota_stay_given_in_utc_lands_on_the_propertys_local_nights(unit, connect, platform_http, clock):
    """Used to fail. OTA's ``TimeSpan@Start``/``@End`` are ``DateOrTimeOrDateTimeType``
    (ota/2015B/OTA_SimpleTypes.xsd): a sender may give the check-in and check-out as UTC times. A Pago Pago
    guest arriving at 15:00 on 1 July and leaving at 11:00 on 4 July is ``2027-07-02T02:00:00Z`` to
    ``2027-07-04T22:00:00Z``. ``adapters.xml.date_or_none`` keeps the first 10 characters, the UTC date:
    the stay is stored from the 2nd and acknowledged, and the guest's first night (1 July) is never closed
    anywhere. (Booking.com and Expedia notifications both go through ``parse_hotel_reservation``.)"""
    _zone(unit, "Pacific/Pago_Pago")
    hotel = connect("booking_com", "4711")

    ack = _pull(hotel, platform_http, _reservation("3001", "2027-07-02T02:00:00Z", "2027-07-04T22:00:00Z"))

    stay = Booking.objects.get(channel_booking_id="3001")
    assert ack.call_count == 1
    assert (stay.check_in, stay.check_out) == (D(2027, 7, 1), D(2027, 7, 4))


@pytest.mark.parametrize(
    ("start", "end", "nights"),
    [
        ("2027-07-01", "2027-07-04", (D(2027, 7, 1), D(2027, 7, 4))),
        ("2027-07-01T15:00:00-11:00", "2027-07-04T11:00:00-11:00", (D(2027, 7, 1), D(2027, 7, 4))),  # local offset
        ("2028-02-29", "2028-03-02", (D(2028, 2, 29), D(2028, 3, 2))),  # a leap day is a night
    ],
)
def test_an_ota_stay_in_local_dates_is_imported_as_given(unit, connect, platform_http, clock, start, end, nights):
    _zone(unit, "Pacific/Pago_Pago")
    hotel = connect("booking_com", "4711")

    ack = _pull(hotel, platform_http, _reservation("3001", start, end))

    stay = Booking.objects.get(channel_booking_id="3001")
    assert ((stay.check_in, stay.check_out), ack.call_count) == (nights, 1)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2027-02-29", "2027-03-03"),  # 2027 is a common year
        ("2027-07-04", "2027-07-01"),  # check-out before check-in
        ("2027-07-01", "2027-07-01"),  # no night
        ("2027-13-01", "2027-13-04"),
    ],
)
def test_odd_ota_stay_dates_are_refused_alone_unacknowledged_and_reported(
    unit, connect, platform_http, clock, start, end
):
    hotel = connect("booking_com", "4711")

    ack = _pull(
        hotel,
        platform_http,
        _reservation("3001", start, end),
        _reservation("3002", "2027-07-10", "2027-07-12"),
    )

    assert not Booking.objects.filter(channel_booking_id="3001").exists()
    assert Booking.objects.filter(channel_booking_id="3002", status="confirmed").exists()  # the rest apply
    assert b"3001" not in ack.calls[0].request.body and b"3002" in ack.calls[0].request.body
    poll = SyncLog.objects.filter(connection=hotel, direction=SyncLog.Direction.INBOUND).latest("pk")
    assert "3001" in str(poll.details), poll.details  # staff see which one, and why


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01", "0001-01-03"),  # a null date as many platforms' stacks write it (DateTime.MinValue)
        ("9999-12-29", "9999-12-31"),  # and its MaxValue
    ],
)
def test_a_sentinel_stay_date_is_refused_not_imported_and_acknowledged(unit, connect, platform_http, clock, start, end):
    """Used to fail (minor). A reservation dated year 1 or year 9999 (what a platform's empty date
    serialises to) is imported as a real stay and acknowledged: the platform stops offering it, no calendar
    ever shows it (it is outside every window), and if the guest's real nights were meant, they are never
    closed and nobody is told. Check-out before check-in gets that clear refusal (above); a date no stay
    can have should too."""
    hotel = connect("booking_com", "4711")

    ack = _pull(hotel, platform_http, _reservation("3001", start, end))

    imported = list(Booking.objects.filter(channel_booking_id="3001").values_list("check_in", "check_out"))
    assert (imported, ack.call_count) == ([], 0), f"imported as {imported} and acknowledged {ack.call_count}x"


# --- 5. the staff calendar -------------------------------------------------------------------------------


def test_the_staff_calendar_opens_on_the_propertys_today(client, alice, unit, clock):
    """10:30 UTC on 2027-06-20: the 21st in Kiritimati, the 19th in Pago Pago."""
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    alice.user_permissions.add(Permission.objects.get(codename="view_property"))
    client.force_login(alice)
    clock.move_to(dt.datetime(2027, 6, 20, 10, 30, tzinfo=UTC))
    url = reverse("admin:pms_core_property_calendar", args=[unit.property_id])

    for zone, today in (("Pacific/Kiritimati", D(2027, 6, 21)), ("Pacific/Pago_Pago", D(2027, 6, 19))):
        _zone(unit, zone)
        page = client.get(url)
        assert (page.context["today"], page.context["calendar"].start) == (today, today), zone
