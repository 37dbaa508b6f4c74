"""Storing webhook notifications as ``InboundEvent`` rows, unique per (platform, event key)."""

from __future__ import annotations

import hashlib
import logging

from adapters.base import BookingData, BookingIdScope, BookingStatus, HotelRoomTypes, Notification, NotificationKind
from adapters.registry import adapters
from channelmgr.inbound.payloads import notification_to_json
from channelmgr.models import ChannelConnection, InboundEvent
from pms_core.models import Booking

log = logging.getLogger(__name__)


def connection_for_listing(
    *, platform: str, listing_id: str, booking: BookingData | None = None, channel_booking_id: str = ""
) -> ChannelConnection | None:
    """The live (not deleted) connection a booking of that platform listing belongs to, if any.

    Where the listing is a hotel whose units may be its room types: the connection holding the room type
    ``booking`` names; else the one holding the hotel as one unit; else the one whose unit already holds
    this booking (a modification or cancellation may name no room, or "0"); else none: a room type nobody
    mapped, or no room at all, is no single room's, and a sibling room must not take it. A cancellation
    naming no room is the hotel's (the importer finds the stay on any unit; one we never held closes no
    night). A ping (no ``booking``) or any other listing: its connection, as before.

    A listing no live connection holds, about a booking we hold (``channel_booking_id``, or ``booking``'s):
    the connection of that platform on the booking's unit. Staff re-mapped it to another listing while
    the stay was on the books; its changes and its cancellation must still reach the PMS.
    """
    if not listing_id:
        return None
    live = ChannelConnection.objects.exclude(status=ChannelConnection.Status.DELETED).select_related("unit")
    hotel = live.filter(platform_type=platform, platform_listing_id=listing_id).order_by("pk")
    adapter = adapters().get(platform)
    if booking is None or adapter is None or not issubclass(adapter, HotelRoomTypes):
        found = hotel.first()
        if found is None and adapter is not None and adapter.booking_id_scope == BookingIdScope.PLATFORM:
            found = _holder_of(live, platform, channel_booking_id or (booking.channel_booking_id if booking else ""))
        return found
    key = adapter.booking_listing_key(booking)
    if key == listing_id and booking.status == BookingStatus.CANCELLED:
        return hotel.first()
    for each in (key, listing_id):
        held = live.filter(platform_type=platform, listing_key=each).first()
        if held is not None:
            return held
    return _holder_of(live.filter(platform_listing_id=listing_id), platform, booking.channel_booking_id)


def _holder_of(live, platform: str, channel_booking_id: str) -> ChannelConnection | None:
    """The connection of ``live`` of ``platform`` on the unit holding that platform's booking, if we hold it."""
    if not channel_booking_id:
        return None
    unit_id = (
        Booking.objects.filter(source=platform, channel_booking_id=channel_booking_id)
        .values_list("unit_id", flat=True)
        .first()
    )
    return None if unit_id is None else live.filter(platform_type=platform, unit_id=unit_id).first()


def inbound_event_store(*, notification: Notification, correlation_id: str) -> tuple[InboundEvent, bool]:
    """Store one notification; ``(event, created)``. A duplicate returns the stored row unchanged.

    An event type we do not handle, or a listing we hold no connection for, is stored as ``ignored``
    (so the platform gets its 2xx and stops retrying, and staff can see it).
    """
    connection = connection_for_listing(
        platform=notification.platform,
        listing_id=notification.listing_id,
        booking=notification.booking,
        channel_booking_id=notification.channel_booking_id,
    )
    status, error = InboundEvent.Status.RECEIVED, ""
    if notification.kind == NotificationKind.IGNORED:
        status, error = InboundEvent.Status.IGNORED, "event type not handled"
    elif connection is None:
        where = f"listing {notification.listing_id!r}"
        if notification.booking is not None:
            room = notification.booking.room_type
            where += f", room type {room!r}" if room else ", no room type"
        status, error = InboundEvent.Status.IGNORED, f"no connection for {where}"
    event, created = InboundEvent.objects.get_or_create(
        platform=notification.platform,
        event_key=_event_key(notification.event_key),
        defaults={
            "connection": connection,
            "kind": notification.kind.value,
            "channel_booking_id": notification.channel_booking_id,  # at most 128: webhook_input
            "status": status,
            "error": error,
            "correlation_id": correlation_id,
            "payload": notification_to_json(notification),
        },
    )
    if created and status == InboundEvent.Status.IGNORED:
        log.info("%s event %s ignored: %s", notification.platform, notification.event_key, error)
    return event, created


EVENT_KEY_MAX = InboundEvent._meta.get_field("event_key").max_length


def _event_key(event_id: str) -> str:
    """The platform's event id as stored: whole, or its digest when longer than the column. Cut to fit,
    two events sharing their first 255 characters were one, and the second was dropped as a duplicate."""
    if len(event_id) <= EVENT_KEY_MAX:
        return event_id
    return f"sha256:{hashlib.sha256(event_id.encode()).hexdigest()}"
