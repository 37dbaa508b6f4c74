"""Expedia's SOAP booking notifications (the ``bn_*`` samples) and our SOAP answers.

Inbound parsing is lenient: some of Expedia's own samples break its schema. The answers we build
follow ``booking_notification_xsd`` strictly (two reservation ids, one of them ours).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping
from dataclasses import replace

from lxml import etree

from adapters.base import (
    BookingData,
    BookingStatus,
    Guest,
    Notification,
    NotificationKind,
    PaymentModel,
    WebhookPayloadError,
    WebhookSignatureError,
)
from adapters.booking_com.reservations import parse_hotel_reservation
from adapters.xml import (
    attr,
    child,
    children,
    date_or_none,
    first,
    local,
    parse,
    path,
    sub,
    text,
    to_bytes,
    utc_version,
)

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OTA_NS = "http://www.opentravel.org/OTA/2003/05"
SLUG = "expedia"
# A brand (``POS/Source/RequestorID@ID``, BR's ``source``) with this prefix sold the booking under
# Hotel Collect: the guest pays the property. In Expedia's samples every such booking says so in its
# special requests ("Hotel Collect Booking", "will pay upon arrival"); the others are Expedia Collect.
HOTEL_COLLECT_PREFIX = "A-"
# The confirmation number we hand back before the import has run: derived from Expedia's id so a
# re-delivered notification gets the same answer.
CONFIRMATION_PREFIX = "CM"

KINDS = {
    "OTA_HotelResNotifRQ": NotificationKind.BOOKING_CREATED,
    "OTA_HotelResModifyNotifRQ": NotificationKind.BOOKING_MODIFIED,
    "OTA_CancelRQ": NotificationKind.BOOKING_CANCELLED,
}
ANSWERS = {
    "OTA_HotelResNotifRQ": "OTA_HotelResNotifRS",
    "OTA_HotelResModifyNotifRQ": "OTA_HotelResModifyNotifRS",
    "OTA_CancelRQ": "OTA_CancelRS",
}


def _envelope_parts(body: bytes):
    """``(header, payload)`` of a SOAP envelope; raises ``WebhookPayloadError``."""
    root = parse(body)
    if local(root) != "Envelope":
        raise WebhookPayloadError("expedia notification is not a SOAP envelope")
    soap_body = child(root, "Body")
    payload = next((c for c in (soap_body if soap_body is not None else []) if isinstance(c.tag, str)), None)
    if payload is None:
        raise WebhookPayloadError("SOAP body is empty")
    return child(root, "Header"), payload


def verify(*, body: bytes, username: str, password: str) -> None:
    """The SOAP header's ``Authentication Username= Password=`` must match, compared in constant time."""
    if not username or not password:
        raise WebhookSignatureError("expedia push credentials are not configured")
    try:
        header, _payload = _envelope_parts(body)
    except WebhookPayloadError as exc:
        # A body we refuse to read cannot be authenticated.
        raise WebhookSignatureError(f"unverifiable body: {exc}") from None
    auth = first(header, "Authentication")
    if auth is None:
        raise WebhookSignatureError("no Authentication in the SOAP header")
    user_ok = hmac.compare_digest(attr(auth, "Username").encode(), username.encode())
    pass_ok = hmac.compare_digest((auth.get("Password") or "").encode(), password.encode())
    if not (user_ok and pass_ok):
        raise WebhookSignatureError("wrong Expedia push credentials")


def parse_notification(body: bytes) -> list[Notification]:
    header, payload = _envelope_parts(body)
    message_type = local(payload)
    kind = KINDS.get(message_type)
    hotel = attr(first(header, "PayloadReference"), "SupplierHotelCode")
    stamp = attr(payload, "TimeStamp")
    if kind is None:
        request_id = attr(first(header, "PayloadInfo"), "RequestId") or stamp
        return [Notification(platform=SLUG, kind=NotificationKind.IGNORED, event_key=f"{message_type}:{request_id}")]
    if message_type == "OTA_CancelRQ":
        bookings = [_cancellation(payload, hotel=hotel, stamp=stamp)]
    else:
        container = "HotelReservations" if message_type == "OTA_HotelResNotifRQ" else "HotelResModifies"
        item = "HotelReservation" if message_type == "OTA_HotelResNotifRQ" else "HotelResModify"
        reservations = children(child(payload, container), item)
        if not reservations:
            raise WebhookPayloadError(f"{message_type} without {item}")
        brand, payment_model = brand_and_payment(_requestor(payload))
        # Read before the connection, so the property's time zone, is known: a stay given as UTC or offset
        # times is refused (400), not guessed; BR, polled every minute, then brings it with plain dates.
        bookings = [
            parse_hotel_reservation(
                res,
                platform=SLUG,
                status=attr(payload, "ResStatus") or "Commit",
                listing_id=hotel,
                version=stamp,
                sub_channel=brand,
                payment_model=payment_model,
            )
            for res in reservations
        ]
        # Expedia has no infant category (an infant is a child with an age), as BR says too.
        bookings = [replace(booking, infants=None) for booking in bookings]
    return [
        Notification(
            platform=SLUG,
            kind=NotificationKind.BOOKING_CANCELLED if booking.status == BookingStatus.CANCELLED else kind,
            event_key=f"{booking.channel_booking_id}:{message_type}:{booking.version}",
            listing_id=booking.listing_id,
            channel_booking_id=booking.channel_booking_id,
            version=booking.version,
            booking=booking,
        )
        for booking in bookings
    ]


