"""booking_import: create, modify, cancel, idempotent per booking and version; clashes are overbooked."""

from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from adapters.base import BookingData, BookingStatus, Guest
from channelmgr.inbound.importer import Action, booking_import
from pms_core.models import Booking, OutboxEvent
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db


def data(day, *, code="HM1", start=1, end=4, version=1, status=BookingStatus.CONFIRMED, name="Greta Gast", **kw):
    return BookingData(
        platform="airbnb",
        channel_booking_id=code,
        listing_id="AIR-1",
        status=status,
        check_in=day(start),
        check_out=day(end),
        guest=Guest(name=name, email="greta@example.test"),
        guests_count=2,
        total_amount=Decimal("480.00"),
        currency="EUR",
        version=f"{version:010d}",
        **kw,
    )


def test_a_new_booking_is_created_on_the_connections_unit(airbnb, unit, day):
    booking, action = booking_import(connection=airbnb, data=data(day))

    assert action == Action.CREATED
    assert (booking.unit, booking.source, booking.channel_booking_id) == (unit, "airbnb", "HM1")
    assert (booking.check_in, booking.check_out, booking.status) == (day(1), day(4), Booking.Status.CONFIRMED)
    assert (booking.guest_name, booking.total_amount, booking.source_version) == (
        "Greta Gast",
        Decimal("480.00"),
        "0000000001",
    )
    assert OutboxEvent.objects.filter(booking=booking, event_type="booking.confirmed").count() == 1


def test_the_same_copy_imported_again_changes_nothing(airbnb, day):
    booking_import(connection=airbnb, data=data(day))

    for _ in range(9):
        _booking, action = booking_import(connection=airbnb, data=data(day))
        assert action == Action.STALE

    assert Booking.objects.count() == 1
    assert OutboxEvent.objects.count() == 1


def test_an_older_version_arriving_late_is_ignored(airbnb, day):
    booking_import(connection=airbnb, data=data(day, version=3, start=5, end=8))

    booking, action = booking_import(connection=airbnb, data=data(day, version=2, start=1, end=4))

    assert action == Action.STALE
    booking.refresh_from_db()
    assert (booking.check_in, booking.check_out, booking.source_version) == (day(5), day(8), "0000000003")


def test_a_modification_moves_the_nights(airbnb, day):
    booking_import(connection=airbnb, data=data(day))

    booking, action = booking_import(connection=airbnb, data=data(day, version=2, start=10, end=12, name="Greta G."))

    assert action == Action.MODIFIED
    assert (booking.check_in, booking.check_out, booking.guest_name) == (day(10), day(12), "Greta G.")
    assert booking.source_version == "0000000002"
    assert OutboxEvent.objects.filter(event_type="booking.modified").count() == 1


def test_a_newer_copy_with_nothing_changed_only_records_its_version(airbnb, day):
    booking_import(connection=airbnb, data=data(day))

    booking, action = booking_import(connection=airbnb, data=data(day, version=2))

    assert action == Action.UNCHANGED
    booking.refresh_from_db()
    assert booking.source_version == "0000000002"
    assert OutboxEvent.objects.count() == 1


def test_a_cancellation_releases_the_nights(airbnb, unit, day):
    booking_import(connection=airbnb, data=data(day))

    booking, action = booking_import(connection=airbnb, data=data(day, version=2, status=BookingStatus.CANCELLED))

    assert action == Action.CANCELLED and booking.status == Booking.Status.CANCELLED
    booking_create(unit=unit, check_in=day(1), check_out=day(4))  # the nights are free again


def test_a_cancellation_that_overtakes_the_creation_wins(airbnb, day):
    _booking, action = booking_import(connection=airbnb, data=data(day, version=2, status=BookingStatus.CANCELLED))
    assert action == Action.IGNORED

    booking, action = booking_import(connection=airbnb, data=data(day, version=1))

    assert action == Action.STALE
    assert booking.status == Booking.Status.CANCELLED
    assert not OutboxEvent.objects.exists()


def test_a_clash_is_stored_overbooked_and_counted(airbnb, unit, day):
    direct = booking_create(unit=unit, check_in=day(2), check_out=day(5), guest_name="Direct guest")
    before = REGISTRY.get_sample_value("channel_manager_double_booking_attempts_total", {"platform": "airbnb"}) or 0

    booking, action = booking_import(connection=airbnb, data=data(day))

    assert action == Action.OVERBOOKED
    assert booking.status == Booking.Status.OVERBOOKED and booking.clashes_with == direct
    after = REGISTRY.get_sample_value("channel_manager_double_booking_attempts_total", {"platform": "airbnb"})
    assert after == before + 1
    assert Booking.objects.filter(unit=unit, status=Booking.Status.CONFIRMED).count() == 1


def test_a_clash_from_two_platforms_confirms_exactly_one(airbnb, connect, unit, day):
    google = connect("google", "villa-9")

    booking_import(connection=airbnb, data=data(day))
    other, action = booking_import(
        connection=google,
        data=BookingData(
            platform="google",
            channel_booking_id="G-1",
            listing_id="villa-9",
            status=BookingStatus.CONFIRMED,
            check_in=day(2),
            check_out=day(3),
            version="0000000001",
        ),
    )

    assert action == Action.OVERBOOKED
    statuses = sorted(Booking.objects.values_list("status", flat=True))
    assert statuses == ["confirmed", "overbooked"]


def test_a_modification_onto_sold_nights_is_kept_as_overbooked_and_counted(airbnb, unit, day):
    booking_import(connection=airbnb, data=data(day))
    sold = booking_create(unit=unit, check_in=day(10), check_out=day(12))
    before = REGISTRY.get_sample_value("channel_manager_double_booking_attempts_total", {"platform": "airbnb"}) or 0

    booking, action = booking_import(connection=airbnb, data=data(day, version=2, start=10, end=12))

    assert action == Action.OVERBOOKED
    after = REGISTRY.get_sample_value("channel_manager_double_booking_attempts_total", {"platform": "airbnb"})
    assert after == before + 1
    moved = Booking.objects.get(channel_booking_id="HM1")
    assert (moved.check_in, moved.check_out, moved.status) == (day(10), day(12), "overbooked")
    assert moved.clashes_with == sold and moved.source_version == "0000000002"
    # The nights it left are free again, and the database still holds no overlapping confirmed stays.
    assert booking_create(unit=unit, check_in=day(1), check_out=day(4)).status == "confirmed"


def test_the_import_counts_bookings_imported(airbnb, day):
    labels = {"platform": "airbnb", "action": "created"}
    before = REGISTRY.get_sample_value("channel_manager_bookings_imported_total", labels) or 0

    booking_import(connection=airbnb, data=data(day))

    assert REGISTRY.get_sample_value("channel_manager_bookings_imported_total", labels) == before + 1
