"""OTA 2015B ARI messages: ``OTA_HotelAvailNotifRQ``, ``OTA_HotelRateAmountNotifRQ`` and their answers.

Booking.com and Google Vacation Rentals both take these exact messages (docs/platforms.md), so the
Google adapter imports this module instead of keeping a second copy that could drift.

Half-open ranges become inclusive ``Start``/``End``. An OTA ``AvailStatusMessage`` holds one
``RestrictionStatus``, so one range needs up to three messages: BookingLimit + MinLOS + Master
(stop-sell) per range, and arrival/departure restrictions, which are merged over runs of adjacent
ranges with the same flag (a closed-to-arrival flag rarely changes, so this keeps requests few).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import requests

from adapters import http
from adapters.base import AvailabilityRange, AvailabilityUpdate, PlatformAPIError, PriceRange, PricingUpdate
from adapters.xml import (
    InvalidUpdateError,
    attr,
    child,
    currency_code,
    descendants,
    element,
    local,
    parse_answer,
    price_text,
    sub,
    text,
    to_bytes,
)

log = logging.getLogger(__name__)

OTA_NS = "http://www.opentravel.org/OTA/2003/05"
OTA_VERSION = "1.0"
MAX_MESSAGES = 1000
CONTENT_TYPE = "text/xml; charset=utf-8"

# OTA error codes (code list ERR) that mean "this room / rate / hotel is not mapped".
UNKNOWN_MAPPING_CODES = {"392": "hotel", "402": "room type", "249": "rate plan"}
TRANSIENT_TYPES = {"12"}  # EWT 12: processing exception


def now_stamp() -> str:
    """The ``TimeStamp`` of outgoing messages (tests pin it by patching this function)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class AvailMessage:
    start: dt.date
    last: dt.date  # inclusive
    booking_limit: int | None = None
    min_los: int | None = None
    max_los: int | None = None
    restriction: str | None = None  # Master | Arrival | Departure
    closed: bool = False


@dataclass(frozen=True)
class RateMessage:
    start: dt.date
    last: dt.date
    amount: str
    currency: str


# --- checks before anything is sent -----------------------------------------------------------


def hotel_code(listing_id: str) -> str:
    if not isinstance(listing_id, str) or not 1 <= len(listing_id) <= 16:
        raise InvalidUpdateError(f"OTA HotelCode must be 1-16 characters, got {listing_id!r}")
    return listing_id


def check_ranges(ranges: Sequence[AvailabilityRange | PriceRange]) -> None:
    """Ranges must be ordered and must not overlap (``AvailabilityUpdate``'s contract)."""
    for previous, current in zip(ranges, ranges[1:], strict=False):
        if current.range.start < previous.range.end:
            raise InvalidUpdateError(f"ranges overlap or are unordered at {current.range.start}")


def _min_stay(item: AvailabilityRange) -> int:
    # The dataclass refuses < 1, but a bool or a value set behind its back must not reach the wire.
    if isinstance(item.min_stay, bool) or not isinstance(item.min_stay, int) or item.min_stay < 1:
        raise InvalidUpdateError(f"min_stay must be an integer >= 1, got {item.min_stay!r}")
    return item.min_stay


# --- messages ---------------------------------------------------------------------------------


def _max_stay(item: AvailabilityRange, ceiling: int | None) -> int | None:
    if ceiling is None:
        return None
    return item.max_stay_on_wire(ceiling)


def avail_messages(update: AvailabilityUpdate, *, max_stay_ceiling: int | None = None) -> list[AvailMessage]:
    """All messages for the update, validated; raises ``InvalidUpdateError`` before anything is sent.

    With ``max_stay_ceiling`` each range's Master message also sets its maximum stay (``SetMaxLOS``):
    ours, or the ceiling where ours is longer or unset, so a maximum set earlier is always replaced.
    """
    ranges = tuple(update.ranges)
    check_ranges(ranges)
    messages = [
        AvailMessage(
            start=item.range.start,
            last=item.range.last_night,
            booking_limit=1 if item.available else 0,
            min_los=_min_stay(item),
            max_los=_max_stay(item, max_stay_ceiling),
            restriction="Master",
            closed=bool(item.stop_sell),
        )
        for item in ranges
    ]
    messages += _runs(ranges, "Arrival", lambda item: bool(item.closed_to_arrival))
    messages += _runs(ranges, "Departure", lambda item: bool(item.closed_to_departure))
    return messages


def _runs(ranges: Sequence[AvailabilityRange], restriction: str, flag) -> Iterator[AvailMessage]:
    """One message per run of adjacent ranges that share the flag."""
    run_start = None
    for index, item in enumerate(ranges):
        if run_start is None:
            run_start = item
        following = ranges[index + 1] if index + 1 < len(ranges) else None
        if following is None or following.range.start != item.range.end or flag(following) != flag(item):
            yield AvailMessage(
                start=run_start.range.start,
                last=item.range.last_night,
                restriction=restriction,
                closed=flag(item),
            )
            run_start = None


def rate_messages(update: PricingUpdate) -> list[RateMessage]:
    ranges = tuple(update.ranges)
    check_ranges(ranges)
    return [
        RateMessage(item.range.start, item.range.last_night, price_text(item), currency_code(item.currency))
        for item in ranges
    ]


def _root(tag: str):
    return element(OTA_NS, tag, {"Version": OTA_VERSION, "TimeStamp": now_stamp()})


def _control(parent, start: dt.date, last: dt.date, room: str, rate: str):
    sub(
        parent,
        "StatusApplicationControl",
        {"Start": start.isoformat(), "End": last.isoformat(), "InvTypeCode": room, "RatePlanCode": rate},
    )


