"""Which bookings a platform still waits to have acknowledged (Booking.com and Expedia), per tenant."""

import datetime as dt

import pytest
from django.utils import timezone

from channelmgr.inbound.acknowledgements import (
    FALLBACK_AFTER,
    acknowledgement_done,
    acknowledgement_expect,
    acknowledgement_failed,
    unacknowledged_bookings,
)
from channelmgr.models import BookingAcknowledgement, ChannelConnection
from pms_core.models import Booking

pytestmark = pytest.mark.django_db


def _stay(unit, n: int) -> Booking:
    start = dt.date(2027, 7, 1) + dt.timedelta(days=10 * n)
    return Booking.objects.create(unit=unit, check_in=start, check_out=start + dt.timedelta(days=2), source="expedia")


def test_a_delivery_waits_until_the_platform_accepts_the_acknowledgement(connect, unit):
    expedia = connect("expedia", "3546")
    booking = _stay(unit, 0)
    acknowledgement_expect(connection=expedia, booking_id=booking.pk)
    acknowledgement_failed(booking_ids=[booking.pk], error="503 from bc")
    pending = list(unacknowledged_bookings())
    assert [(p.booking_id, p.last_error) for p in pending] == [(booking.pk, "503 from bc")]

    assert acknowledgement_done(booking_ids=[booking.pk]) == 1
    assert not unacknowledged_bookings().exists()

    acknowledgement_expect(connection=expedia, booking_id=booking.pk)  # modified: acknowledge again
    assert [p.booking_id for p in unacknowledged_bookings()] == [booking.pk]


def test_a_platform_that_wants_no_acknowledgement_leaves_nothing_pending(connect, unit):
    airbnb = connect("airbnb", "AIR-1")
    acknowledgement_expect(connection=airbnb, booking_id=_stay(unit, 0).pk)
    assert not BookingAcknowledgement.objects.exists()


def test_each_tenant_sees_its_own_and_the_alert_sees_only_old_ones(connect, unit, other_unit):
    mine = connect("booking_com", "HOTEL-1")
    theirs = ChannelConnection.objects.create(
        organization=other_unit.property.organization, unit=other_unit, platform_type="expedia",
        platform_listing_id="9999",
    )  # fmt: skip
    old, new, other = _stay(unit, 0), _stay(unit, 1), _stay(other_unit, 2)
    for connection, booking in ((mine, old), (mine, new), (theirs, other)):
        acknowledgement_expect(connection=connection, booking_id=booking.pk)
    BookingAcknowledgement.objects.filter(booking=old).update(received_at=timezone.now() - dt.timedelta(minutes=31))

    org = unit.property.organization_id
    assert [p.booking_id for p in unacknowledged_bookings(organization_id=org)] == [old.pk, new.pk]
    assert [p.booking_id for p in unacknowledged_bookings(older_than=FALLBACK_AFTER)] == [old.pk]
    ChannelConnection.objects.filter(pk=mine.pk).update(status=ChannelConnection.Status.DELETED)
    assert not unacknowledged_bookings(organization_id=org).exists()
