"""Strict checks for JSON payload fields. Each raises Invalid with a reason that names the field."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from iso4217 import Currency

from sandbox.exchange import Invalid

CURRENCY = re.compile(r"^[A-Z]{3}$")


def require_object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be a JSON object")
    return value


def exact_fields(item: dict, required: set[str], where: str, optional: set[str] = frozenset()) -> None:
    missing = sorted(required - item.keys())
    if missing:
        raise Invalid(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(item.keys() - required - optional)
    if unknown:
        raise Invalid(f"{where}: unknown field(s) {', '.join(unknown)}")


def require_list(value: Any, where: str, *, max_items: int) -> list:
    if not isinstance(value, list) or not value:
        raise Invalid(f"{where} must be a non-empty list")
    if len(value) > max_items:
        raise Invalid(f"{where} has {len(value)} items, at most {max_items} are allowed")
    return value


def iso_date(value: Any, where: str) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise Invalid(f"{where} must be a date YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(f"{where} is not a real date: {value!r}") from exc


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{where} must be true or false, got {value!r}")
    return value


def positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(f"{where} must be an integer >= 1, got {value!r}")
    return value


def minor_units(code: str) -> int:
    """ISO 4217 minor units of a currency ``currency()`` accepted: JPY 0, EUR 2, KWD 3."""
    return Currency(code).exponent


def money(value: Any, where: str, currency_code: str) -> Decimal:
    """A price on the wire: a decimal string with exactly the currency's ISO 4217 decimals
    (``"12000"`` JPY, ``"120.00"`` EUR, ``"12.345"`` KWD), greater than zero."""
    places = minor_units(currency_code)
    pattern = r"\d{1,10}" + (rf"\.\d{{{places}}}" if places else "")
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        example = money_text(Decimal(120), currency_code)
        raise Invalid(
            f'{where} must be a decimal string with {places} places in {currency_code} like "{example}", got {value!r}'
        )
    amount = Decimal(value)
    if amount <= 0:
        raise Invalid(f"{where} must be greater than 0, got {value!r}")
    return amount


def money_text(amount: Decimal, currency_code: str) -> str:
    """An amount as the platforms write it: exactly the currency's decimals."""
    return f"{amount.quantize(Decimal(1).scaleb(-minor_units(currency_code))):f}"


def currency(value: Any, where: str) -> str:
    """An ISO 4217 code that prices can be in (upper case; not gold or a test code)."""
    if not isinstance(value, str) or not CURRENCY.match(value):
        raise Invalid(f"{where} must be an ISO 4217 code like EUR, got {value!r}")
    try:
        if Currency(value).exponent is None:
            raise ValueError(value)
    except ValueError:
        raise Invalid(f"{where} must be an ISO 4217 currency that prices can be in, got {value!r}") from None
    return value


def stay_limit(value: Any, where: str, ceiling: int) -> int:
    """A maximum stay: an integer 1..ceiling (the platform's own longest)."""
    stay = positive_int(value, where)
    if stay > ceiling:
        raise Invalid(f"{where} must be at most {ceiling}, got {value!r}")
    return stay


MAX_RANGE_DAYS = 1100  # about three years: the longest calendar any platform keeps


def inclusive_range(start: date, end: date, where: str) -> list[date]:
    if end < start:
        raise Invalid(f"{where}: end {end} is before start {start} (ranges are inclusive)")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise Invalid(f"{where}: {start}..{end} is longer than {MAX_RANGE_DAYS} days")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def no_overlaps(ranges: list[tuple[date, date]], where: str) -> None:
    ordered = sorted(ranges)
    for (_, prev_end), (start, _) in zip(ordered, ordered[1:], strict=False):
        if start <= prev_end:
            raise Invalid(f"{where}: ranges overlap on {start}")


def timestamp(value: str | None, where: str) -> datetime | None:
    """An ISO 8601 instant; without an offset it is taken as UTC."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise Invalid(f"{where} must be an ISO 8601 timestamp, got {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_precise(moment: datetime) -> str:
    """With microseconds: two changes within one second still get different versions."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
