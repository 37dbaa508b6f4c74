"""Expedia QuickConnect messages: AR (``AvailRateUpdateRQ``), BR (``BookingRetrievalRQ``), BC
(``BookingConfirmRQ``), built strictly to the EQC schemas, and their answers read leniently.

Answers come back in other namespace versions than the requests (``AR/2007/02``, ``BC/2007/08``), so
they are read by local name only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import Decimal

import requests

from adapters import http
from adapters.base import (
    AvailabilityRange,
    BookingData,
    BookingStatus,
    Guest,
    PlatformAPIError,
    PriceRange,
)
from adapters.booking_com.reservations import special_requests
from adapters.expedia.notifications import brand_and_payment
from adapters.xml import (
    InvalidUpdateError,
    attr,
    child,
    children,
    currency_code,
    date_or_none,
    decimal_or_none,
    descendants,
    element,
    parse_answer,
    price_text,
    sub,
    text,
    to_bytes,
    utc_version,
)

log = logging.getLogger(__name__)

AR_NS = "http://www.expediaconnect.com/EQC/AR/2011/06"
BR_NS = "http://www.expediaconnect.com/EQC/BR/2014/01"
BC_NS = "http://www.expediaconnect.com/EQC/BC/2007/09"
CONTENT_TYPE = "text/xml; charset=utf-8"
MAX_LOS = 28  # EQC's minLOS and maxLOS range is 1..28 (a longer maximum, or none, is sent as 28)
MAX_CONFIRMATIONS = 10  # BookingConfirmNumber maxOccurs

# EQC codes that are permanent although they sit in the 3000s: the mapping is wrong.
UNKNOWN_MAPPING = {"3202": "hotel", "3203": "room type", "3204": "rate plan"}


def hotel_id(listing_id: str) -> str:
    """EQC hotel ids are non-negative integers; anything else is refused before a request."""
    if not (isinstance(listing_id, str) and listing_id.isdigit() and int(listing_id) < 2**31):
        raise InvalidUpdateError(f"Expedia hotel ids are numeric, got {listing_id!r}")
    return str(int(listing_id))


def _authenticated(ns: str, tag: str, username: str, password: str):
    root = element(ns, tag)
    sub(root, "Authentication", {"username": username, "password": password})
    return root


# --- AR ---------------------------------------------------------------------------------------


def check_ranges(ranges: Sequence[AvailabilityRange | PriceRange]) -> None:
    for previous, current in zip(ranges, ranges[1:], strict=False):
        if current.range.start < previous.range.end:
            raise InvalidUpdateError(f"ranges overlap or are unordered at {current.range.start}")


def availability_updates(ranges: Sequence[AvailabilityRange]) -> list[AvailabilityRange]:
    """Validate every range before anything is built or sent.

    A minimum stay longer than EQC's ``minLOS`` can say (28 nights; a monthly let's 30, say) closes those
    nights to arrival on Expedia: no stay arriving there could meet it, for Expedia sells 28 nights at
    most. A stay passing through them (arriving before, a minimum stay counts on the arrival night) is
    one the PMS sells, so the nights stay open to it: a stop-sell lost those sales. Refusing the update
    instead failed the whole push for good, which set the connection aside (needs attention) and with it
    every later close-out of a booking made elsewhere."""
    check_ranges(ranges)
    checked = []
    for item in ranges:
        stay = item.min_stay
        if isinstance(stay, bool) or not isinstance(stay, int) or stay < 1:
            raise InvalidUpdateError(f"Expedia minLOS must be 1..{MAX_LOS}, got {stay!r}")
        if stay > MAX_LOS:
            log.warning(
                "expedia: a minimum stay of %s nights from %s is sent as closed to arrival", stay, item.range.start
            )
            item = replace(item, min_stay=MAX_LOS, closed_to_arrival=True)
        item.max_stay_on_wire(MAX_LOS)  # raises InvalidUpdateError
        checked.append(item)
    return checked


def price_updates(ranges: Sequence[PriceRange]) -> list[tuple[PriceRange, str, str]]:
    check_ranges(ranges)
    return [(item, price_text(item), currency_code(item.currency)) for item in ranges]


def _date_range(parent, item) -> None:
    sub(parent, "DateRange", {"from": item.range.start.isoformat(), "to": item.range.last_night.isoformat()})


def _bool(value: bool) -> str:
    return "true" if value else "false"


def availability_request(
    *, hotel: str, items: Iterable[tuple[str, str, AvailabilityRange]], username: str, password: str
) -> bytes:
    """One AR of ``hotel``: an AvailRateUpdate per ``(room type, rate plan, range)``, so one request
    carries several room types of the hotel."""
    root = _authenticated(AR_NS, "AvailRateUpdateRQ", username, password)
    sub(root, "Hotel", {"id": hotel})
    for room, rate, item in items:
        update = sub(root, "AvailRateUpdate")
        _date_range(update, item)
        # Stop-sell closes the room type; availability is the inventory of one.
        room_type = sub(update, "RoomType", {"id": room, "closed": _bool(item.stop_sell)})
        sub(room_type, "Inventory", {"totalInventoryAvailable": "1" if item.available else "0"})
        plan = sub(room_type, "RatePlan", {"id": rate})
        sub(
            plan,
            "Restrictions",
            {
                "minLOS": str(item.min_stay),
                "maxLOS": str(item.max_stay_on_wire(MAX_LOS)),
                "closedToArrival": _bool(item.closed_to_arrival),
                "closedToDeparture": _bool(item.closed_to_departure),
            },
        )
    return to_bytes(root)


def pricing_request(
    *, hotel: str, items: Iterable[tuple[str, str, tuple[PriceRange, str, str]]], username: str, password: str
) -> bytes:
    """One AR of ``hotel``: an AvailRateUpdate per ``(room type, rate plan, (range, amount, currency))``."""
    root = _authenticated(AR_NS, "AvailRateUpdateRQ", username, password)
    sub(root, "Hotel", {"id": hotel})
    for room, rate, (item, amount, currency) in items:
        update = sub(root, "AvailRateUpdate")
        _date_range(update, item)
        plan = sub(sub(update, "RoomType", {"id": room}), "RatePlan", {"id": rate})
        sub(sub(plan, "Rate", {"currency": currency}), "PerDay", {"rate": amount})
    return to_bytes(root)


# --- BR / BC ----------------------------------------------------------------------------------


def retrieval_request(*, username: str, password: str, hotel: str | None = None, booking_id: str | None = None):
    root = _authenticated(BR_NS, "BookingRetrievalRQ", username, password)
    if hotel is not None:
        sub(root, "Hotel", {"id": hotel})
    if booking_id is not None:
        sub(sub(root, "ParamSet"), "Booking", {"id": booking_id})
    return to_bytes(root)


def confirm_request(
    *, hotel: str, confirmations: Sequence[tuple[BookingData, str]], username: str, password: str, now: dt.datetime
) -> bytes:
    root = _authenticated(BC_NS, "BookingConfirmRQ", username, password)
    sub(root, "Hotel", {"id": hotel})
    numbers = sub(root, "BookingConfirmNumbers")
    stamp = now.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    for booking, our_id in confirmations:
        booking_type = booking.raw_status if booking.raw_status in ("Book", "Modify", "Cancel") else None
        if booking_type is None:
            booking_type = "Cancel" if booking.status == BookingStatus.CANCELLED else "Book"
        if not booking.channel_booking_id.isdigit():
            raise InvalidUpdateError(f"Expedia booking ids are numeric, got {booking.channel_booking_id!r}")
        if not 1 <= len(str(our_id)) <= 50:
            raise InvalidUpdateError(f"confirmation number must be 1-50 characters, got {our_id!r}")
        sub(
            numbers,
            "BookingConfirmNumber",
            {
                "bookingID": booking.channel_booking_id,
                "bookingType": booking_type,
                "confirmNumber": str(our_id),
                "confirmTime": stamp,
            },
        )
    return to_bytes(root)


def bookings_from_retrieval(root, *, unreadable: list[str] | None = None) -> list[BookingData]:
    """Every booking of a BR answer. Raises for one it cannot read; with ``unreadable``, that one is
    described there instead and the others are returned (a pull imports them and leaves it unconfirmed,
    so Expedia offers it again)."""
    bookings = []
    for position, node in enumerate(children(child(root, "Bookings"), "Booking"), start=1):
        try:
            bookings.append(booking_from_br(node))
        except (PlatformAPIError, ValueError, ArithmeticError) as exc:
            if unreadable is None:
                raise
            name = attr(node, "id") or f"#{position} of the answer (no id)"
            unreadable.append(f"booking {name} could not be read: {exc}"[:300])
    return bookings


def booking_from_br(node) -> BookingData:
    stay = child(node, "RoomStay")
    dates = child(stay, "StayDate")
    counts = child(stay, "GuestCount")
    total = child(stay, "Total")
    rates = child(stay, "PerDayRates")
    guest = child(node, "PrimaryGuest")
    name = child(guest, "Name")
    booking_type = attr(node, "type") or "Book"
    check_in, check_out = date_or_none(attr(dates, "arrival")), date_or_none(attr(dates, "departure"))
    if not attr(node, "id") or not check_in or not check_out or check_out <= check_in:
        raise PlatformAPIError("expedia: BR booking without id or stay dates", permanent=False)
    adults = int(attr(counts, "adult") or 0) if attr(counts, "adult").isdigit() else 0
    kids = int(attr(counts, "child")) if attr(counts, "child").isdigit() else len(children(counts, "Child"))
    return BookingData(
        platform="expedia",
        channel_booking_id=attr(node, "id"),
        listing_id=attr(child(node, "Hotel"), "id"),
        room_type=attr(stay, "roomTypeID"),
        status=BookingStatus.CANCELLED if booking_type == "Cancel" else BookingStatus.CONFIRMED,
        check_in=check_in,
        check_out=check_out,
        guest=Guest(
            name=" ".join(part for part in (attr(name, "givenName"), attr(name, "surname")) if part),
            email=text(child(guest, "Email")),
            phone=_phone(child(guest, "Phone")),
        ),
        guests_count=max(1, adults + kids),
        total_amount=_amount(total),
        currency=attr(total, "currency") or attr(rates, "currency"),
        version=utc_version(attr(node, "createDateTime")),
        raw_status=booking_type,
        taxes=_money(attr(total, "amountOfTaxes")),
        fees=_fees(rates),
        adults=adults if attr(counts, "adult").isdigit() else None,
        children=kids if counts is not None else None,
        special_requests=special_requests(node),
        **_brand(attr(node, "source")),
    )


def _brand(source: str) -> dict:
    brand, payment_model = brand_and_payment(source)
    return {"sub_channel": brand, "payment_model": payment_model}


def _money(value: str) -> Decimal | None:
    amount = decimal_or_none(value)
    return amount if amount is not None and amount.is_finite() else None


def _fees(rates) -> Decimal | None:
    """The property's service fees over the stay (``PerDayRate@hotelServiceFees``); extra-person fees
    are part of the room's price."""
    fees = [_money(attr(rate, "hotelServiceFees")) for rate in children(rates, "PerDayRate")]
    fees = [fee for fee in fees if fee is not None]
    return sum(fees, Decimal(0)) if fees else None


