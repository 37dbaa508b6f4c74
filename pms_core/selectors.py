"""Reads of the PMS core: what each night of a unit looks like right now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from pms_core.models import Booking, CalendarDay, Unit


@dataclass(frozen=True)
class Night:
    date: dt.date
    available: bool
    price: Decimal
    min_stay: int
    # The longest stay arriving on this night; None: no maximum.
    max_stay: int | None
    closed_to_arrival: bool
    closed_to_departure: bool
    stop_sell: bool
    # The active stay or block that holds this night, if any (a confirmed one before an overbooked one).
    booking: Booking | None


def held_stays(*, unit: Unit, start: dt.date, end: dt.date):
    """The stays and blocks that hold a night of ``unit`` in ``[start, end)``: every active one, confirmed
    or overbooked. Everything that decides what a platform sees reads holds through here."""
    return held_stays_many(unit_ids=[unit.pk], start=start, end=end)


def calendar_nights(*, unit: Unit, start: dt.date, end: dt.date, holds: bool = True) -> list[Night]:
    """One ``Night`` per date in ``[start, end)``: stored overrides over the unit's defaults.

    ``holds=False`` skips reading the stays and blocks, for a reader of prices only: every night then
    reads as not held (``booking`` None, ``available`` from stop-sell alone)."""
    return calendar_nights_many(wanted=[(unit, start, end)], holds=holds)[0]


def calendar_nights_many(*, wanted: list[tuple[Unit, dt.date, dt.date]], holds: bool = True) -> list[list[Night]]:
    """``calendar_nights`` of each ``(unit, start, end)`` in ``wanted``, in that order, in two queries
    (one without ``holds``) however many there are: a push of many connections reads them at once."""
    if not wanted:
        return []
    units = {unit.pk for unit, _s, _e in wanted}
    first, last = min(start for _u, start, _e in wanted), max(end for _u, _s, end in wanted)
    overrides: dict[tuple[int, dt.date], CalendarDay] = {
        (day.unit_id, day.date): day
        for day in CalendarDay.objects.filter(unit_id__in=units, date__gte=first, date__lt=last)
    }
    stays_of: dict[int, list[Booking]] = {pk: [] for pk in units}
    if holds:
        for stay in held_stays_many(unit_ids=units, start=first, end=last):
            stays_of[stay.unit_id].append(stay)
    return [_nights(unit, start, end, overrides, stays_of[unit.pk]) for unit, start, end in wanted]


def held_stays_many(*, unit_ids, start: dt.date, end: dt.date):
    """``held_stays`` of several units at once."""
    return (
        Booking.objects.active()
        .overlapping(start, end)
        .filter(unit_id__in=unit_ids)
        .order_by("status", "check_in", "pk")
    )


def _nights(unit: Unit, start: dt.date, end: dt.date, overrides, stays: list[Booking]) -> list[Night]:
    nights = []
    day = start
    while day < end:
        row = overrides.get((unit.pk, day))
        taken = next((stay for stay in stays if stay.covers(day)), None)
        stop_sell = bool(row and row.stop_sell)
        nights.append(
            Night(
                date=day,
                available=taken is None and not stop_sell,
                price=row.price if row and row.price is not None else unit.base_price,
                min_stay=row.min_stay if row and row.min_stay is not None else unit.default_min_stay,
                max_stay=row.max_stay if row and row.max_stay is not None else unit.default_max_stay,
                closed_to_arrival=bool(row and row.closed_to_arrival),
                closed_to_departure=bool(row and row.closed_to_departure),
                stop_sell=stop_sell,
                booking=taken,
            )
        )
        day += dt.timedelta(days=1)
    return nights
