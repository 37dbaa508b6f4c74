"""A ``Notification`` as the JSON stored on ``InboundEvent.payload``, and back.

Only the parsed notification is stored, never the raw body or headers: those can carry signatures,
bearer tokens and (Expedia) push credentials.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from adapters.base import BookingData, BookingStatus, Guest, Notification, NotificationKind, PaymentModel


def booking_to_json(booking: BookingData) -> dict:
    return {
        "platform": booking.platform,
        "channel_booking_id": booking.channel_booking_id,
        "listing_id": booking.listing_id,
        "status": booking.status.value,
        "check_in": booking.check_in.isoformat(),
        "check_out": booking.check_out.isoformat(),
        "guest": {"name": booking.guest.name, "email": booking.guest.email, "phone": booking.guest.phone},
        "guests_count": booking.guests_count,
        "total_amount": str(booking.total_amount) if booking.total_amount is not None else None,
        "currency": booking.currency,
        "version": booking.version,
        "raw_status": booking.raw_status,
        "kind": booking.kind,
        # Which of a hotel's units it is for: a replayed event is routed by it (an older payload without
        # it routes by the listing alone, as before).
        "room_type": booking.room_type,
        # What else the platform said (an older payload without these reads as "nothing").
        "taxes": _text(booking.taxes),
        "fees": _text(booking.fees),
        "adults": booking.adults,
        "children": booking.children,
        "infants": booking.infants,
        "special_requests": list(booking.special_requests),
        "sub_channel": booking.sub_channel,
        "payment_model": booking.payment_model.value if booking.payment_model else None,
    }


def _text(amount: Decimal | None) -> str | None:
    return str(amount) if amount is not None else None


def _amount(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def booking_from_json(item: dict) -> BookingData:
    total = item.get("total_amount")
    return BookingData(
        platform=item["platform"],
        channel_booking_id=item["channel_booking_id"],
        listing_id=item.get("listing_id", ""),
        status=BookingStatus(item["status"]),
        check_in=dt.date.fromisoformat(item["check_in"]),
        check_out=dt.date.fromisoformat(item["check_out"]),
        guest=Guest(**item.get("guest", {})),
        guests_count=item.get("guests_count", 1),
        total_amount=Decimal(total) if total is not None else None,
        currency=item.get("currency", ""),
        version=item.get("version", ""),
        raw_status=item.get("raw_status", ""),
        kind=item.get("kind", "reservation"),
        room_type=item.get("room_type", ""),
        taxes=_amount(item.get("taxes")),
        fees=_amount(item.get("fees")),
        adults=item.get("adults"),
        children=item.get("children"),
        infants=item.get("infants"),
        special_requests=tuple(item.get("special_requests") or ()),
        sub_channel=item.get("sub_channel", ""),
        payment_model=PaymentModel(item["payment_model"]) if item.get("payment_model") else None,
    )


def notification_to_json(notification: Notification) -> dict:
    return {
        "platform": notification.platform,
        "kind": notification.kind.value,
        "event_key": notification.event_key,
        "listing_id": notification.listing_id,
        "channel_booking_id": notification.channel_booking_id,
        "version": notification.version,
        "booking": booking_to_json(notification.booking) if notification.booking else None,
    }


def notification_from_json(item: dict) -> Notification:
    """Raises ``KeyError``/``ValueError`` for a payload this module did not write."""
    booking = item.get("booking")
    return Notification(
        platform=item["platform"],
        kind=NotificationKind(item["kind"]),
        event_key=item["event_key"],
        listing_id=item.get("listing_id", ""),
        channel_booking_id=item.get("channel_booking_id", ""),
        version=item.get("version", ""),
        booking=booking_from_json(booking) if booking else None,
    )
