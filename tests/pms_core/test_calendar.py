from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from pms_core.models import Booking, CalendarDay, OutboxEvent
from pms_core.selectors import calendar_nights, calendar_nights_many
from pms_core.services import (
    booking_create,
    calendar_block,
    calendar_set,
    calendar_set_prices,
    calendar_set_restrictions,
    calendar_unblock,
)


def test_nights_of_many_ranges_read_at_once_are_each_ranges_own(unit, villa, day):
    """A drain asks for one unit's nights once per connection: the same range may come several times, and
    each caller gets its own list, equal to reading that range alone."""
    from pms_core.models import Unit

    other = Unit.objects.create(property=villa, name="Annex", base_price=Decimal("90.00"), default_min_stay=1)
    calendar_set_prices(unit=unit, start=day(2), end=day(4), price=Decimal("99.00"))
    calendar_set_restrictions(unit=other, start=day(3), end=day(5), stop_sell=True)
    calendar_block(unit=unit, start=day(4), end=day(6), note="owner")
    wanted = [(unit, day(1), day(7)), (other, day(1), day(7)), (unit, day(1), day(7)), (unit, day(3), day(5))]
    many = calendar_nights_many(wanted=wanted)
    assert many == [calendar_nights(unit=u, start=start, end=end) for u, start, end in wanted]
    assert many[0] is not many[2]
    many[0].clear()  # one caller's list is its own
    assert len(many[2]) == 6
    assert [n.available for n in many[2]] == [True, True, True, False, False, True]


def test_only_days_that_differ_from_the_unit_are_stored(unit, day):
    calendar_set_prices(unit=unit, start=day(1), end=day(8), price=Decimal("200.00"))
    assert CalendarDay.objects.filter(unit=unit).count() == 7
    calendar_set_prices(unit=unit, start=day(1), end=day(8), price=unit.base_price)
    assert CalendarDay.objects.filter(unit=unit).count() == 0


def test_nights_combine_overrides_with_the_unit_defaults(unit, day):
    calendar_set_prices(unit=unit, start=day(2), end=day(3), price=Decimal("99.00"))
    calendar_set_restrictions(unit=unit, start=day(3), end=day(4), min_stay=5, closed_to_arrival=True)
    calendar_set_restrictions(unit=unit, start=day(4), end=day(5), stop_sell=True)
    nights = calendar_nights(unit=unit, start=day(1), end=day(5))
    assert [n.price for n in nights] == [Decimal("150.00"), Decimal("99.00"), Decimal("150.00"), Decimal("150.00")]
    assert [n.min_stay for n in nights] == [2, 2, 5, 2]
    assert [n.closed_to_arrival for n in nights] == [False, False, True, False]
    assert [n.available for n in nights] == [True, True, True, False]


def test_a_field_left_out_is_unchanged(unit, day):
    calendar_set(unit=unit, start=day(1), end=day(3), price=Decimal("180.00"), min_stay=3)
    calendar_set(unit=unit, start=day(1), end=day(3), closed_to_departure=True)
    night = calendar_nights(unit=unit, start=day(1), end=day(2))[0]
    assert (night.price, night.min_stay, night.closed_to_departure) == (Decimal("180.00"), 3, True)


def test_setting_prices_emits_pricing_and_restrictions_emit_availability(unit, day):
    calendar_set_prices(unit=unit, start=day(1), end=day(3), price=Decimal("180.00"))
    calendar_set_restrictions(unit=unit, start=day(1), end=day(3), min_stay=4)
    assert list(OutboxEvent.objects.values_list("event_type", flat=True).order_by("id")) == [
        "pricing.updated",
        "availability.updated",
    ]


@pytest.mark.parametrize("values,field", [({"price": Decimal("-5")}, "price"), ({"min_stay": 0}, "min_stay")])
def test_bad_values_are_refused_and_change_nothing(unit, day, values, field):
    with pytest.raises(ValidationError) as caught:
        calendar_set(unit=unit, start=day(1), end=day(3), **values)
    assert field in caught.value.message_dict
    assert not CalendarDay.objects.exists() and not OutboxEvent.objects.exists()


def test_unblock_splits_a_block_around_the_reopened_nights(unit, day):
    calendar_block(unit=unit, start=day(1), end=day(10))
    calendar_unblock(unit=unit, start=day(4), end=day(6))
    blocks = Booking.objects.filter(kind="block", status="confirmed").order_by("check_in")
    assert [(b.check_in, b.check_out) for b in blocks] == [(day(1), day(4)), (day(6), day(10))]
    assert booking_create(unit=unit, check_in=day(4), check_out=day(6)).status == "confirmed"


def test_unblock_leaves_platform_blocks_alone(unit, day):
    calendar_block(unit=unit, start=day(1), end=day(3), source="ical", channel_booking_id="uid-1")
    assert calendar_unblock(unit=unit, start=day(1), end=day(3)) == 0
    assert Booking.objects.get().status == "confirmed"
