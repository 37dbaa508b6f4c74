"""Maximum stay next to min stay in the calendar API, and money per currency: an amount is taken only with
at most its currency's ISO 4217 decimals (JPY none, EUR 2, KWD 3) and written with exactly them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pms_core.models import Booking, CalendarDay, Property, Unit


def _nights(api, unit, start, end):
    answer = api.get(f"/units/{unit.pk}/calendar?start={start}&end={end}")
    assert answer.status_code == 200, answer.content
    return answer.json()["nights"]


def _set(api, unit, start, end, **values):
    body = {"values": [{"unit": unit.pk, "start": str(start), "end": str(end), **values}]}
    return api.post("/calendar", body, format="json")


# --- maximum stay ---------------------------------------------------------------------------


def test_max_stay_is_read_and_written_per_night_over_the_units_default(alice_api, unit, day):
    assert _nights(alice_api, unit, day(1), day(2))[0]["max_stay"] is None  # no maximum by default
    answer = alice_api.patch(f"/units/{unit.pk}", {"default_max_stay": 14}, format="json")
    assert answer.status_code == 200 and answer.json()["default_max_stay"] == 14
    assert _set(alice_api, unit, day(2), day(4), max_stay=7).status_code == 200
    assert [n["max_stay"] for n in _nights(alice_api, unit, day(1), day(5))] == [14, 7, 7, 14]
    assert _set(alice_api, unit, day(2), day(3), max_stay=None).status_code == 200  # back to the unit's
    assert [n["max_stay"] for n in _nights(alice_api, unit, day(1), day(4))] == [14, 14, 7]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"max_stay": 0}, "max_stay"),
        ({"max_stay": "x"}, "max_stay"),
        ({"max_stay": 1126}, "max_stay"),
        ({"min_stay": 5, "max_stay": 3}, "max_stay"),
        ({"max_stay": 1}, "max_stay"),  # the unit's min stay is 2
    ],
)
def test_a_bad_max_stay_is_a_400_naming_it_and_nothing_changes(alice_api, unit, day, values, field):
    answer = _set(alice_api, unit, day(1), day(4), **values)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["fields"]["values"]["0"]
    assert not CalendarDay.objects.exists()


def test_a_min_stay_above_a_nights_max_stay_is_a_400_naming_min_stay(alice_api, unit, day):
    assert _set(alice_api, unit, day(1), day(4), max_stay=3).status_code == 200
    answer = _set(alice_api, unit, day(3), day(6), min_stay=4)
    assert answer.status_code == 400 and "min_stay" in answer.json()["fields"]["values"]["0"]
    assert [n["min_stay"] for n in _nights(alice_api, unit, day(3), day(6))] == [2, 2, 2]


def test_a_units_default_max_stay_must_not_be_below_its_min_stay(alice_api, unit, day):
    answer = alice_api.patch(f"/units/{unit.pk}", {"default_max_stay": 1}, format="json")
    assert answer.status_code == 400 and "default_max_stay" in answer.json()["fields"]
    _set(alice_api, unit, day(1), day(2), min_stay=10)
    answer = alice_api.patch(f"/units/{unit.pk}", {"default_max_stay": 5}, format="json")
    assert answer.status_code == 400 and "default_max_stay" in answer.json()["fields"]
    unit.refresh_from_db()
    assert unit.default_max_stay is None


# --- money per currency ---------------------------------------------------------------------


@pytest.fixture
def priced_in(villa, unit):
    def _currency(code: str) -> Unit:
        Property.objects.filter(pk=villa.pk).update(currency=code)
        Unit.objects.filter(pk=unit.pk).update(base_price=Decimal(100))
        return Unit.objects.select_related("property").get(pk=unit.pk)

    return _currency


@pytest.mark.parametrize(
    ("currency", "sent", "shown"),
    [("JPY", "12000", "12000"), ("JPY", "12000.00", "12000"), ("EUR", "120.5", "120.50"), ("KWD", "12.345", "12.345")],
)
def test_a_price_is_stored_exactly_and_shown_with_its_currencys_decimals(
    alice_api, priced_in, day, currency, sent, shown
):
    unit = priced_in(currency)
    assert _set(alice_api, unit, day(1), day(2), price=sent).status_code == 200
    night = _nights(alice_api, unit, day(1), day(2))[0]
    assert night["price"] == shown
    assert CalendarDay.objects.get(unit=unit).price == Decimal(sent)
    base = {"JPY": "100", "EUR": "100.00", "KWD": "100.000"}[currency]
    assert alice_api.get(f"/units/{unit.pk}").json()["base_price"] == base


@pytest.mark.parametrize(
    ("currency", "sent"), [("JPY", "12000.50"), ("JPY", "0.1"), ("EUR", "1.001"), ("KWD", "1.0001")]
)
def test_a_price_with_more_decimals_than_its_currency_is_a_400_naming_the_field(
    alice_api, priced_in, day, currency, sent
):
    unit = priced_in(currency)
    answer = _set(alice_api, unit, day(1), day(2), price=sent)
    assert answer.status_code == 400, answer.content
    assert "price" in answer.json()["fields"]["values"]["0"]
    assert not CalendarDay.objects.exists()
    answer = alice_api.patch(f"/units/{unit.pk}", {"base_price": sent}, format="json")
    assert answer.status_code == 400 and "base_price" in answer.json()["fields"]
    answer = alice_api.post(
        "/bookings",
        {"unit": unit.pk, "check_in": str(day(1)), "check_out": str(day(2)), "total_amount": sent},
        format="json",
    )
    assert answer.status_code == 400 and "total_amount" in answer.json()["fields"]
    assert not Booking.objects.exists()


def test_a_booking_total_is_written_with_its_currencys_decimals(alice_api, priced_in, day):
    unit = priced_in("JPY")
    answer = alice_api.post(
        "/bookings",
        {"unit": unit.pk, "check_in": str(day(1)), "check_out": str(day(3)), "total_amount": "24000.00"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert (answer.json()["total_amount"], answer.json()["currency"]) == ("24000", "JPY")


@pytest.mark.parametrize("code", ["XAU", "XTS", "ABC", "eur"])
def test_a_property_takes_only_a_currency_prices_can_be_in(alice_api, code):
    answer = alice_api.post("/properties", {"name": "Chalet", "currency": code}, format="json")
    assert answer.status_code == 400 and "currency" in answer.json()["fields"]


def test_a_property_cannot_change_to_a_currency_its_prices_do_not_fit(alice_api, villa, unit, day):
    _set(alice_api, unit, day(1), day(2), price="99.50")
    answer = alice_api.patch(f"/properties/{villa.pk}", {"currency": "JPY"}, format="json")
    assert answer.status_code == 400 and "currency" in answer.json()["fields"]
    villa.refresh_from_db()
    assert villa.currency == "EUR"


CURRENCIES = st.sampled_from(["JPY", "EUR", "KWD"])
AMOUNTS = st.one_of(
    st.decimals(min_value=0, max_value=99_999_999, places=4, allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["12000.50", "12000", "0.001", "1e3", "-1", "", "abc", "1" * 20]),
    st.integers(min_value=-5, max_value=10**9),
)


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(currency=CURRENCIES, amount=AMOUNTS)
def test_any_price_is_either_a_400_naming_it_or_stored_exactly_and_shown_with_the_currencys_decimals(
    alice_api, priced_in, day, currency, amount
):
    with transaction.atomic():
        unit = priced_in(currency)
        answer = _set(alice_api, unit, day(1), day(2), price=amount)
        assert answer.status_code in (200, 400), answer.content
        stored = CalendarDay.objects.filter(unit=unit).first()
        if answer.status_code == 400:
            assert "price" in answer.json()["fields"]["values"]["0"]
            assert stored is None
        else:
            places = {"JPY": 0, "EUR": 2, "KWD": 3}[currency]
            shown = _nights(alice_api, unit, day(1), day(2))[0]["price"]
            expected = Decimal(100) if amount == "" else Decimal(str(amount))  # "" is null: the unit's price
            assert Decimal(shown) == expected
            assert len(shown.partition(".")[2]) == places and ("." in shown) == (places > 0)
            assert stored is None or stored.price == expected  # None: the base price itself
        transaction.set_rollback(True)


def test_a_platforms_taxes_and_fees_are_written_with_the_bookings_currencys_decimals(alice_api, unit, day):
    booking = Booking.objects.create(
        unit=unit, check_in=day(1), check_out=day(3), source="expedia", channel_booking_id="EX-1", currency="KWD",
        total_amount=Decimal("120.5"), taxes_amount=Decimal("12.345"), fees_amount=Decimal("0"),
    )  # fmt: skip
    body = alice_api.get(f"/bookings/{booking.pk}").json()
    assert (body["total_amount"], body["taxes_amount"], body["fees_amount"]) == ("120.500", "12.345", "0.000")
