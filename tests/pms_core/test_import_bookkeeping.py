"""The services an import from a platform needs besides create, modify and cancel: a tombstone for a
booking cancelled before we held it, giving up a cancelled booking's channel id, and storing a newer
version. None of them changes a held night, so none records a transition or a domain event."""

import pytest
from django.core.exceptions import ValidationError

from pms_core.models import Booking, BookingTransition, OutboxEvent
from pms_core.services import (
    booking_cancel,
    booking_create,
    booking_record_cancelled,
    booking_record_version,
    booking_retire_channel_id,
)


def test_a_booking_cancelled_before_we_held_it_is_a_tombstone_that_holds_nothing(unit, day):
    booking_create(unit=unit, check_in=day(1), check_out=day(4))
    before = OutboxEvent.objects.count(), BookingTransition.objects.count()
    tombstone = booking_record_cancelled(
        unit=unit,
        check_in=day(2),
        check_out=day(5),
        source="platform-x",
        channel_booking_id="X-1",
        source_version="0007",
        guest_name="Late Cancel",
    )
    assert (tombstone.status, tombstone.source_version, tombstone.guest_name) == ("cancelled", "0007", "Late Cancel")
    assert tombstone.currency == unit.property.currency  # none given: the property's
    assert (OutboxEvent.objects.count(), BookingTransition.objects.count()) == before
    assert Booking.objects.active().filter(unit=unit).count() == 1  # it overlaps a stay and clashes with nothing


def test_a_cancelled_booking_gives_up_its_channel_id_for_a_new_one(unit, day):
    old = booking_create(unit=unit, check_in=day(1), check_out=day(3), source="platform-x", channel_booking_id="X-2")
    booking_cancel(booking=old)
    retired = booking_retire_channel_id(booking=old)
    assert retired.channel_booking_id == f"X-2~retired-{old.pk}"
    old.refresh_from_db()
    assert old.channel_booking_id == f"X-2~retired-{old.pk}" and old.status == "cancelled"
    again = booking_create(unit=unit, check_in=day(1), check_out=day(3), source="platform-x", channel_booking_id="X-2")
    assert again.status == "confirmed"


def test_a_retired_id_fits_the_column_however_long_the_original(unit, day):
    long_id = "u" * 128
    old = booking_record_cancelled(
        unit=unit, check_in=day(1), check_out=day(3), source="platform-x", channel_booking_id=long_id
    )
    retired = booking_retire_channel_id(booking=old)
    assert len(retired.channel_booking_id) <= 128 and retired.channel_booking_id.endswith(f"~retired-{old.pk}")


def test_a_live_booking_keeps_its_channel_id(unit, day):
    live = booking_create(unit=unit, check_in=day(1), check_out=day(3), source="platform-x", channel_booking_id="X-3")
    with pytest.raises(ValidationError):
        booking_retire_channel_id(booking=live)
    live.refresh_from_db()
    assert live.channel_booking_id == "X-3"


def test_a_newer_version_is_stored_without_an_event(unit, day):
    booking = booking_create(
        unit=unit, check_in=day(1), check_out=day(3), source="platform-x", channel_booking_id="X-4", source_version="1"
    )
    events = OutboxEvent.objects.count()
    booking_record_version(booking=booking, source_version="2")
    booking_record_version(booking=booking, source_version="")  # no version: nothing to store
    booking.refresh_from_db()
    assert booking.source_version == "2"
    assert OutboxEvent.objects.count() == events
