"""``{{ price|amount:currency }}``: an amount with exactly its currency's ISO 4217 decimals (JPY 12000,
EUR 120.00, KWD 12.345), as the API and every platform write it."""

from __future__ import annotations

from decimal import Decimal

from django import template

import money

register = template.Library()


@register.filter
def amount(value, currency: str) -> str:
    if value is None or value == "":
        return ""
    try:
        return money.to_wire(Decimal(value), currency)
    except (money.MoneyError, ArithmeticError, TypeError, ValueError):
        return str(value)  # an amount that does not fit its currency is shown as stored
