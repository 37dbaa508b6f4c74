import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from pms_core.errors import BookingClash
from pms_core.models import Booking, OutboxEvent
from pms_core.services import booking_cancel, booking_create, booking_modify, calendar_block


def test_it_books_free_nights_and_records_a_confirmed_event(unit, day):
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(4), guest_name="Family Weber")
    assert booking.status == Booking.Status.CONFIRMED
    event = OutboxEvent.objects.get(booking=booking)
    assert (event.event_type, event.start, event.end) == ("booking.confirmed", day(1), day(4))


def test_it_refuses_overlapping_nights_with_a_clear_domain_error(unit, day):
    first = booking_create(unit=unit, check_in=day(1), check_out=day(5))
    with pytest.raises(BookingClash) as caught:
        booking_create(unit=unit, check_in=day(4), check_out=day(8))
    assert caught.value.clash == first
    assert "clashes with booking" in str(caught.value)
    assert Booking.objects.count() == 1


def test_it_accepts_back_to_back_stays(unit, day):
    booking_create(unit=unit, check_in=day(1), check_out=day(5))
    second = booking_create(unit=unit, check_in=day(5), check_out=day(7))
    assert second.status == Booking.Status.CONFIRMED


def test_a_block_closes_nights_like_a_stay(unit, day):
    calendar_block(unit=unit, start=day(10), end=day(12), note="owner stay")
    with pytest.raises(BookingClash):
        booking_create(unit=unit, check_in=day(11), check_out=day(13))


def test_a_platform_import_that_clashes_is_kept_as_overbooked(unit, day):
    first = booking_create(unit=unit, check_in=day(1), check_out=day(5), source="airbnb", channel_booking_id="HM1")
    second = booking_create(
        unit=unit,
        check_in=day(3),
        check_out=day(6),
        source="booking_com",
        channel_booking_id="B1",
        overbook_on_clash=True,
    )
    assert second.status == Booking.Status.OVERBOOKED
    assert second.clashes_with == first
    # It holds its nights too (day 5 is free of the first stay): the other platforms must close them.
    event = OutboxEvent.objects.get(booking=second)
    assert (event.event_type, event.start, event.end, event.source) == (
        OutboxEvent.Type.BOOKING_OVERBOOKED,
        day(3),
        day(6),
        "booking_com",
    )


@pytest.mark.parametrize(
    "check_in,check_out,field",
    [
        (dt.date(2027, 7, 5), dt.date(2027, 7, 5), "check_out"),
        (dt.date(2027, 7, 5), dt.date(2027, 7, 1), "check_out"),
        (dt.date(2027, 1, 1), dt.date(2028, 1, 2), "check_out"),  # 366 nights
    ],
)
def test_it_refuses_bad_ranges_and_changes_nothing(unit, check_in, check_out, field):
    with pytest.raises(ValidationError) as caught:
        booking_create(unit=unit, check_in=check_in, check_out=check_out)
    assert field in caught.value.message_dict
    assert Booking.objects.count() == 0 and OutboxEvent.objects.count() == 0


def test_it_accepts_a_stay_of_exactly_365_nights(unit):
    booking = booking_create(unit=unit, check_in=dt.date(2027, 1, 1), check_out=dt.date(2028, 1, 1))
    assert booking.nights == 365


def test_it_refuses_a_negative_total(unit, day):
    with pytest.raises(ValidationError) as caught:
        booking_create(unit=unit, check_in=day(1), check_out=day(2), total_amount=Decimal("-1"))
    assert "total_amount" in caught.value.message_dict
    assert Booking.objects.count() == 0


def test_modify_moves_the_stay_and_reports_both_ranges(unit, day):
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    booking_modify(booking=booking, check_in=day(10), check_out=day(12))
    event = OutboxEvent.objects.get(event_type="booking.modified")
    assert event.payload["ranges"] == [
        [day(1).isoformat(), day(3).isoformat()],
        [day(10).isoformat(), day(12).isoformat()],
    ]
    booking.refresh_from_db()
    assert (booking.check_in, booking.check_out) == (day(10), day(12))


def test_modify_onto_taken_nights_is_refused_and_changes_nothing(unit, day):
    booking_create(unit=unit, check_in=day(10), check_out=day(12))
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    with pytest.raises(BookingClash):
        booking_modify(booking=booking, check_out=day(11))
    booking.refresh_from_db()
    assert booking.check_out == day(3)


def test_cancel_releases_the_nights_and_twice_changes_nothing(unit, day):
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    booking_cancel(booking=booking)
    booking_cancel(booking=booking)
    assert OutboxEvent.objects.filter(event_type="booking.cancelled").count() == 1
    assert booking_create(unit=unit, check_in=day(1), check_out=day(3)).status == "confirmed"


def test_channel_booking_id_is_unique_per_source(unit, day):
    from django.db import IntegrityError

    booking_create(unit=unit, check_in=day(1), check_out=day(2), source="airbnb", channel_booking_id="HM1")
    booking_create(unit=unit, check_in=day(3), check_out=day(4), source="expedia", channel_booking_id="HM1")
    with pytest.raises(IntegrityError):
        booking_create(unit=unit, check_in=day(5), check_out=day(6), source="airbnb", channel_booking_id="HM1")


def test_a_platform_moving_its_guest_onto_sold_nights_is_kept_as_overbooked(unit, day):
    sold = booking_create(unit=unit, check_in=day(10), check_out=day(12))
    moved = booking_create(unit=unit, check_in=day(1), check_out=day(3), source="airbnb", channel_booking_id="HM9")
    moved = booking_modify(booking=moved, check_in=day(11), check_out=day(13), overbook_on_clash=True)
    assert (moved.status, moved.clashes_with) == (Booking.Status.OVERBOOKED, sold)
    # Its old nights are free again.
    assert booking_create(unit=unit, check_in=day(1), check_out=day(3)).status == "confirmed"
