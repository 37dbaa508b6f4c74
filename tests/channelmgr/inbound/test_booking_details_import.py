"""The importer keeps what the platform says about a booking, follows its changes, and drops values the
PMS cannot hold instead of refusing the booking."""

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import BookingData, BookingStatus, Guest, PaymentModel
from channelmgr.inbound.importer import Action, booking_import
from pms_core.models import Booking

pytestmark = pytest.mark.django_db


def data(day, *, version=1, **details):
    return BookingData(
        platform="airbnb",
        channel_booking_id="HM1",
        listing_id="AIR-1",
        status=BookingStatus.CONFIRMED,
        check_in=day(1),
        check_out=day(4),
        guest=Guest(name="Greta Gast"),
        guests_count=3,
        total_amount=Decimal("480.00"),
        currency="EUR",
        version=f"{version:010d}",
        raw_status="accepted",
        **details,
    )


DETAILS = {
    "taxes": Decimal("31.20"),
    "fees": Decimal("45.00"),
    "adults": 2,
    "children": 1,
    "infants": 0,
    "special_requests": ("Late arrival, around 23:00", "Cot please"),
    "sub_channel": "Airbnb Luxe",
    "payment_model": PaymentModel.PLATFORM_COLLECTS,
}


def test_a_new_booking_keeps_every_detail(airbnb, day):
    booking, _ = booking_import(connection=airbnb, data=data(day, **DETAILS))

    booking.refresh_from_db()
    assert (booking.taxes_amount, booking.fees_amount) == (Decimal("31.20"), Decimal("45.00"))
    assert (booking.adults, booking.children, booking.infants) == (2, 1, 0)
    assert booking.special_requests == ["Late arrival, around 23:00", "Cot please"]
    assert (booking.sub_channel, booking.payment_model, booking.platform_status) == (
        "Airbnb Luxe",
        "platform_collects",
        "accepted",
    )


def test_a_platform_that_says_nothing_leaves_the_details_empty(airbnb, day):
    booking, _ = booking_import(connection=airbnb, data=data(day))

    booking.refresh_from_db()
    assert [booking.taxes_amount, booking.fees_amount, booking.adults, booking.children, booking.infants] == [None] * 5
    assert (booking.special_requests, booking.sub_channel, booking.payment_model) == ([], "", "")


def test_a_newer_copy_with_other_details_modifies_the_booking(airbnb, day):
    booking_import(connection=airbnb, data=data(day, **DETAILS))

    changed = {**DETAILS, "special_requests": ("Cot please",), "taxes": Decimal("35.00")}
    booking, action = booking_import(connection=airbnb, data=data(day, version=2, **changed))

    assert action == Action.MODIFIED
    booking.refresh_from_db()
    assert (booking.special_requests, booking.taxes_amount) == (["Cot please"], Decimal("35.00"))


def test_a_newer_copy_with_the_same_details_changes_nothing(airbnb, day):
    booking_import(connection=airbnb, data=data(day, **DETAILS))

    _booking, action = booking_import(connection=airbnb, data=data(day, version=2, **DETAILS))

    assert action == Action.UNCHANGED


def test_a_cancellation_seen_first_keeps_its_details(airbnb, day):
    cancelled = replace(data(day, **DETAILS), status=BookingStatus.CANCELLED)

    booking, action = booking_import(connection=airbnb, data=cancelled)

    assert action == Action.IGNORED
    booking.refresh_from_db()
    assert (booking.status, booking.sub_channel) == (Booking.Status.CANCELLED, "Airbnb Luxe")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    taxes=st.one_of(st.none(), st.decimals(allow_nan=True, allow_infinity=True)),
    adults=st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40)),
    requests=st.lists(st.text(max_size=3000), max_size=60),
    sub_channel=st.text(max_size=200),
)
def test_whatever_the_details_the_booking_is_stored(airbnb, day, taxes, adults, requests, sub_channel):
    """A platform's odd value (negative, NaN, huge, overlong) never costs the booking itself."""
    Booking.objects.all().delete()
    details = {"taxes": taxes, "adults": adults, "special_requests": tuple(requests), "sub_channel": sub_channel}

    booking, action = booking_import(connection=airbnb, data=data(day, **details))

    assert action == Action.CREATED
    booking.refresh_from_db()
    if booking.taxes_amount is not None:
        assert Decimal(0) <= booking.taxes_amount and booking.taxes_amount == taxes.quantize(Decimal("0.001"))
    assert booking.adults is None or booking.adults == adults
    assert len(booking.sub_channel) <= 64


def test_a_stored_notification_keeps_the_details(day):
    """Webhook notifications wait as JSON on ``InboundEvent``: the details survive the round trip."""
    from adapters.base import Notification, NotificationKind
    from channelmgr.inbound.payloads import notification_from_json, notification_to_json

    booking = data(day, **DETAILS)
    stored = Notification(platform="airbnb", kind=NotificationKind.BOOKING_CREATED, event_key="e1", booking=booking)

    assert notification_from_json(notification_to_json(stored)).booking == booking


def test_a_payload_stored_before_the_details_existed_still_reads(day):
    from channelmgr.inbound.payloads import booking_from_json, booking_to_json

    old = {k: v for k, v in booking_to_json(data(day)).items() if k not in {*DETAILS, "payment_model"}}

    read = booking_from_json(old)
    assert (read.taxes, read.special_requests, read.payment_model) == (None, (), None)
