"""OTA ``HotelReservation`` (and ``HotelResModify``) elements -> ``BookingData``.

Booking.com hands reservations over as an ``OTA_HotelResNotifRQ``; Expedia's SOAP booking
notifications carry the same OTA elements, so the Expedia adapter reuses this parser. Parsing is
lenient (real samples leave out parts the schema calls required): it reads what a booking needs and
raises ``WebhookPayloadError`` only when that is missing.
"""

from __future__ import annotations

from decimal import Decimal

from adapters.base import BookingData, BookingStatus, Guest, WebhookPayloadError
from adapters.xml import (
    attr,
    child,
    children,
    date_or_none,
    decimal_or_none,
    descendants,
    first,
    path,
    text,
    utc_version,
)

CANCEL_STATUSES = {"cancel", "cancelled", "canceled"}


def parse_hotel_reservation(
    res,
    *,
    platform: str,
    status: str = "",
    listing_id: str = "",
    version: str = "",
) -> BookingData:
    """``status``/``listing_id``/``version`` are fallbacks from the enclosing message."""
    raw_status = attr(res, "ResStatus") or status or "Commit"
    check_in, check_out = _stay(res)
    total, currency = _total(res)
    return BookingData(
        platform=platform,
        channel_booking_id=reservation_id(res),
        listing_id=attr(first(res, "BasicPropertyInfo"), "HotelCode") or listing_id,
        status=BookingStatus.CANCELLED if raw_status.lower() in CANCEL_STATUSES else BookingStatus.CONFIRMED,
        check_in=check_in,
        check_out=check_out,
        guest=_guest(res),
        guests_count=_guests_count(res),
        total_amount=total,
        currency=currency,
        version=utc_version(attr(res, "LastModifyDateTime") or version or attr(res, "CreateDateTime")),
        raw_status=raw_status,
    )


def reservation_id(res) -> str:
    """``UniqueID Type="14"`` (the reservation), else any ``UniqueID``, else a ``HotelReservationID``."""
    unique_ids = children(res, "UniqueID")
    for unique in unique_ids:
        if attr(unique, "Type") == "14" and attr(unique, "ID"):
            return attr(unique, "ID")
    for unique in unique_ids:
        if attr(unique, "ID"):
            return attr(unique, "ID")
    for res_id in descendants(path(res, "ResGlobalInfo", "HotelReservationIDs"), "HotelReservationID"):
        if attr(res_id, "ResID_Value"):
            return attr(res_id, "ResID_Value")
    raise WebhookPayloadError("reservation without an id (UniqueID or HotelReservationID)")


def _stay(res):
    spans = [child(stay, "TimeSpan") for stay in descendants(res, "RoomStay")]
    spans.append(path(res, "ResGlobalInfo", "TimeSpan"))
    for span in spans:
        start, end = date_or_none(attr(span, "Start")), date_or_none(attr(span, "End"))
        if start and end and end > start:
            return start, end
    # Some senders give the stay only as per-night rates.
    starts = [date_or_none(attr(rate, "EffectiveDate")) for rate in descendants(res, "Rate")]
    ends = [date_or_none(attr(rate, "ExpireDate")) for rate in descendants(res, "Rate")]
    starts, ends = [d for d in starts if d], [d for d in ends if d]
    if starts and ends and max(ends) > min(starts):
        return min(starts), max(ends)
    raise WebhookPayloadError("reservation without stay dates (TimeSpan Start/End)")


def _total(res) -> tuple[Decimal | None, str]:
    totals = [child(stay, "Total") for stay in descendants(res, "RoomStay")]
    totals = [t for t in totals if t is not None] or [path(res, "ResGlobalInfo", "Total")]
    amount, currency = None, ""
    for total in totals:
        value = decimal_or_none(attr(total, "AmountAfterTax") or attr(total, "AmountBeforeTax"))
        if value is None:
            continue
        amount = value if amount is None else amount + value
        currency = currency or attr(total, "CurrencyCode")
    return amount, currency


def _guests_count(res) -> int:
    counts = []
    for guest_counts in descendants(res, "GuestCounts"):
        counts = [int(attr(c, "Count")) for c in children(guest_counts, "GuestCount") if attr(c, "Count").isdigit()]
        if counts:
            break
    return max(1, sum(counts)) if counts else 1


def _guest(res) -> Guest:
    guests = descendants(res, "ResGuest")
    primary = next((g for g in guests if attr(g, "PrimaryIndicator") in ("true", "1")), None)
    customer = first(primary if primary is not None else res, "Customer")
    if customer is None:
        customer = first(res, "Customer")
    name = child(customer, "PersonName")
    full_name = " ".join(part for part in (text(child(name, "GivenName")), text(child(name, "Surname"))) if part)
    phone = child(customer, "Telephone")
    country = attr(phone, "CountryAccessCode")
    phone_text = " ".join(
        part
        for part in (f"+{country}" if country else "", attr(phone, "AreaCityCode"), attr(phone, "PhoneNumber"))
        if part
    )
    return Guest(name=full_name, email=text(child(customer, "Email")), phone=phone_text)