def _requestor(payload) -> str:
    """The Expedia brand that sold the booking: ``POS/Source/RequestorID@ID`` ("Hotels.com", "A-Expedia")."""
    return attr(path(payload, "POS", "Source", "RequestorID"), "ID")


def brand_and_payment(source: str) -> tuple[str, PaymentModel | None]:
    """``("Hotels.com", PROPERTY_COLLECTS)`` for ``"A-Hotels.com"``; no brand, no payment model."""
    if not source:
        return "", None
    if source.startswith(HOTEL_COLLECT_PREFIX):
        return source.removeprefix(HOTEL_COLLECT_PREFIX), PaymentModel.PROPERTY_COLLECTS
    return source, PaymentModel.PLATFORM_COLLECTS


def _cancellation(payload, *, hotel: str, stamp: str) -> BookingData:
    booking_id = next(
        (attr(u, "ID") for u in children(payload, "UniqueID") if attr(u, "Type") == "14" and attr(u, "ID")), ""
    )
    if not booking_id:
        raise WebhookPayloadError("OTA_CancelRQ without UniqueID Type=14")
    verification = child(payload, "Verification")
    span = child(verification, "ReservationTimeSpan")
    # As a booking's stay (``parse_notification``): UTC or offset times are refused, BR brings the cancellation.
    check_in, check_out = date_or_none(attr(span, "Start")), date_or_none(attr(span, "End"))
    if not check_in or not check_out or check_out <= check_in:
        raise WebhookPayloadError("OTA_CancelRQ without ReservationTimeSpan")
    vendor_hotel = next(
        (text(v) for v in children(verification, "Vendor") if attr(v, "CodeContext") == "HotelCode" and text(v)), ""
    )
    name = child(verification, "PersonName")
    guests = next(
        (
            int(attr(q, "Quantity"))
            for q in children(verification, "AssociatedQuantity")
            if "guest" in attr(q, "CodeContext").lower() and attr(q, "Quantity").isdigit()
        ),
        1,
    )
    return BookingData(
        platform=SLUG,
        channel_booking_id=booking_id,
        listing_id=vendor_hotel or hotel,
        status=BookingStatus.CANCELLED,
        check_in=check_in,
        check_out=check_out,
        guest=Guest(name=" ".join(p for p in (text(child(name, "GivenName")), text(child(name, "Surname"))) if p)),
        guests_count=max(1, guests),
        version=utc_version(stamp),
        raw_status="Cancel",
        sub_channel=brand_and_payment(_requestor(payload))[0],
    )


# --- answers ----------------------------------------------------------------------------------


def confirmation_number(booking_id: str) -> str:
    return f"{CONFIRMATION_PREFIX}{booking_id}"[:64]


def answer(notifications: list[Notification], *, now: dt.datetime | None = None) -> bytes:
    """The SOAP RS matching the notification's type, with ``<Success/>`` and the booking's ids."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    envelope = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap-env": SOAP_NS})
    soap_body = sub(envelope, "Body")
    booked = [n for n in notifications if n.booking is not None and n.kind != NotificationKind.IGNORED]
    if not booked:
        rs = _rs(soap_body, "OTA_HotelResNotifRS", stamp)
        errors = sub(rs, "Errors")
        sub(errors, "Error", {"Type": "1", "ShortText": "Nothing to process"}, "no booking in the notification")
        return to_bytes(envelope)
    notification = booked[0]
    booking_id = notification.channel_booking_id
    ours = confirmation_number(booking_id)
    message_type = notification.event_key.split(":", 2)[1]
    if message_type == "OTA_CancelRQ":
        rs = _rs(soap_body, "OTA_CancelRS", stamp, {"Status": "Cancelled"})
        sub(rs, "Success")
        _unique_id(rs, "14", booking_id, "Expedia")
        _unique_id(rs, "10", ours, "ChannelManager")
        _unique_id(sub(rs, "CancelInfoRS"), "10", ours, "ChannelManager")
        return to_bytes(envelope)
    modify = message_type == "OTA_HotelResModifyNotifRQ"
    name = "OTA_HotelResModifyNotifRS" if modify else "OTA_HotelResNotifRS"
    rs = _rs(soap_body, name, stamp, {"ResResponseType": "Modified" if modify else "Committed"})
    sub(rs, "Success")
    container = sub(rs, "HotelResModifies" if modify else "HotelReservations")
    item = sub(container, "HotelResModify" if modify else "HotelReservation")
    ids = sub(sub(item, "ResGlobalInfo"), "HotelReservationIDs")
    sub(ids, "HotelReservationID", {"ResID_Type": "8", "ResID_Value": booking_id, "ResID_Source": "Expedia"})
    sub(ids, "HotelReservationID", {"ResID_Type": "3", "ResID_Value": ours, "ResID_Source": "ChannelManager"})
    return to_bytes(envelope)


def _rs(soap_body, name: str, stamp: str, extra: Mapping[str, str] | None = None):
    rs = etree.SubElement(soap_body, f"{{{OTA_NS}}}{name}", nsmap={None: OTA_NS})
    rs.set("Version", "1.000")
    rs.set("TimeStamp", stamp)
    rs.set("Target", "Production")
    for key, value in (extra or {}).items():
        rs.set(key, value)
    return rs


def _unique_id(parent, kind: str, value: str, company: str) -> None:
    unique = sub(parent, "UniqueID", {"Type": kind, "ID": value})
    sub(unique, "CompanyName", text_value=company)


def payload_of(body: bytes):
    """The OTA payload element of a SOAP body (tests validate it against the schema)."""
    return _envelope_parts(body)[1]
