"""Prices, restrictions and blocks over date ranges. Only days that differ from the unit are stored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

import money
from pms_core.models import Booking, CalendarDay, OutboxEvent, Unit
from pms_core.outbox import outbox_record
from pms_core.services.bookings import booking_cancel, booking_create, booking_modify, booking_split
from pms_core.services.stays import lock_unit, validate_range

UNSET = object()
RESTRICTION_FIELDS = ("min_stay", "max_stay", "closed_to_arrival", "closed_to_departure", "stop_sell")
# (lowest, highest) of a night's stays, as the platforms take them (the API's fields use these).
NIGHT_BOUNDS = {"min_stay": (1, 365), "max_stay": (1, 1125)}
# The calendar's price column: 8 digits before the point. A larger price was stored on SQLite, and every
# later read of the unit's nights failed (its pushes, close-outs included); Postgres refused it unnamed.
PRICE_LIMIT = Decimal("99999999.999")


def _defaults(unit: Unit) -> dict:
    return {
        "price": unit.base_price,
        "min_stay": unit.default_min_stay,
        "max_stay": unit.default_max_stay,
        "closed_to_arrival": False,
        "closed_to_departure": False,
        "stop_sell": False,
    }


def _validate_values(values: dict, currency: str) -> dict:
    """The values as stored; raises ``ValidationError`` naming the field. A price must be written
    with at most its currency's decimals (JPY 12000.50 is refused, not rounded), and more than zero: no
    platform takes a night for nothing, so a zero would be refused at every push, holding back the other
    nights it travels with."""
    price = values.get("price", UNSET)
    if price is not UNSET and price is not None:
        if Decimal(price) <= 0:
            raise ValidationError({"price": "must be more than 0 (no platform takes a night for nothing)"})
        if Decimal(price) > PRICE_LIMIT:
            raise ValidationError({"price": f"must be at most {PRICE_LIMIT}"})
        try:
            values = {**values, "price": money.exact(Decimal(price), currency)}
        except money.MoneyError as exc:
            raise ValidationError({"price": str(exc)}) from None
    for name, (low, high) in NIGHT_BOUNDS.items():
        stay = values.get(name, UNSET)
        if stay is not UNSET and stay is not None and not low <= int(stay) <= high:
            raise ValidationError({name: f"must be between {low} and {high}"})
    return values


def _check_stays(row: CalendarDay, defaults: dict, values: dict) -> None:
    """A night's maximum stay must not be below its minimum stay (both as they apply, defaults included)."""
    min_stay = row.min_stay if row.min_stay is not None else defaults["min_stay"]
    max_stay = row.max_stay if row.max_stay is not None else defaults["max_stay"]
    if max_stay is not None and max_stay < min_stay:
        field = "max_stay" if "max_stay" in values else "min_stay"
        raise ValidationError(
            {field: f"on {row.date} the maximum stay ({max_stay}) would be below the minimum stay ({min_stay})"}
        )


def calendar_set(*, unit: Unit, start: dt.date, end: dt.date, **values) -> int:
    """Set any of price, min_stay, max_stay, closed_to_arrival, closed_to_departure, stop_sell on ``[start, end)``.

    A field left out is unchanged; ``None`` resets it to the unit's default. Returns the number of
    days whose stored values changed. Emits ``pricing.updated`` and/or ``availability.updated``.
    """
    unknown = set(values) - {"price", *RESTRICTION_FIELDS}
    if unknown:
        raise ValidationError({name: "unknown calendar field" for name in unknown})
    validate_range(start, end, start_field="start", end_field="end", max_nights=settings.CALENDAR_MAX_DAYS)
    values = _validate_values(values, unit.property.currency)
    if not values:
        return 0
    defaults = _defaults(unit)
    with transaction.atomic():
        lock_unit(unit)
        existing = {day.date: day for day in CalendarDay.objects.filter(unit=unit, date__gte=start, date__lt=end)}
        to_create, to_update, to_delete = [], [], []
        changed = 0
        day = start
        while day < end:
            row = existing.get(day) or CalendarDay(unit=unit, date=day)
            before = [getattr(row, name) for name in values]
            for name, value in values.items():
                # Store a value only where it differs from the unit's default.
                setattr(row, name, None if value is None or value == defaults[name] else value)
            if {"min_stay", "max_stay"} & set(values):
                _check_stays(row, defaults, values)
            if [getattr(row, name) for name in values] != before:
                changed += 1
                if all(getattr(row, name) is None for name in defaults):
                    if row.pk:
                        to_delete.append(row.pk)
                elif row.pk:
                    to_update.append(row)
                else:
                    to_create.append(row)
            day += dt.timedelta(days=1)
        CalendarDay.objects.bulk_create(to_create)
        if to_update:
            CalendarDay.objects.bulk_update(to_update, [*defaults])
        CalendarDay.objects.filter(pk__in=to_delete).delete()
        if "price" in values:
            outbox_record(event_type=OutboxEvent.Type.PRICING_UPDATED, unit=unit, start=start, end=end)
        if set(values) & set(RESTRICTION_FIELDS):
            outbox_record(event_type=OutboxEvent.Type.AVAILABILITY_UPDATED, unit=unit, start=start, end=end)
    return changed


