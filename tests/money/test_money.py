"""Money per currency: ISO 4217 minor units decide how many decimals an amount may have and carries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import money

EXAMPLES = [("JPY", 0), ("EUR", 2), ("KWD", 3), ("USD", 2), ("CLF", 4), ("ISK", 0), ("BHD", 3)]


@pytest.mark.parametrize(("currency", "places"), EXAMPLES)
def test_minor_units_are_iso_4217s(currency, places):
    assert money.minor_units(currency) == places


@pytest.mark.parametrize("code", ["XAU", "XTS", "ABC", "eur", "", "EURO", None, 978])
def test_it_refuses_codes_that_prices_cannot_be_in(code):
    assert not money.is_currency(code)
    with pytest.raises(money.MoneyError):
        money.minor_units(code)


@pytest.mark.parametrize(
    ("amount", "currency", "wire"),
    [
        ("12000", "JPY", "12000"),
        ("12000.00", "JPY", "12000"),
        ("120", "EUR", "120.00"),
        ("120.5", "EUR", "120.50"),
        ("12.345", "KWD", "12.345"),
        ("12", "KWD", "12.000"),
        ("1E+3", "EUR", "1000.00"),
    ],
)
def test_it_writes_exactly_the_currencys_decimals(amount, currency, wire):
    assert money.to_wire(Decimal(amount), currency) == wire


@pytest.mark.parametrize(("amount", "currency"), [("12000.50", "JPY"), ("120.001", "EUR"), ("12.3456", "KWD")])
def test_it_refuses_more_decimals_than_the_currency_has_instead_of_rounding(amount, currency):
    with pytest.raises(money.MoneyError, match=f"{currency} has"):
        money.exact(Decimal(amount), currency)


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), 1.5, True, "x", None])
def test_it_refuses_what_is_not_a_finite_decimal(amount):
    with pytest.raises(money.MoneyError):
        money.exact(amount, "EUR")


def test_rounding_a_computed_amount_is_half_up_to_the_minor_unit():
    assert money.rounded(Decimal("172.5"), "JPY") == Decimal("173")
    assert money.rounded(Decimal("10.005"), "EUR") == Decimal("10.01")
    assert money.rounded(Decimal("1.0005"), "KWD") == Decimal("1.001")


currencies = st.sampled_from(["JPY", "EUR", "KWD", "USD", "BHD", "CLF"])
amounts = st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=5)


@given(amount=amounts, currency=currencies)
def test_an_amount_is_either_refused_or_written_exactly_with_the_currencys_decimals(amount, currency):
    places = money.minor_units(currency)
    try:
        wire = money.to_wire(amount, currency)
    except money.MoneyError:
        assert amount != amount.quantize(Decimal(1).scaleb(-places))
        return
    assert Decimal(wire) == amount
    assert ("." in wire) == (places > 0)
    assert len(wire.partition(".")[2]) == places


@given(amount=amounts, currency=currencies)
def test_a_rounded_amount_always_goes_out(amount, currency):
    assert Decimal(money.to_wire(money.rounded(amount, currency), currency)) == money.rounded(amount, currency)
