"""Booking.com pulls against the promise: every reservation a platform sold ends up as exactly one active stay
on the unit it was sold for, and one the product cannot place is visible to staff (the pull's sync log, an
ignored event), never put on another unit, dropped or acknowledged."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone
from lxml import etree

from channelmgr.inbound.polling import connection_poll, due_polls
from channelmgr.inbound.tasks import poll_connection
from channelmgr.models import ChannelConnection, InboundEvent, SyncLog
from channelmgr.services.connections_health import connection_mark_needs_attention
from channelmgr.sync import reconcile
from pms_core.models import Booking

from .test_pulls_and_reconcile import ACK, NOTIF_REPORT_RS, PULL, _day, _queue, _queue_by_hotel, _reservation, _unit
from .test_webhook_expedia import notification, post

pytestmark = pytest.mark.django_db

OTA = {"o": "http://www.opentravel.org/OTA/2003/05"}


def _acknowledged(platform_http) -> list[str]:
    """The reservation ids every acknowledgement sent so far names."""
    return [
        unique.get("ID")
        for call in platform_http.calls
        if call.request.url == ACK
        for unique in etree.fromstring(call.request.body).iterfind(".//o:HotelReservation/o:UniqueID", OTA)
    ]


def _refused(connection) -> str:
    log = SyncLog.objects.filter(connection=connection, kind=SyncLog.Kind.BOOKINGS).latest("pk")
    return str(log.details["refused"])


@pytest.fixture
def rooms(connect, unit):
    """Hotel 4711 mapped by room type: room 471101 on ``unit``, room 471102 on a second unit."""
    return (
        connect("booking_com", "4711", platform_metadata={"room_id": "471101"}),
        connect("booking_com", "4711", unit=_unit(unit, "Room 2"), platform_metadata={"room_id": "471102"}),
    )


# --- 1. a reservation naming no room, in a hotel whose units are its room types ---------------------


def test_a_new_reservation_naming_no_room_is_refused_not_put_on_a_room(rooms, platform_http):
    """Hotel 4711's units are its room types; the queue offers a new reservation naming no room. The pull
    places it on no unit, reports it on its sync log as it does a room type mapped to no unit, and leaves
    it unacknowledged, so Booking.com offers it again. It used to land on the last room's unit."""
    body = _queue(
        _reservation("3001", hotel="4711", room="", start=_day(1), end=_day(4), modified="2027-06-01T09:30:00Z")
    )
    platform_http.get(PULL, body=body, content_type="text/xml")
    platform_http.post(ACK, body=NOTIF_REPORT_RS)

    poll_connection.fn(rooms[0].pk)

    assert not Booking.objects.filter(channel_booking_id="3001").exists()
    assert "3001" not in _acknowledged(platform_http)
    assert "3001: names no room type" in _refused(rooms[0])


def test_a_new_reservation_naming_no_room_goes_to_the_hotel_mapped_as_one_unit(rooms, connect, unit, platform_http):
    """Besides its room types, hotel 4711 is a unit of its own: a new reservation naming no room is that
    unit's, and is acknowledged."""
    hotel = connect("booking_com", "4711", unit=_unit(unit, "Rest of the hotel"))
    body = _queue(
        _reservation("3001", hotel="4711", room="", start=_day(1), end=_day(4), modified="2027-06-01T09:30:00Z")
    )
    platform_http.get(PULL, body=body, content_type="text/xml")
    platform_http.post(ACK, body=NOTIF_REPORT_RS)

    poll_connection.fn(rooms[0].pk)

    assert Booking.objects.get(channel_booking_id="3001").unit_id == hotel.unit_id
    assert _acknowledged(platform_http) == ["3001"]


