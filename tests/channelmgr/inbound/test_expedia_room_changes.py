"""Room types of one Expedia hotel as separate units, as bookings change: a replayed event lands on its
room's unit, and a modification that moves the guest to another room type moves the stay to that room's
unit (so its nights close there and open on the old room), unless staff moved the stay themselves."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.expedia.notifications import parse_notification
from channelmgr.inbound.events import inbound_event_store
from channelmgr.inbound.processing import inbound_event_process
from channelmgr.models import ChannelConnection, InboundEvent
from pms_core.models import Booking, BookingTransition, OutboxEvent, Unit
from pms_core.services import booking_create
from pms_core.services.overbookings import Resolution, overbooking_resolve
from tests.channelmgr.inbound.test_webhook_expedia import notification

pytestmark = pytest.mark.django_db

BC_OK = b'<BookingConfirmRS xmlns="http://www.expediaconnect.com/EQC/BC/2007/08"><Success/></BookingConfirmRS>'


def test_an_expedia_event_replayed_after_its_room_type_was_mapped_lands_on_that_rooms_unit(
    connect, unit, settings, platform_http
):
    """Room type 965645 of hotel 3546 is mapped; 965646 is not yet. A notification for 965646 is stored
    ignored ("no connection for ... room type"), so staff can map the room and replay it (``replay_events
    --id``). Replayed once 965646 has its own unit, the booking lands there: the stored payload keeps
    ``room_type``. (It used to drop it, and the replay took the hotel's first room.)"""
    platform_http.add("POST", f"{settings.PLATFORMS['expedia']['base_url']}/eqc/bc", body=BC_OK)
    connect("expedia", "3546", platform_metadata={"room_id": "965645"})
    body = notification(settings).replace(b'RoomTypeCode="965645"', b'RoomTypeCode="965646"')
    [note] = parse_notification(body)
    event, _ = inbound_event_store(notification=note, correlation_id="review")
    assert event.status == InboundEvent.Status.IGNORED and event.connection_id is None

    studio = Unit.objects.create(property=unit.property, name="Studio", base_price=Decimal("90.00"))
    mapped = connect("expedia", "3546", unit=studio, platform_metadata={"room_id": "965646"})
    InboundEvent.objects.filter(pk=event.pk).update(status=InboundEvent.Status.RECEIVED, error="")  # replay --id
    inbound_event_process(event_id=event.pk)

    booking = Booking.objects.get(channel_booking_id="13357395")
    assert booking.unit_id == mapped.unit_id, "the replayed booking went to a sibling room's unit"


def _as_room_change(body: bytes, *, room: str) -> bytes:
    """The same reservation as an ``OTA_HotelResModifyNotifRQ`` an hour later, booked on ``room``."""
    return (
        body.replace(b"OTA_HotelResNotifRQ", b"OTA_HotelResModifyNotifRQ")
        .replace(b"HotelReservations>", b"HotelResModifies>")
        .replace(b"<HotelReservation ", b"<HotelResModify ")
        .replace(b"</HotelReservation>", b"</HotelResModify>")
        .replace(b'ResStatus="Commit"', b'ResStatus="Modify"')
        .replace(b'TimeStamp="2027-06-01T12:00:00+00:00"', b'TimeStamp="2027-06-01T13:00:00+00:00"')
        .replace(b'RoomTypeCode="965645"', f'RoomTypeCode="{room}"'.encode())
    )


def _deliver(body: bytes) -> InboundEvent:
    [note] = parse_notification(body)
    event, created = inbound_event_store(notification=note, correlation_id="review")
    assert created and event.status == InboundEvent.Status.RECEIVED, event.error
    inbound_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED, event.error
    return event


def test_an_expedia_modification_to_another_room_type_moves_the_stay_to_that_rooms_unit(rooms, settings):
    """Hotel 3546's room types 965645 and 965646 are two units. Expedia delivers reservation 13357395 on
    965645, then a modification moving the guest to 965646 (a room change). The webhook routes it to
    965646's connection, and the stay moves to that room's unit. (The importer used to modify it where it
    was: 965646's sold nights stayed open everywhere, and 965645 stayed closed with no guest.)"""
    _room, studio = rooms
    second = ChannelConnection.objects.get(platform_type="expedia", unit=studio)
    create = notification(settings)
    _deliver(create)

    moved = _deliver(_as_room_change(create, room="965646"))
    assert moved.connection_id == second.pk  # the webhook routed it to the new room's connection

    booking = Booking.objects.get(channel_booking_id="13357395")
    assert booking.is_active
    assert booking.unit_id == studio.pk, "Expedia moved the guest to room 965646; the PMS keeps room 965645 closed"


# The reservation in ``notification()``: three nights from 2027-07-01.
STAY = (dt.date(2027, 7, 1), dt.date(2027, 7, 4))


@pytest.fixture
def rooms(connect, unit, settings, platform_http):
    """Units ``unit`` (room type 965645) and a studio (965646) of hotel 3546; Expedia's BC answered."""
    platform_http.add("POST", f"{settings.PLATFORMS['expedia']['base_url']}/eqc/bc", body=BC_OK)
    studio = Unit.objects.create(property=unit.property, name="Studio", base_price=Decimal("90.00"))
    connect("expedia", "3546", platform_metadata={"room_id": "965645"})
    connect("expedia", "3546", unit=studio, platform_metadata={"room_id": "965646"})
    return unit, studio


def _direct(unit: Unit) -> Booking:
    return booking_create(unit=unit, check_in=STAY[0], check_out=STAY[1], guest_name="Walk-in", actor="staff")


def test_a_room_change_tells_both_units_channels(rooms, settings):
    room, studio = rooms
    create = notification(settings)
    _deliver(create)
    before = OutboxEvent.objects.count()

    _deliver(_as_room_change(create, room="965646"))

    booking = Booking.objects.get(channel_booking_id="13357395")
    events = {(e.unit_id, e.event_type, e.source) for e in OutboxEvent.objects.order_by("pk")[before:]}
    # The old room's nights open everywhere (Expedia too); the new room's close everywhere but on Expedia,
    # which sold them.
    assert (room.pk, OutboxEvent.Type.AVAILABILITY_UPDATED, "expedia") in events
    assert (studio.pk, OutboxEvent.Type.BOOKING_CONFIRMED, "expedia") in events
    assert not Booking.objects.active().filter(unit=room).exists()
    [moved] = booking.transitions.filter(action=BookingTransition.Action.MOVED)
    assert moved.actor == "expedia" and "965646" in moved.reason


def test_a_room_change_onto_held_nights_is_an_overbooking_there_and_frees_the_old_room(rooms, settings):
    """Expedia already put its guest in 965646, whose nights a direct stay holds: the stay waits there as
    overbooked (staff decide), and the old room's nights are free for the overbooking that waited for them."""
    room, studio = rooms
    _direct(studio)
    create = notification(settings)
    _deliver(create)
    waiting = booking_create(
        unit=room,
        check_in=STAY[0],
        check_out=STAY[1],
        source="airbnb",
        channel_booking_id="HM9",
        overbook_on_clash=True,
        actor="airbnb",
    )
    assert waiting.status == Booking.Status.OVERBOOKED

    _deliver(_as_room_change(create, room="965646"))

    booking = Booking.objects.get(channel_booking_id="13357395")
    assert (booking.unit_id, booking.status) == (studio.pk, Booking.Status.OVERBOOKED)
    assert booking.clashes_with.source == "direct"
    waiting.refresh_from_db()
    assert waiting.status == Booking.Status.CONFIRMED


def test_a_stay_staff_moved_stays_where_they_put_it(rooms, settings):
    """An overbooking staff resolved by moving the stay to the studio: Expedia still says room 965645
    (staff were told to move it there too). Its next modification changes the stay where staff put it."""
    room, studio = rooms
    _direct(room)
    create = notification(settings)
    _deliver(create)
    booking = Booking.objects.get(channel_booking_id="13357395")
    assert booking.status == Booking.Status.OVERBOOKED
    overbooking_resolve(booking=booking, resolution=Resolution.MOVE, actor="staff", unit=studio)

    _deliver(_as_room_change(create, room="965645"))

    booking.refresh_from_db()
    assert (booking.unit_id, booking.status) == (studio.pk, Booking.Status.CONFIRMED)
