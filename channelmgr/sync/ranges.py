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
    run: list | None = None  # the open run: [start, end, first item, its key]
    for item in items:
        day, value = date_of(item), key(item)
        if run is not None and run[1] == day and run[3] == value:
            run[1] = day + ONE_DAY
            continue
        if run is not None:
            result.append((run[0], run[1], run[2]))
        run = [day, day + ONE_DAY, item, value]
    if run is not None:
        result.append((run[0], run[1], run[2]))
    return result