def test_a_cancellation_naming_no_room_cancels_the_stay_on_the_room_that_holds_it(rooms, platform_http):
    """A cancellation naming no room finds the stay on whichever room's unit holds it, cancels it there and
    is acknowledged."""
    booked = _reservation(
        "3001", hotel="4711", room="471102", start=_day(1), end=_day(4), modified="2027-06-01T09:30:00Z"
    )
    platform_http.get(PULL, body=_queue(booked), content_type="text/xml")
    platform_http.post(ACK, body=NOTIF_REPORT_RS)
    poll_connection.fn(rooms[0].pk)
    cancel = _reservation(
        "3001", hotel="4711", room="", start=_day(1), end=_day(4), modified="2027-06-02T09:30:00Z", status="Cancel"
    )
    platform_http.replace("GET", PULL, body=_queue(cancel), content_type="text/xml")

    poll_connection.fn(rooms[0].pk)

    booking = Booking.objects.get(channel_booking_id="3001")
    assert (booking.unit_id, booking.status) == (rooms[1].unit_id, Booking.Status.CANCELLED)
    assert _acknowledged(platform_http) == ["3001", "3001"]


def test_reconcile_reports_a_reservation_naming_no_room_as_unmapped(rooms, platform_http):
    """The daily ``reconcile --fix`` of room 471101 reads the hotel's queue, which offers a new reservation
    naming no room: it reports it for staff, as a room type no unit holds, and imports it nowhere. It used
    to import it onto the first room's unit."""
    body = _queue(
        _reservation("3001", hotel="4711", room="", start=_day(1), end=_day(4), modified="2027-06-01T09:30:00Z")
    )
    platform_http.get(PULL, body=body, content_type="text/xml")

    drift = reconcile.reconcile_connection(connection=rooms[0], days=365, fix=True)

    assert (drift.missing_in_pms, drift.unmapped) == ([], ["3001"])
    assert not Booking.objects.filter(channel_booking_id="3001").exists()


def test_a_notification_naming_no_room_in_a_hotel_of_room_types_is_stored_as_ignored(client, settings, connect, unit):
    """Expedia hotel 3546's units are its room types; a SOAP notification of a new booking naming no room
    is stored as ignored, naming why, and imported nowhere. It used to go to the first room's connection."""
    connect("expedia", "3546", platform_metadata={"room_id": "965645"})
    connect("expedia", "3546", unit=_unit(unit, "Studio"), platform_metadata={"room_id": "965646"})
    body = notification(settings).replace(b'<RoomTypes><RoomType RoomTypeCode="965645"/></RoomTypes>', b"")
    assert b"RoomTypeCode" not in body

    assert post(client, body).status_code == 200

    event = InboundEvent.objects.get()
    assert (event.status, event.connection_id) == (InboundEvent.Status.IGNORED, None)
    assert "no room type" in event.error


# --- 2. one reservation the adapter cannot read -------------------------------------------------------


def test_an_unreadable_reservation_fails_alone_and_stays_unacknowledged(connect, platform_http):
    """A pull page holds three reservations; the second has no stay dates. The other two are imported and
    acknowledged; the unreadable one is acknowledged never, so Booking.com offers it again, and the pull's
    sync log names it. It used to fail the whole pull, every time, so no reservation of the account came in."""
    hotel = connect("booking_com", "4711")
    unreadable = _reservation(
        "3002", hotel="4711", room="", start=_day(5), end=_day(7), modified="2027-06-01T09:31:00Z"
    ).replace(f'<TimeSpan Start="{_day(5).isoformat()}" End="{_day(7).isoformat()}"/>', "")
    assert "TimeSpan" not in unreadable
    body = _queue(
        _reservation("3001", hotel="4711", room="", start=_day(1), end=_day(4), modified="2027-06-01T09:30:00Z"),
        unreadable,
        _reservation("3003", hotel="4711", room="", start=_day(8), end=_day(9), modified="2027-06-01T09:32:00Z"),
    )
    platform_http.get(PULL, body=body, content_type="text/xml")
    platform_http.post(ACK, body=NOTIF_REPORT_RS)

    result = connection_poll(connection=hotel)

    assert result.status == "success"
    assert sorted(Booking.objects.values_list("channel_booking_id", flat=True)) == ["3001", "3003"]
    assert _acknowledged(platform_http) == ["3001", "3003"]
    assert "reservation 3002 could not be read" in _refused(hotel)