def calendar_set_prices(*, unit: Unit, start: dt.date, end: dt.date, price: Decimal | None) -> int:
    """Set the nightly price on ``[start, end)`` (``None`` restores the unit's base price)."""
    return calendar_set(unit=unit, start=start, end=end, price=price)


def calendar_set_restrictions(
    *,
    unit: Unit,
    start: dt.date,
    end: dt.date,
    min_stay=UNSET,
    max_stay=UNSET,
    closed_to_arrival=UNSET,
    closed_to_departure=UNSET,
    stop_sell=UNSET,
) -> int:
    """Set restrictions on ``[start, end)``; arguments left out are unchanged."""
    values = {
        name: value
        for name, value in (
            ("min_stay", min_stay),
            ("max_stay", max_stay),
            ("closed_to_arrival", closed_to_arrival),
            ("closed_to_departure", closed_to_departure),
            ("stop_sell", stop_sell),
        )
        if value is not UNSET
    }
    return calendar_set(unit=unit, start=start, end=end, **values)


def calendar_block(
    *,
    unit: Unit,
    start: dt.date,
    end: dt.date,
    note: str = "",
    source: str = Booking.DIRECT,
    channel_booking_id: str | None = None,
    source_version: str = "",
    overbook_on_clash: bool = False,
    actor: str = "system",
) -> Booking:
    """Close ``[start, end)`` for guests (owner stay, maintenance). Raises ``BookingClash`` if held."""
    return booking_create(
        unit=unit,
        check_in=start,
        check_out=end,
        kind=Booking.Kind.BLOCK,
        note=note,
        source=source,
        channel_booking_id=channel_booking_id,
        source_version=source_version,
        overbook_on_clash=overbook_on_clash,
        actor=actor,
    )


def calendar_unblock(*, unit: Unit, start: dt.date, end: dt.date, actor: str = "system") -> int:
    """Reopen ``[start, end)`` by trimming or splitting our own (direct) blocks; returns blocks touched.

    Blocks that came from a platform (an iCal feed) are left alone: that platform owns them.
    """
    validate_range(start, end, start_field="start", end_field="end", max_nights=settings.CALENDAR_MAX_DAYS)
    touched = 0
    with transaction.atomic():
        lock_unit(unit)  # before reading the blocks, so a concurrent unblock cannot work from a stale copy
        blocks = Booking.objects.filter(
            unit=unit,
            kind=Booking.Kind.BLOCK,
            source=Booking.DIRECT,
            status=Booking.Status.CONFIRMED,
            check_in__lt=end,
            check_out__gt=start,
        ).order_by("check_in")
        for block in blocks:
            touched += 1
            keep_before = block.check_in < start
            keep_after = block.check_out > end
            if not keep_before and not keep_after:
                booking_cancel(booking=block, actor=actor)
            elif keep_before and keep_after:
                booking_split(booking=block, start=start, end=end, actor=actor)
            elif keep_before:
                booking_modify(booking=block, check_out=start, actor=actor)
            else:
                booking_modify(booking=block, check_in=end, actor=actor)
    return touched