def _amount(total) -> Decimal | None:
    return decimal_or_none(attr(total, "amountAfterTaxes"))


def _phone(phone) -> str:
    if phone is None:
        return ""
    country = attr(phone, "countryCode")
    parts = [f"+{country}" if country else "", attr(phone, "cityAreaCode"), attr(phone, "number")]
    extension = attr(phone, "extension")
    return " ".join(p for p in parts if p) + (f" ext. {extension}" if extension else "")


# --- answers ----------------------------------------------------------------------------------


def post(url: str, body: bytes, *, endpoint: str, context: str = ""):
    response = http.request(
        "POST",
        url,
        platform="expedia",
        endpoint=endpoint,
        raise_for_status=False,
        data=body,
        headers={"Content-Type": CONTENT_TYPE},
    )
    return check_answer(response, endpoint=endpoint, context=context)


def error_is_permanent(code: str) -> bool:
    """EQC: 1000-2999 permanent, unknown hotel/room/rate permanent, other 3000+ transient."""
    if code in UNKNOWN_MAPPING:
        return True
    if not code.isdigit():
        return True
    return int(code) < 3000


def check_answer(response: requests.Response, *, endpoint: str, context: str = ""):
    status = response.status_code
    root = None
    if response.content:
        try:
            root = parse_answer(response.content, platform="expedia", endpoint=endpoint)
        except PlatformAPIError:
            if status < 400:
                raise
    errors = [(attr(e, "code"), text(e)) for e in descendants(root, "Error")] if root is not None else []
    described = "; ".join(_describe(code, message, context) for code, message in errors)
    if status >= 400:
        transient = status == 429 or status >= 500
        raise PlatformAPIError(
            f"expedia {endpoint}: HTTP {status}" + (f": {described}" if described else ""),
            permanent=not transient,
            status=status,
            retry_after=http.retry_after_seconds(response),
            code=errors[0][0] if errors else None,
        )
    if errors:
        http.report_refusal(platform="expedia", endpoint=endpoint, error_type="eqc_refused")
        raise PlatformAPIError(
            f"expedia {endpoint}: {described}",
            permanent=any(error_is_permanent(code) for code, _ in errors),
            status=status,
            code=errors[0][0] or None,
        )
    if root is None:
        raise PlatformAPIError(f"expedia {endpoint}: empty answer", permanent=False, status=status)
    for warning in descendants(root, "Warning"):
        log.warning("expedia %s warning %s: %s", endpoint, attr(warning, "code"), text(warning))
    return root


def _describe(code: str, message: str, context: str) -> str:
    what = UNKNOWN_MAPPING.get(code)
    if what:
        return f"[{code}] unknown {what} ({context}); check room_id/rate_plan_id in the connection: {message}"
    return f"[{code}] {message}"
