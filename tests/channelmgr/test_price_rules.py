"""A per-channel price rule: examples of each rounding, and properties over random rules and prices
(monotone in the base price, never zero or less once accepted, rounding lands on its promised ending,
exact Decimal arithmetic)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, given
from hypothesis import strategies as st

import money
from channelmgr.price_rules import (
    MAX_FACTOR,
    PriceRule,
    Rounding,
    channel_price,
    price_rule_check,
    rule_apply,
    rule_set_aside,
)

D = Decimal
CURRENCIES = ["EUR", "JPY", "KWD"]


@pytest.mark.parametrize(
    ("rounding", "base", "currency", "expected"),
    [
        ("none", "150.00", "EUR", "172.50"),
        ("whole", "150.00", "EUR", "173"),
        ("x9", "150.00", "EUR", "179"),
        ("x99", "150.00", "EUR", "172.99"),
        ("none", "12000", "JPY", "13800"),
        ("x9", "12000", "JPY", "13809"),
        ("x99", "12000", "JPY", "13899"),
        ("none", "10.500", "KWD", "12.075"),
        ("x99", "10.500", "KWD", "12.990"),
    ],
)
def test_fifteen_percent_then_each_rounding(rounding, base, currency, expected):
    assert rule_apply(PriceRule(percent=D(15), rounding=rounding), D(base), currency) == D(expected)


@pytest.mark.parametrize(
    ("price", "x9", "x99"),
    [("179", "179", "179.99"), ("179.01", "189", "179.99"), ("172.995", "179", "173.99"), ("0.50", "9", "0.99")],
)
def test_x9_and_x99_go_up_to_the_nearest_ending_at_or_above(price, x9, x99):
    assert rule_apply(PriceRule(rounding=Rounding.X9), D(price), "EUR") == D(x9)
    assert rule_apply(PriceRule(rounding=Rounding.X99), D(price), "EUR") == D(x99)


def test_a_fixed_amount_is_added_after_the_percentage():
    assert rule_apply(PriceRule(percent=D(10), amount=D("-5")), D(100), "EUR") == D("105.00")


def test_no_rule_sends_the_pms_price_as_it_is():
    assert channel_price(PriceRule(), D("150.00"), "EUR") == D("150.00")


def test_a_night_the_saved_rule_would_price_absurdly_gets_its_base_price():
    """Prices set after the rule was saved may meet it: the push never sends zero or less."""
    rule = PriceRule(amount=D(-50))
    assert channel_price(rule, D(40), "EUR") == D(40)
    assert channel_price(rule, D(140), "EUR") == D("90.00")


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (PriceRule(percent=D(-100)), "price_rule_percent"),
        (PriceRule(percent=D(10001)), "price_rule_percent"),
        (PriceRule(amount=D(-150)), "price_rule_amount"),
        (PriceRule(amount=D("0.001")), "price_rule_amount"),  # EUR has cents
        (PriceRule(amount=D(14_901)), "price_rule_amount"),  # above 100x of 150
        (PriceRule(percent=D(9901)), "price_rule_percent"),
        (PriceRule(rounding="x7"), "price_rule_rounding"),
    ],
)
def test_a_rule_that_would_give_zero_or_absurd_prices_is_refused_naming_the_field(rule, field):
    with pytest.raises(ValidationError) as caught:
        price_rule_check(rule, bases={D("150.00")}, currency="EUR")
    assert set(caught.value.message_dict) == {field}


def test_rounding_is_blamed_when_only_rounding_makes_it_absurd():
    """0.05 EUR with x9 becomes 9: 180 times the base."""
    with pytest.raises(ValidationError) as caught:
        price_rule_check(PriceRule(rounding=Rounding.X9), bases={D("0.05"), D(100)}, currency="EUR")
    assert set(caught.value.message_dict) == {"price_rule_rounding"}


def test_every_price_of_the_unit_is_checked_not_only_its_default():
    rule = PriceRule(amount=D(-60))
    price_rule_check(rule, bases={D(150)}, currency="EUR")
    with pytest.raises(ValidationError):
        price_rule_check(rule, bases={D(150), D(55)}, currency="EUR")


# --- properties ----------------------------------------------------------------------------------

currencies = st.sampled_from(CURRENCIES)
roundings = st.sampled_from(Rounding.values)
percents = st.decimals(min_value=D("-99.999"), max_value=D(10000), places=3)


@st.composite
def priced(draw):
    currency = draw(currencies)
    places = -money.quantum(currency).as_tuple().exponent
    base = draw(st.decimals(min_value=D(1), max_value=D(100_000), places=places))
    amount = draw(st.decimals(min_value=D(-1000), max_value=D(1000), places=places))
    return currency, base, amount


@given(priced(), percents, roundings, st.decimals(min_value=D(0), max_value=D(1000), places=2))
def test_the_channel_price_never_falls_when_the_base_price_rises(case, percent, rounding, rise):
    currency, base, amount = case
    rule = PriceRule(percent=percent, amount=amount, rounding=rounding)
    higher = base + rise.quantize(money.quantum(currency))
    assert rule_apply(rule, higher, currency) >= rule_apply(rule, base, currency)


@given(priced(), percents, roundings)
def test_an_accepted_rule_never_gives_zero_or_less_nor_above_100x(case, percent, rounding):
    currency, base, amount = case
    rule = PriceRule(percent=percent, amount=amount, rounding=rounding)
    try:
        price_rule_check(rule, bases={base}, currency=currency)
    except ValidationError:
        assume(False)
    assert D(0) < channel_price(rule, base, currency) <= base * MAX_FACTOR


@given(priced(), percents, roundings)
def test_the_push_never_sends_zero_or_less_whatever_the_rule(case, percent, rounding):
    currency, base, amount = case
    price = channel_price(PriceRule(percent=percent, amount=amount, rounding=rounding), base, currency)
    assert price > 0


@given(priced(), percents, roundings)
def test_rounding_lands_on_its_promised_ending_exactly(case, percent, rounding):
    currency, base, amount = case
    rule = PriceRule(percent=percent, amount=amount, rounding=rounding)
    exact = base * (1 + percent / 100) + amount  # the unrounded markup, exact in Decimal
    price = rule_apply(rule, base, currency)
    quantum = money.quantum(currency)
    assert price == price.quantize(quantum)  # never more decimals than the currency has
    if rounding == Rounding.NONE:
        assert abs(price - exact) <= quantum / 2
    elif rounding == Rounding.WHOLE:
        assert price == price.to_integral_value() and abs(price - exact) <= D("0.5")
    elif rounding == Rounding.X9:
        assert exact <= price < exact + 10
        assert price <= 0 or price % 10 == 9
    else:
        step = D(100) if quantum >= 1 else D(1)
        assert exact <= price < exact + step
        assert price <= 0 or price % step == (D(99) if quantum >= 1 else D("0.99"))


# --- in the push ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_push_sends_each_night_through_the_rule_and_the_pms_price_where_the_rule_is_absurd(
    org_a, unit, day, caplog
):
    """A discount of 50 was fine for the unit's 150; a night priced 40 later would go out at -10, so
    that night goes out at 40 and the push says so."""
    from channelmgr.models import ChannelConnection, DirtyRange
    from channelmgr.sync.push import push_items
    from pms_core.services import calendar_set_prices

    connection = ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="fewo_direkt", platform_listing_id="FW-1", price_rule_amount=-50
    )
    calendar_set_prices(unit=unit, start=day(2), end=day(3), price=D(40))
    ranges = push_items(connection, DirtyRange.Kind.PRICING, [(day(1), day(4))])
    assert [(r.range.start, r.range.end, r.price) for r in ranges] == [
        (day(1), day(2), D(100)),
        (day(2), day(3), D(40)),
        (day(3), day(4), D(100)),
    ]
    assert rule_set_aside(PriceRule(amount=D(-50)), D(40), "EUR") and not rule_set_aside(PriceRule(), D(40), "EUR")
    assert "gives no sane price for 1 night(s)" in caplog.text