def test_reconcile_reports_an_unreadable_reservation(connect, platform_http):
    """The daily reconcile reads a queue whose second reservation has no stay dates: it compares the
    others and reports that one as drift it could not measure, instead of failing the whole report."""
    hotel = connect("booking_com", "4711")
    unreadable = _reservation(
        "3002", hotel="4711", room="", start=_day(5), end=_day(7), modified="2027-06-01T09:31:00Z"
    ).replace(f'<TimeSpan Start="{_day(5).isoformat()}" End="{_day(7).isoformat()}"/>', "")
    body = _queue(
        _reservation("3001", hotel="4711", room="", start=_day(1), end=_day(4), modified="2027-06-01T09:30:00Z"),
        unreadable,
    )
    platform_http.get(PULL, body=body, content_type="text/xml")

    drift = reconcile.reconcile_connection(connection=hotel, days=365, fix=False)

    assert drift.error == ""
    assert drift.missing_in_pms == ["3001"]
    assert len(drift.unreadable) == 1 and "reservation 3002 could not be read" in drift.unreadable[0]
    assert drift.total == 2
    assert "1 booking(s) that could not be read" in drift.describe()


# --- 3. where a pull continues --------------------------------------------------------------------


def test_a_booking_com_pull_reads_the_whole_queue_in_one_request_with_no_window_or_cursor(connect, platform_http):
    """Booking.com hands over every unacknowledged reservation of the hotels asked for: the pull sends
    ``hotel_ids`` alone, however long since the last poll, reads one page, is complete, and leaves no cursor
    for the next poll, which asks the same. A reservation last changed long before the last poll is imported,
    so there is no window that could skip one, nor a continuation that could lose one."""
    hotel = connect("booking_com", "4711")
    ChannelConnection.objects.filter(pk=hotel.pk).update(last_polled_at=timezone.now() - dt.timedelta(days=3))
    hotel.refresh_from_db()
    old = _reservation("3001", hotel="4711", room="", start=_day(1), end=_day(4), modified="2020-01-01T09:30:00Z")
    platform_http.get(PULL, body=_queue(old), content_type="text/xml")
    platform_http.post(ACK, body=NOTIF_REPORT_RS)

    result = connection_poll(connection=hotel)
    hotel.refresh_from_db()
    again = connection_poll(connection=hotel)

    pulls = [call.request for call in platform_http.calls if call.request.method == "GET"]
    assert [parse_qs(urlparse(request.url).query) for request in pulls] == [{"hotel_ids": ["4711"]}] * 2
    assert (result.pages, result.complete, again.pages, again.complete) == (1, True, 1, True)
    assert ChannelConnection.objects.get(pk=hotel.pk).sync_cursor == ""
    assert Booking.objects.filter(channel_booking_id="3001", unit=hotel.unit).exists()


# --- 4. a hotel needing attention stays in its account's pull -------------------------------------


def test_a_hotel_the_platform_refuses_does_not_stop_the_other_hotels_pull(connect, unit, platform_http):
    """Hotel 4712 needs attention, and Booking.com refuses for good any pull naming it (a hotel no longer
    the account's). The account's pull is asked again without it: hotel 4711's reservation is imported
    and acknowledged, 4711 stays active, and the pull's sync log says 4712 was left out and why."""
    first = connect("booking_com", "4711")
    second = connect("booking_com", "4712", unit=_unit(unit, "Annex"))
    connection_mark_needs_attention(connection_id=second.pk, error="booking_com update_pricing: refused ...")
    answer = _queue_by_hotel(
        {
            "4711": _reservation(
                "3001", hotel="4711", room="", start=_day(1), end=_day(4), modified="2027-06-01T09:30:00Z"
            )
        }
    )

    def refuse_4712(request):
        if "4712" in parse_qs(urlparse(request.url).query)["hotel_ids"][0].split(","):
            return 403, {"Content-Type": "text/xml"}, b"<Errors><Error>hotel 4712 is not yours</Error></Errors>"
        return answer(request)

    platform_http.add_callback("GET", PULL, callback=refuse_4712)
    platform_http.post(ACK, body=NOTIF_REPORT_RS)

    assert due_polls(timezone.now()) == [first.pk]
    poll_connection.fn(first.pk)

    assert Booking.objects.filter(channel_booking_id="3001", unit=first.unit).exists()
    assert _acknowledged(platform_http) == ["3001"]
    assert ChannelConnection.objects.get(pk=first.pk).status == ChannelConnection.Status.ACTIVE
    assert SyncLog.objects.get(kind="bookings").status == "success"
    assert "pulled without hotel(s) 4712" in _refused(first)
