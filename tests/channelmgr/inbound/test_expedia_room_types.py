"""Room types of one Expedia hotel as separate units: a booking lands on the unit of its room type, however
it arrives.

Invariant: a booking whose room type a live connection holds on its own (``listing_key`` "<hotel>/<room>")
is imported onto that connection's unit, never onto a sibling room's: from a SOAP notification (routed by
its RoomTypeCode) or from a BR pull of any room of the hotel (BR answers for the whole hotel; a pull
leaves another room's booking to that room's own pull, unconfirmed). A booking of a room type no
connection holds goes to the hotel's connection, as before.
"""

from decimal import Decimal

import pytest
from lxml import etree

from channelmgr.inbound.tasks import import_platform_booking, poll_connection
from channelmgr.models import ChannelConnection, InboundEvent, SyncLog
from pms_core.models import Booking, Unit
from tests.channelmgr.inbound.test_webhook_expedia import notification, post

pytestmark = pytest.mark.django_db(transaction=True)

BR_ANSWER = """<BookingRetrievalRS xmlns="http://www.expediaconnect.com/EQC/BR/2014/01"><Bookings>{}</Bookings>
</BookingRetrievalRS>"""
BOOKING = """<Booking id="{id}" type="Book" createDateTime="2027-06-01T10:00:00Z" source="Expedia" status="pending">
  <Hotel id="3546"/>
  <RoomStay roomTypeID="{room}" ratePlanID="BAR">
    <StayDate arrival="{arrival}" departure="{departure}"/><GuestCount adult="2"/>
    <PerDayRates currency="EUR"><PerDayRate stayDate="{arrival}" baseRate="100.00"/></PerDayRates>
    <Total amountAfterTaxes="300.00" currency="EUR"/>
  </RoomStay>
  <PrimaryGuest><Name givenName="Eva" surname="Example"/></PrimaryGuest>
</Booking>"""
BC_NS = {"c": "http://www.expediaconnect.com/EQC/BC/2007/09"}


@pytest.fixture
def rooms(connect, unit):
    """Room types 965645 (``unit``) and 965646 (a second unit) of hotel 3546, one Expedia account."""
    second = Unit.objects.create(property=unit.property, name="Studio", base_price=Decimal("90.00"))
    return (
        connect("expedia", "3546", platform_metadata={"room_id": "965645"}),
        connect("expedia", "3546", unit=second, platform_metadata={"room_id": "965646"}),
    )


def test_room_types_of_one_hotel_are_separate_listings(rooms):
    assert [c.listing_key for c in rooms] == ["3546/965645", "3546/965646"]


def test_a_notification_lands_on_the_unit_of_its_room_type(client, settings, rooms, broker, platform_http):
    platform_http.add(
        "POST",
        f"{settings.PLATFORMS['expedia']['base_url']}/eqc/bc",
        body=b'<BookingConfirmRS xmlns="http://www.expediaconnect.com/EQC/BC/2007/08"><Success/></BookingConfirmRS>',
    )
    body = notification(settings).replace(b'RoomTypeCode="965645"', b'RoomTypeCode="965646"')
    assert post(client, body).status_code == 200
    event = InboundEvent.objects.get()
    assert event.connection_id == rooms[1].pk

    import_platform_booking.fn(event.pk)

    assert Booking.objects.get(channel_booking_id="13357395").unit_id == rooms[1].unit_id


def _br(platform_http, settings, *bookings):
    base = settings.PLATFORMS["expedia"]["base_url"]
    platform_http.add("POST", f"{base}/eqc/br", body=BR_ANSWER.format("".join(bookings)).encode())
    platform_http.add(
        "POST",
        f"{base}/eqc/bc",
        body=b'<BookingConfirmRS xmlns="http://www.expediaconnect.com/EQC/BC/2007/08"><Success/></BookingConfirmRS>',
    )


def _confirmed(platform_http) -> list[str]:
    return [
        number.get("bookingID")
        for call in platform_http.calls
        if call.request.url.endswith("/eqc/bc")
        for number in etree.fromstring(call.request.body).iterfind(".//c:BookingConfirmNumber", BC_NS)
    ]


