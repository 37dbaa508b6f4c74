"""Amounts in the API: read with up to three decimals (KWD has three), checked against the currency's
ISO 4217 minor units by the services, and written with exactly that currency's decimals
(``"12000"`` for JPY, ``"120.00"`` for EUR, ``"12.345"`` for KWD)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from rest_framework import serializers

import money

MAX_DIGITS = 11  # the model's columns: 8 digits before the point, 3 after
DECIMAL_PLACES = 3


def more_than_zero(value: Decimal | None) -> None:
    """A night's price: no platform takes a night for nothing (a zero would fail every push it rides in)."""
    if value is not None and value <= 0:
        raise serializers.ValidationError("Must be more than 0: no platform takes a night for nothing.")


class AmountField(serializers.DecimalField):
    """A ``Decimal`` amount. ``currency_of(instance, context)`` names its currency for output."""

    def __init__(self, *, currency_of: Callable[[object, dict], str] | None = None, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(**kwargs)
        self.currency_of = currency_of

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        if value is None or self.currency_of is None:
            return value
        return (value, self.currency_of(instance, self.context))

    def to_representation(self, value):
        if isinstance(value, tuple):
            amount, currency = value
            try:
                return money.to_wire(Decimal(amount), currency)
            except money.MoneyError:
                value = amount  # a legacy amount that does not fit its currency: shown as stored
        return super().to_representation(value)


def exact_amount(value: Decimal | None, currency: str, *, field: str) -> Decimal | None:
    """``value`` with its currency's decimals, or a 400 naming ``field`` (JPY 12000.50 is refused)."""
    if value is None:
        return None
    try:
        return money.exact(value, currency)
    except money.MoneyError as exc:
        raise serializers.ValidationError({field: [str(exc)]}) from None
