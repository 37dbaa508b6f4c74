"""OTA ``HotelReservation`` (and ``HotelResModify``) elements -> ``BookingData``.

Booking.com hands reservations over as an ``OTA_HotelResNotifRQ``; Expedia's SOAP booking
notifications carry the same OTA elements, so the Expedia adapter reuses this parser. Parsing is
lenient (real samples leave out parts the schema calls required): it reads what a booking needs and
raises ``WebhookPayloadError`` only when that is missing.
"""

from __future__ import annotations

from decimal import Decimal

from adapters.base import BookingData, BookingStatus, Guest, PaymentModel, WebhookPayloadError
from adapters.xml import (
    attr,
    child,
    children,
    date_or_none,
    decimal_or_none,
    descendants,
    first,
    is_instant,
    local,
    path,
    text,
    utc_version,
)

CANCEL_STATUSES = {"cancel", "cancelled", "canceled"}
# OTA code list AQC (Age Qualifying Code): 10 adult, 8 child, 7 infant.
AGE_QUALIFYING = {"10": "adults", "8": "children", "7": "infants"}


def parse_hotel_reservation(
    res,
    *,
    platform: str,
    status: str = "",
    listing_id: str = "",
    version: str = "",
    sub_channel: str = "",
    payment_model: PaymentModel | None = None,
    zone: str = "",
) -> BookingData:
    """``status``/``listing_id``/``version``/``sub_channel`` come from the enclosing message
    (``booking_channel`` reads the usual place), as does ``payment_model``, which OTA has no element for.
    ``zone``: the time zone of hotel ``listing_id``'s property, for a stay given as UTC or offset times."""
    raw_status = attr(res, "ResStatus") or status or "Commit"
    hotel = attr(first(res, "BasicPropertyInfo"), "HotelCode") or listing_id
    # Another hotel's (an account-wide pull reads several) property, and so its zone, is not known here.
    check_in, check_out = _stay(res, zone if hotel == listing_id else "")
    total, currency = _total(res)
    return BookingData(
        platform=platform,
        channel_booking_id=reservation_id(res),
        listing_id=hotel,
        room_type=attr(first(res, "RoomType"), "RoomTypeCode") or "",
        status=BookingStatus.CANCELLED if raw_status.lower() in CANCEL_STATUSES else BookingStatus.CONFIRMED,
        check_in=check_in,
        check_out=check_out,
        guest=_guest(res),
        guests_count=_guests_count(res),
        total_amount=total,
        currency=currency,
        version=utc_version(attr(res, "LastModifyDateTime") or version or attr(res, "CreateDateTime")),
        raw_status=raw_status,
        taxes=_taxes(res),
        fees=_sum(attr(fee, "Amount") for fee in descendants(res, "Fee")),
        **_guests_by_type(res),
        special_requests=special_requests(res),
        sub_channel=sub_channel,
        payment_model=payment_model,
    )


def booking_channel(message) -> str:
    """The sub-channel an OTA message names: ``POS/Source/BookingChannel/CompanyName``."""
    for source in children(child(message, "POS"), "Source"):
        name = text(path(source, "BookingChannel", "CompanyName"))
        if name:
            return name
    return ""


def _amount(value: str) -> Decimal | None:
    amount = decimal_or_none(value)
    return amount if amount is not None and amount.is_finite() else None


def _sum(values) -> Decimal | None:
    amounts = [a for a in (_amount(v) for v in values) if a is not None]
    return sum(amounts, Decimal(0)) if amounts else None


def _taxes_amount(taxes) -> Decimal | None:
    """A ``Taxes`` element's ``Amount``, else the sum of its ``Tax`` amounts."""
    return (
        _amount(attr(taxes, "Amount"))
        if attr(taxes, "Amount")
        else _sum(attr(t, "Amount") for t in children(taxes, "Tax"))
    )


def _taxes(res) -> Decimal | None:
    """The stay's taxes: each ``RoomStay/Total/Taxes``, else ``ResGlobalInfo/Total/Taxes``, else the rates' own."""
    stay_totals = [path(stay, "Total", "Taxes") for stay in descendants(res, "RoomStay")]
    for group in (
        [t for t in stay_totals if t is not None],
        [t for t in [path(res, "ResGlobalInfo", "Total", "Taxes")] if t is not None],
        [t for rate in descendants(res, "Rate") for t in descendants(rate, "Taxes")],
    ):
        amounts = [a for a in map(_taxes_amount, group) if a is not None]
        if amounts:
            return sum(amounts, Decimal(0))
    return None


def _guests_by_type(res) -> dict[str, int | None]:
    """Adults, children and infants by OTA age code, from the first ``GuestCounts`` that types them;
    all None when no count carries an age code (the guests are counted but not typed)."""
    for guest_counts in descendants(res, "GuestCounts"):
        typed = [
            (AGE_QUALIFYING.get(attr(c, "AgeQualifyingCode")), attr(c, "Count"))
            for c in children(guest_counts, "GuestCount")
        ]
        typed = [(kind, int(count)) for kind, count in typed if kind and count.isdigit()]
        if typed:
            return {kind: sum(n for k, n in typed if k == kind) for kind in AGE_QUALIFYING.values()}
    return dict.fromkeys(AGE_QUALIFYING.values())


def special_requests(res) -> tuple[str, ...]:
    """The guest's words, in document order: ``SpecialRequest`` (Expedia) and ``Comment`` (OTA) texts."""
    found = []
    for node in res.iter():
        if isinstance(node.tag, str) and local(node) in ("SpecialRequest", "Comment"):
            words = " ".join(text(t) for t in children(node, "Text") if text(t)) or text(node)
            if words:
                found.append(words)
    return tuple(found)


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


def _stay(res, zone: str):
    """Check-in and check-out: dates, or date-times (OTA allows either). A UTC or offset time counts by
    its local date in ``zone``, the property's; without it such a stay is refused, not guessed."""
    spans = [child(stay, "TimeSpan") for stay in descendants(res, "RoomStay")]
    spans.append(path(res, "ResGlobalInfo", "TimeSpan"))
    for span in spans:
        start, end = date_or_none(attr(span, "Start"), zone), date_or_none(attr(span, "End"), zone)
        if start and end and end > start:
            return start, end
    # Some senders give the stay only as per-night rates.
    rates = descendants(res, "Rate")
    starts = [date_or_none(attr(rate, "EffectiveDate"), zone) for rate in rates]
    ends = [date_or_none(attr(rate, "ExpireDate"), zone) for rate in rates]
    starts, ends = [d for d in starts if d], [d for d in ends if d]
    if starts and ends and max(ends) > min(starts):
        return min(starts), max(ends)
    given = [attr(el, name) for el in [*spans, *rates] for name in ("Start", "End", "EffectiveDate", "ExpireDate")]
    if not zone and any(map(is_instant, given)):
        raise WebhookPayloadError("stay given as UTC or offset times, for a hotel whose time zone is not known here")
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