def avail_request(hotel: str, messages: Iterable[AvailMessage], *, room: str, rate: str) -> bytes:
    return avail_request_rooms(hotel, ((room, rate, message) for message in messages))


def avail_request_rooms(hotel: str, messages: Iterable[tuple[str, str, AvailMessage]]) -> bytes:
    """One request for several room types of a hotel: (room, rate plan, message) triples."""
    root = _root("OTA_HotelAvailNotifRQ")
    container = sub(root, "AvailStatusMessages", {"HotelCode": hotel})
    for room, rate, message in messages:
        attrs = {}
        if message.booking_limit is not None:
            attrs = {"BookingLimit": str(message.booking_limit), "BookingLimitMessageType": "SetLimit"}
        node = sub(container, "AvailStatusMessage", attrs)
        _control(node, message.start, message.last, room, rate)
        if message.min_los is not None or message.max_los is not None:
            stays = sub(node, "LengthsOfStay")
            if message.min_los is not None:
                sub(stays, "LengthOfStay", {"MinMaxMessageType": "SetMinLOS", "Time": str(message.min_los)})
            if message.max_los is not None:
                sub(stays, "LengthOfStay", {"MinMaxMessageType": "SetMaxLOS", "Time": str(message.max_los)})
        if message.restriction:
            status = "Close" if message.closed else "Open"
            sub(node, "RestrictionStatus", {"Restriction": message.restriction, "Status": status})
    return to_bytes(root)


def rate_request(hotel: str, messages: Iterable[RateMessage], *, room: str, rate: str) -> bytes:
    return rate_request_rooms(hotel, ((room, rate, message) for message in messages))


def rate_request_rooms(hotel: str, messages: Iterable[tuple[str, str, RateMessage]]) -> bytes:
    """One request for several room types of a hotel: (room, rate plan, message) triples."""
    root = _root("OTA_HotelRateAmountNotifRQ")
    container = sub(root, "RateAmountMessages", {"HotelCode": hotel})
    for room, rate, message in messages:
        node = sub(container, "RateAmountMessage")
        _control(node, message.start, message.last, room, rate)
        amounts = sub(sub(sub(node, "Rates"), "Rate"), "BaseByGuestAmts")
        sub(amounts, "BaseByGuestAmt", {"AmountAfterTax": message.amount, "CurrencyCode": message.currency})
    return to_bytes(root)


def ping_request(echo: str) -> bytes:
    root = _root("OTA_PingRQ")
    sub(root, "EchoData", text_value=echo)
    return to_bytes(root)


# --- answers ----------------------------------------------------------------------------------


def post(url: str, body: bytes, *, platform: str, endpoint: str, context: str = "", **kwargs):
    """POST one OTA message and return the parsed ``RS``; raises ``PlatformAPIError`` on any error."""
    response = http.request(
        "POST",
        url,
        platform=platform,
        endpoint=endpoint,
        raise_for_status=False,
        data=body,
        headers={"Content-Type": CONTENT_TYPE, **kwargs.pop("headers", {})},
        **kwargs,
    )
    return check_answer(response, platform=platform, endpoint=endpoint, context=context)


def check_answer(response: requests.Response, *, platform: str, endpoint: str, context: str = ""):
    """Map an OTA answer to the parsed root, or raise.

    HTTP 429/5xx are transient whatever the body says; other HTTP errors permanent. In a 200 answer,
    ``Errors`` are permanent unless every one is ``Type="12"`` (processing exception).
    """
    status = response.status_code
    root = None
    if response.content:
        try:
            root = parse_answer(response.content, platform=platform, endpoint=endpoint)
        except PlatformAPIError:
            if status < 400:
                raise
    errors = _errors(root)
    if status >= 400:
        transient = status == 429 or status >= 500
        raise PlatformAPIError(
            f"{platform} {endpoint}: HTTP {status}{_describe(errors, context)}",
            permanent=not transient,
            status=status,
            retry_after=http.retry_after_seconds(response),
            code=errors[0][1] if errors else None,
        )
    if errors:
        permanent = any(kind not in TRANSIENT_TYPES for kind, _code, _text in errors)
        kind = errors[0][0]
        http.report_refusal(
            platform=platform, endpoint=endpoint, error_type=f"ota_type_{kind}" if kind.isdigit() else "ota_type_other"
        )
        raise PlatformAPIError(
            f"{platform} {endpoint}: refused{_describe(errors, context)}",
            permanent=permanent,
            status=status,
            code=errors[0][1] or None,
        )
    if root is None or child(root, "Success") is None:
        raise PlatformAPIError(f"{platform} {endpoint}: answer has neither Success nor Errors", permanent=False)
    for warning in descendants(child(root, "Warnings"), "Warning"):
        log.warning("%s %s warning %s: %s", platform, endpoint, attr(warning, "Code"), text(warning))
    return root


def _errors(root) -> list[tuple[str, str, str]]:
    if root is None:
        return []
    return [
        (attr(error, "Type"), attr(error, "Code"), text(error) or attr(error, "ShortText"))
        for error in descendants(child(root, "Errors"), "Error")
    ]


def _describe(errors: list[tuple[str, str, str]], context: str) -> str:
    if not errors:
        return ""
    parts = []
    for kind, code, message in errors:
        what = UNKNOWN_MAPPING_CODES.get(code)
        if what:
            message = f"unknown {what} ({context}); check room_id/rate_plan_id in the connection: {message}"
        parts.append(f"[Type {kind} Code {code}] {message}")
    return ": " + "; ".join(parts)


def is_root(root, name: str) -> bool:
    return root is not None and local(root) == name
