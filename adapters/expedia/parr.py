"""Expedia QuickConnect PARR (``ProductAvailRateRetrievalRQ``, ``AvailRateRetrieval``): the nightly
rates Expedia holds for one room type and rate plan, which reconcile compares with what we push.

Dates on the wire are inclusive (``from``/``to``). Asked for one rate plan, Expedia answers at most
365 days per request and silently cuts the rest (the RS schema's note on ``AvailRate@date``), so a
longer window is asked for in slices of ``MAX_DAYS``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from adapters.xml import attr, child, children, date_or_none, decimal_or_none, element, sub, to_bytes

PAR_NS = "http://www.expediaconnect.com/EQC/PAR/2013/07"
MAX_DAYS = 365


def windows(start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    """``[start, end)`` in half-open slices of at most MAX_DAYS nights."""
    while start < end:
        stop = min(end, start + dt.timedelta(days=MAX_DAYS))
        yield start, stop
        start = stop


def rates_request(
    *,
    hotel: str,
    room: str,
    rate: str,
    start: dt.date,
    end: dt.date,
    username: str,
    password: str,
    restrictions: bool = False,
) -> bytes:
    """Ask for the rates (or, with ``restrictions``, the restrictions) of nights ``[start, end)`` (at most
    MAX_DAYS) of one room type and rate plan."""
    root = element(PAR_NS, "ProductAvailRateRetrievalRQ")
    sub(root, "Authentication", {"username": username, "password": password})
    sub(root, "Hotel", {"id": hotel})
    retrieval = sub(
        sub(root, "ParamSet"),
        "AvailRateRetrieval",
        {
            "from": start.isoformat(),
            "to": (end - dt.timedelta(days=1)).isoformat(),
            "inventory": "false",
            "roomAvailStatus": "false",
            "rateAvailStatus": "false",
            "restrictions": "true" if restrictions else "false",
            "rates": "false" if restrictions else "true",
        },
    )
    sub(sub(retrieval, "RoomType", {"id": room}), "RatePlan", {"id": rate})
    return to_bytes(root)


def rates_from_answer(root, *, room: str, rate: str) -> dict[dt.date, Decimal]:
    """Night -> the per-day rate of ``room``/``rate`` in a PARR answer; nights without one are left out.
    Read by local name, like every EQC answer."""
    found: dict[dt.date, Decimal] = {}
    for avail in children(child(root, "AvailRateList"), "AvailRate"):
        night = date_or_none(attr(avail, "date"))
        if night is None:
            continue
        for room_type in children(avail, "RoomType"):
            if attr(room_type, "id") != room:
                continue
            for plan in children(room_type, "RatePlan"):
                per_day = child(child(plan, "Rate"), "PerDay")
                amount = decimal_or_none(attr(per_day, "rate")) if attr(plan, "id") == rate else None
                if amount is not None:
                    found[night] = amount
    return found


def max_stays_from_answer(root, *, room: str, rate: str) -> dict[dt.date, int]:
    """Night -> the ``Restrictions@maxLOS`` of ``room``/``rate`` in a PARR answer; nights without one are
    left out."""
    found: dict[dt.date, int] = {}
    for avail in children(child(root, "AvailRateList"), "AvailRate"):
        night = date_or_none(attr(avail, "date"))
        for room_type in children(avail, "RoomType") if night is not None else []:
            for plan in children(room_type, "RatePlan") if attr(room_type, "id") == room else []:
                stay = attr(child(plan, "Restrictions"), "maxLOS")
                if attr(plan, "id") == rate and stay.isdigit():
                    found[night] = int(stay)
    return found