def test_a_pull_of_one_room_imports_each_booking_onto_the_unit_of_its_room_type(rooms, settings, platform_http, day):
    first, second = rooms
    _br(
        platform_http,
        settings,
        BOOKING.format(id="880001", room="965645", arrival=day(1), departure=day(3)),
        BOOKING.format(id="880002", room="965646", arrival=day(1), departure=day(3)),
    )

    poll_connection.fn(first.pk)

    assert dict(Booking.objects.values_list("channel_booking_id", "unit_id")) == {
        "880001": first.unit_id,
        "880002": second.unit_id,
    }
    assert sorted(_confirmed(platform_http)) == ["880001", "880002"]


def test_a_booking_of_a_paused_room_still_lands_on_that_rooms_unit(rooms, settings, platform_http, day):
    first, second = rooms
    ChannelConnection.objects.filter(pk=second.pk).update(status=ChannelConnection.Status.PAUSED)
    _br(platform_http, settings, BOOKING.format(id="880004", room="965646", arrival=day(1), departure=day(3)))

    poll_connection.fn(first.pk)

    assert Booking.objects.get(channel_booking_id="880004").unit_id == second.unit_id


def test_a_room_type_no_connection_holds_is_left_unconfirmed_not_put_on_a_sibling(rooms, settings, platform_http, day):
    first, _second = rooms
    _br(platform_http, settings, BOOKING.format(id="880005", room="777", arrival=day(5), departure=day(7)))

    poll_connection.fn(first.pk)

    assert not Booking.objects.filter(channel_booking_id="880005").exists()
    assert "880005" not in _confirmed(platform_http)
    log = SyncLog.objects.filter(connection=first, kind=SyncLog.Kind.BOOKINGS).latest("pk")
    assert "room type '777' is mapped to no unit" in str(log.details["refused"])


def test_a_room_type_no_connection_holds_goes_to_the_hotel_mapped_as_one_unit(
    rooms, connect, settings, platform_http, day
):
    """Room types 965645 and 965646 are units of their own; the hotel itself is a third unit: another
    room type's booking is that unit's, not a sibling room's."""
    third = Unit.objects.create(property=rooms[0].unit.property, name="Rest of the hotel", base_price=Decimal("80"))
    hotel = connect("expedia", "3546", unit=third)
    _br(platform_http, settings, BOOKING.format(id="880003", room="777", arrival=day(5), departure=day(7)))

    poll_connection.fn(rooms[0].pk)

    assert Booking.objects.get(channel_booking_id="880003").unit_id == hotel.unit_id


def test_a_notification_of_an_unmapped_room_type_is_stored_as_ignored(client, settings, rooms, broker):
    body = notification(settings).replace(b'RoomTypeCode="965645"', b'RoomTypeCode="777"')
    assert post(client, body).status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.IGNORED and event.connection_id is None
    assert "room type '777'" in event.error


def test_a_cancellation_naming_no_room_finds_the_unit_that_holds_the_booking(rooms, settings, platform_http, day):
    first, second = rooms
    _br(platform_http, settings, BOOKING.format(id="880006", room="965646", arrival=day(1), departure=day(3)))
    poll_connection.fn(first.pk)
    platform_http.reset()
    cancel = BOOKING.format(id="880006", room="0", arrival=day(1), departure=day(3))
    later = cancel.replace('type="Book"', 'type="Cancel"').replace("2027-06-01T10:00:00Z", "2027-06-02T10:00:00Z")
    _br(platform_http, settings, later)

    poll_connection.fn(first.pk)

    booking = Booking.objects.get(channel_booking_id="880006")
    assert booking.unit_id == second.unit_id and booking.status == Booking.Status.CANCELLED
    assert _confirmed(platform_http) == ["880006"]


def test_the_migration_gives_existing_room_type_connections_their_room_keys(connect, unit):
    import importlib

    from django.apps import apps

    from channelmgr.models import ChannelConnection

    room = connect("expedia", "3546", platform_metadata={"room_id": "965645"})
    other = Unit.objects.create(property=unit.property, name="Annex", base_price=Decimal("90.00"))
    hotel = connect("expedia", "3547", unit=other)
    ChannelConnection.objects.filter(pk=room.pk).update(listing_key="3546")  # as the older code wrote it
    migration = importlib.import_module("channelmgr.migrations.0011_expedia_room_type_listing_key")

    migration.room_type_keys(apps, None)

    keys = dict(ChannelConnection.objects.values_list("pk", "listing_key"))
    assert keys == {room.pk: "3546/965645", hotel.pk: "3547"}
