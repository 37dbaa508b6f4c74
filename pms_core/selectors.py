"""Reads of the PMS core: what each night of a unit looks like right now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

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


_ONE_DAY = dt.timedelta(days=1)


class _Override(NamedTuple):
    """What a stored ``CalendarDay`` sets on its night (None: the unit's default)."""

    price: Decimal | None
    min_stay: int | None
    max_stay: int | None
    stop_sell: bool
    closed_to_arrival: bool
    closed_to_departure: bool


_NO_OVERRIDE = _Override(None, None, None, False, False, False)  # a night with no CalendarDay row


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
    # Plain rows, not model instances: a drain reads a month of 25 units at once, and building 750
    # instances cost it more than the query did.
    overrides: dict[tuple[int, dt.date], _Override] = {
        (row[0], row[1]): _Override(*row[2:])
        for row in CalendarDay.objects.filter(unit_id__in=units, date__gte=first, date__lt=last).values_list(
            "unit_id", "date", *_Override._fields
        )
    }
    stays_of: dict[int, list[Booking]] = {pk: [] for pk in units}
    if holds:
        for stay in held_stays_many(unit_ids=units, start=first, end=last):
            stays_of[stay.unit_id].append(stay)
    # A unit's connections want the same nights (a full sync: a year on each of its platforms): each
    # range is built once, and every caller gets a list of its own (Night is frozen).
    built: dict[tuple[int, dt.date, dt.date], list[Night]] = {}
    result = []
    for unit, start, end in wanted:
        key = (unit.pk, start, end)
        if key not in built:
            built[key] = _nights(unit, start, end, overrides, stays_of[unit.pk])
        result.append(list(built[key]))
    return result


def held_stays_many(*, unit_ids, start: dt.date, end: dt.date):
    """``held_stays`` of several units at once."""
    return (
        Booking.objects.active()
        .overlapping(start, end)
        .filter(unit_id__in=unit_ids)
        .order_by("status", "check_in", "pk")
    )


def _nights(unit: Unit, start: dt.date, end: dt.date, overrides, stays: list[Booking]) -> list[Night]:
    # A full sync builds a year of nights for many units at once: each night is one dict look-up per
    # source, not a scan of the stays.
    holder: dict[dt.date, Booking] = {}
    for stay in reversed(stays):  # the first of ``stays`` that covers a night holds it
        day, last = max(stay.check_in, start), min(stay.check_out, end)
        while day < last:
            holder[day] = stay
            day += _ONE_DAY
    pk, base_price = unit.pk, unit.base_price
    min_stay, max_stay = unit.default_min_stay, unit.default_max_stay
    nights = []
    day = start
    while day < end:
        row = overrides.get((pk, day), _NO_OVERRIDE)
        taken = holder.get(day)
        night = Night(
            date=day,
            available=taken is None and not row.stop_sell,
            price=base_price if row.price is None else row.price,
            min_stay=min_stay if row.min_stay is None else row.min_stay,
            max_stay=max_stay if row.max_stay is None else row.max_stay,
            closed_to_arrival=bool(row.closed_to_arrival),
            closed_to_departure=bool(row.closed_to_departure),
            stop_sell=bool(row.stop_sell),
            booking=taken,
        )
        nights.append(night)
        day += _ONE_DAY
    return nights
