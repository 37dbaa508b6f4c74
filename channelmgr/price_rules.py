"""Per-channel price rules: what one platform receives for a night, from the PMS price.

The PMS price stays the single truth. A connection may carry a rule (a percentage, a fixed amount per
night, and a rounding), applied when its prices are pushed, shown in the staff calendar's "why" panel,
and used by everything that says what the platform should hold. In that order:

    marked_up = base * (1 + percent / 100) + amount

then rounded:

- ``none``: to the currency's minor unit (half up, ``money.rounded``), as any price;
- ``whole``: to the nearest whole unit (half up): 172.50 -> 173;
- ``x9``: up to the nearest whole amount ending in 9, at or above the marked-up price:
  172.50 -> 179, 179 -> 179, 179.01 -> 189;
- ``x99``: up to the nearest amount ending in .99 at or above it: 172.50 -> 172.99, 172.995 -> 173.99.
  In a currency without minor units (JPY) it is the nearest whole amount ending in 99: 12050 -> 12099.

A rule that gives a price of zero or less, or more than ``MAX_FACTOR`` times the base, for any price the
unit has from today on (its default and every stored night's price) is refused when it is saved
(``price_rule_check``). Prices set later may still meet such a rule; the push then sends that night's
base price unchanged (``channel_price``), so the listing stays sellable at the PMS's own price.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import models

import money

# The connection's columns that hold its rule (API, admin form and services name them alike).
PRICE_RULE_FIELDS = ("price_rule_percent", "price_rule_amount", "price_rule_rounding")
MAX_FACTOR = Decimal(100)
PERCENT_LIMITS = (Decimal("-99.999"), Decimal("10000"))
AMOUNT_LIMIT = Decimal("1000000")


class Rounding(models.TextChoices):
    NONE = "none", "none (to the currency's minor unit)"
    WHOLE = "whole", "to a whole unit"
    X9 = "x9", "up to a whole amount ending in 9"
    X99 = "x99", "up to an amount ending in .99"


@dataclass(frozen=True)
class PriceRule:
    """A markup of ``percent`` and ``amount`` (either may be negative: a discount), then ``rounding``."""

    percent: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)
    rounding: str = Rounding.NONE

    @property
    def is_identity(self) -> bool:
        return not self.percent and not self.amount and self.rounding == Rounding.NONE

    def describe(self, currency: str = "") -> str:
        """For staff: "+15% +5.00 EUR, up to a whole amount ending in 9"."""
        if self.is_identity:
            return "none"
        parts = []
        if self.percent:
            parts.append(f"{self.percent.normalize():+f}%")
        if self.amount:
            amount = self.amount.quantize(money.quantum(currency)) if currency else self.amount
            parts.append(f"{amount:+f} {currency}".strip())
        if self.rounding != Rounding.NONE:
            parts.append(Rounding(self.rounding).label)
        return ", ".join(parts)


def rule_of(connection) -> PriceRule:
    """The rule a ``ChannelConnection`` carries (the identity when it has none)."""
    return PriceRule(
        percent=Decimal(connection.price_rule_percent or 0),
        amount=Decimal(connection.price_rule_amount or 0),
        rounding=connection.price_rule_rounding or Rounding.NONE,
    )


def _round(price: Decimal, rounding: str, quantum: Decimal) -> Decimal:
    if rounding == Rounding.WHOLE:
        return price.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if rounding == Rounding.X9:
        tens = ((price - 9) / 10).to_integral_value(rounding=ROUND_CEILING)
        return tens * 10 + 9
    if rounding == Rounding.X99:
        if quantum >= 1:  # no minor unit: whole amounts ending in 99
            hundreds = ((price - 99) / 100).to_integral_value(rounding=ROUND_CEILING)
            return hundreds * 100 + 99
        whole = (price - Decimal("0.99")).to_integral_value(rounding=ROUND_CEILING)
        return (whole + Decimal("0.99")).quantize(quantum)
    return price.quantize(quantum, rounding=ROUND_HALF_UP)


def rule_apply(rule: PriceRule, base: Decimal, currency: str) -> Decimal:
    """The price ``rule`` makes of ``base`` (exact Decimal arithmetic, no bounds check)."""
    marked_up = base * (1 + rule.percent / 100) + rule.amount
    return _round(marked_up, rule.rounding, money.quantum(currency))


def sane(price: Decimal, base: Decimal) -> bool:
    """A price a platform may receive for ``base``: above zero, at most MAX_FACTOR times the base."""
    return Decimal(0) < price <= base * MAX_FACTOR


def rule_set_aside(rule: PriceRule, base: Decimal, currency: str) -> bool:
    """Whether ``channel_price`` sends ``base`` as it is because the rule gives no sane price for it."""
    return not rule.is_identity and base > 0 and not sane(rule_apply(rule, base, currency), base)


def channel_price(rule: PriceRule, base: Decimal, currency: str) -> Decimal:
    """What the platform receives for a night priced ``base`` in the PMS. A rule that gives a price
    that is not ``sane`` for this base (set after the rule was saved) is not applied to it."""
    if rule.is_identity or base <= 0:
        return base
    price = rule_apply(rule, base, currency)
    return price if sane(price, base) else base


# --- checked when a rule is saved -------------------------------------------------------------


def _blame(rule: PriceRule, base: Decimal, currency: str) -> str:
    """The field whose step first makes the price not sane: percent, then amount, then rounding."""
    steps = [
        ("price_rule_percent", PriceRule(percent=rule.percent)),
        ("price_rule_amount", PriceRule(percent=rule.percent, amount=rule.amount)),
    ]
    for field, partial in steps:
        if not sane(rule_apply(partial, base, currency), base):
            return field
    return "price_rule_rounding"


def price_rule_check(rule: PriceRule, *, bases: set[Decimal], currency: str) -> None:
    """Raise ``ValidationError`` naming the field when ``rule`` is out of bounds or gives a price of zero
    or less, or above MAX_FACTOR times the base, for any of ``bases`` (the unit's prices)."""
    low, high = PERCENT_LIMITS
    if not low <= rule.percent <= high:
        raise ValidationError({"price_rule_percent": f"must be between {low} and {high}"})
    if abs(rule.amount) > AMOUNT_LIMIT:
        raise ValidationError({"price_rule_amount": f"must be between -{AMOUNT_LIMIT} and {AMOUNT_LIMIT}"})
    if rule.amount != rule.amount.quantize(money.quantum(currency)):
        raise ValidationError({"price_rule_amount": f"{currency} has {money.minor_units(currency)} decimals"})
    if rule.rounding not in Rounding.values:
        raise ValidationError({"price_rule_rounding": f"must be one of {', '.join(Rounding.values)}"})
    for base in sorted(b for b in bases if b > 0):
        price = rule_apply(rule, base, currency)
        if not sane(price, base):
            why = "zero or less" if price <= 0 else f"more than {MAX_FACTOR:f} times the price"
            raise ValidationError(
                {_blame(rule, base, currency): f"the rule makes {base} {currency} into {price}: {why}"}
            )


def unit_prices(unit, *, since: dt.date) -> set[Decimal]:
    """Every price ``unit`` has from ``since`` on: its default and each stored night's own price."""
    from pms_core.models import CalendarDay

    stored = CalendarDay.objects.filter(unit=unit, date__gte=since, price__isnull=False)
    return {unit.base_price, *stored.values_list("price", flat=True).distinct()}


def rules_fit_currency(sender, *, prop, **kwargs) -> None:
    """``pms_core.signals.property_currency_check``: refuse a property's new currency when a price rule of
    one of its connections adds an amount that currency cannot carry (+5.50 in JPY), as saving that rule
    would be refused; the push used to round it silently."""
    from channelmgr.models import ChannelConnection

    rules = (
        ChannelConnection.objects.filter(unit__property=prop, price_rule_amount__isnull=False)
        .exclude(status=ChannelConnection.Status.DELETED)
        .values_list("pk", "price_rule_amount")
    )
    for pk, amount in rules:
        try:
            money.exact(amount, prop.currency)
        except money.MoneyError as exc:
            raise ValidationError(
                {"currency": f"the price rule of connection {pk} adds an amount that does not fit: {exc}"}
            ) from None
