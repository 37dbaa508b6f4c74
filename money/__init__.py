"""Money: a ``Decimal`` amount in an ISO 4217 currency, with exactly as many decimals as the currency has.

The yen has no minor unit (``12000``), the euro two (``120.00``), the Kuwaiti dinar three (``12.345``).
Every amount we take in (API, admin), send out (each platform's push) or publish (exports) goes through
these few functions, so the rule lives in one place. Plain Python without Django: ``pms_core``,
``channelmgr`` and ``adapters`` all import it.

The exponents come from the ``iso4217`` package, which ships the ISO 4217 maintenance agency's own table
(CLDR, as used by Babel, differs from ISO for a few currencies such as IQD).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from iso4217 import Currency


class MoneyError(ValueError):
    """An amount or a currency that cannot be taken as money; the message says why."""


@cache
def minor_units(currency: str) -> int:
    """The currency's ISO 4217 minor units: JPY 0, EUR 2, KWD 3.

    Raises ``MoneyError`` for a code ISO 4217 does not list, or one without minor units (gold, XTS):
    nothing is priced in those.
    """
    try:
        exponent = Currency(currency).exponent
    except (ValueError, TypeError):
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code") from None
    if exponent is None:
        raise MoneyError(f"{currency} has no minor unit in ISO 4217; prices cannot be in it")
    return exponent


def is_currency(currency: object) -> bool:
    """True for an ISO 4217 code that prices can be in (upper case, as ISO writes it)."""
    if not isinstance(currency, str):
        return False
    try:
        minor_units(currency)
    except MoneyError:
        return False
    return True


def quantum(currency: str) -> Decimal:
    """The currency's smallest amount: ``1`` for JPY, ``0.01`` for EUR, ``0.001`` for KWD."""
    return Decimal(1).scaleb(-minor_units(currency))


def _decimal(amount: object) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int, str)):
        raise MoneyError(f"an amount must be a Decimal, got {amount!r}")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise MoneyError(f"{amount!r} is not a number") from None
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not a finite amount")
    return value


def rounded(amount: Decimal, currency: str, *, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``amount`` rounded to the currency's minor unit (half up): for amounts we compute (a markup)."""
    return _decimal(amount).quantize(quantum(currency), rounding=rounding)


def exact(amount: Decimal, currency: str) -> Decimal:
    """``amount`` written with exactly the currency's decimals (JPY ``12000.00`` -> ``12000``).

    Raises ``MoneyError`` when it has more decimals than the currency allows (JPY ``12000.50``): an
    amount someone typed is refused, never rounded behind their back.
    """
    value = _decimal(amount)
    step = quantum(currency)
    try:
        written = value.quantize(step)
    except InvalidOperation:
        raise MoneyError(f"{amount} is too large an amount") from None
    if written != value:
        places = minor_units(currency)
        raise MoneyError(f"{currency} has {places} decimal place{'' if places == 1 else 's'}; {amount} has more")
    return written


def to_wire(amount: Decimal, currency: str) -> str:
    """The amount as a plain decimal string with exactly the currency's decimals: ``"12000"``,
    ``"120.00"``, ``"12.345"``. Raises ``MoneyError`` as ``exact`` does."""
    return f"{exact(amount, currency):f}"
