"""A platform that moves its guest to another of its listings (an Airbnb host alteration) or room types
moves the stay to that listing's unit; a listing staff re-pointed to another unit leaves its stays put.
(Room types: ``test_expedia_room_changes.py``; reconcile: ``test_pulls_and_reconcile.py``.)"""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.airbnb.reservation import booking_from_reservation
from channelmgr.inbound.importer import Action, booking_import
from channelmgr.models import ChannelConnection
from pms_core.models import Booking, OutboxEvent, Unit

from .conftest import airbnb_reservation

pytestmark = pytest.mark.django_db


def _copy(day, *, listing: str, version: int):
    raw = airbnb_reservation("HM1", check_in=day(1), check_out=day(4), version=version, listing=listing)
    return booking_from_reservation(raw["reservation"])


def test_a_reservation_the_host_moved_to_another_listing_moves_to_its_unit(connect, unit, day):
    first = connect("airbnb", "AIR-1")
    annex = Unit.objects.create(property=unit.property, name="Annex", base_price=Decimal("90.00"))
    second = connect("airbnb", "AIR-2", unit=annex)
    booking_import(connection=first, data=_copy(day, listing="AIR-1", version=1))
    before = OutboxEvent.objects.count()

    booking, action = booking_import(connection=second, data=_copy(day, listing="AIR-2", version=2))

    assert (booking.unit_id, booking.status, action) == (annex.pk, Booking.Status.CONFIRMED, Action.MODIFIED)
    assert not Booking.objects.active().filter(unit=unit).exists()
    touched = set(OutboxEvent.objects.order_by("pk")[before:].values_list("unit_id", flat=True))
    assert touched == {unit.pk, annex.pk}  # the old unit's nights open, the new one's close


def test_a_listing_staff_re_pointed_to_another_unit_leaves_its_stays_where_they_are(connect, unit, day):
    """The connection of AIR-1 now maps to the annex (a mapping corrected), and the old unit holds no
    Airbnb connection: the stays it imported there are not the platform's moves."""
    listing = connect("airbnb", "AIR-1")
    booking_import(connection=listing, data=_copy(day, listing="AIR-1", version=1))
    annex = Unit.objects.create(property=unit.property, name="Annex", base_price=Decimal("90.00"))
    ChannelConnection.objects.filter(pk=listing.pk).update(unit=annex)
    listing.refresh_from_db()

    booking, _action = booking_import(connection=listing, data=_copy(day, listing="AIR-1", version=2))

    assert booking.unit_id == unit.pk
