"""Half-open date ranges: merge dirty ranges and collapse nights into runs of equal values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
ONE_DAY = dt.timedelta(days=1)


def merge(ranges: Iterable[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """The fewest ranges covering the same nights; touching ranges join ([1,3) + [3,5) = [1,5))."""
    merged: list[list[dt.date]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def clip(ranges: list[tuple[dt.date, dt.date]], lower: dt.date, upper: dt.date) -> list[tuple[dt.date, dt.date]]:
    clipped = [(max(start, lower), min(end, upper)) for start, end in ranges]
    return [(start, end) for start, end in clipped if start < end]


def runs(
    items: list[T], *, date_of: Callable[[T], dt.date], key: Callable[[T], object]
) -> list[tuple[dt.date, dt.date, T]]:
    """Consecutive dates whose ``key`` is equal, as ``(start, end, first item)``; gaps split runs."""
    result: list[tuple[dt.date, dt.date, T]] = []
    for item in items:
        day = date_of(item)
        if result and result[-1][1] == day and key(result[-1][2]) == key(item):
            start, _end, first = result[-1]
            result[-1] = (start, day + ONE_DAY, first)
        else:
            result.append((day, day + ONE_DAY, item))
    return result
