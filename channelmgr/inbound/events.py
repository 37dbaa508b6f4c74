"""Storing webhook notifications as ``InboundEvent`` rows, unique per (platform, event key)."""

from __future__ import annotations

import logging

from adapters.base import BookingData, Notification, NotificationKind
from adapters.registry import adapters
from channelmgr.inbound.payloads import notification_to_json
from channelmgr.models import ChannelConnection, InboundEvent

log = logging.getLogger(__name__)


def connection_for_listing(
    *, platform: str, listing_id: str, booking: BookingData | None = None
) -> ChannelConnection | None:
    """The live (not deleted) connection of that platform listing, if any: where ``booking`` names a room
    type of a hotel that a connection holds on its own (``listing_key``), that one."""
    if not listing_id:
        return None
    live = ChannelConnection.objects.exclude(status=ChannelConnection.Status.DELETED).select_related("unit")
    adapter = adapters().get(platform)
    if booking is not None and adapter is not None:
        key = adapter.booking_listing_key(booking)
        held = live.filter(platform_type=platform, listing_key=key).first() if key != listing_id else None
        if held is not None:
            return held
    return live.filter(platform_type=platform, platform_listing_id=listing_id).order_by("pk").first()


def inbound_event_store(*, notification: Notification, correlation_id: str) -> tuple[InboundEvent, bool]:
    """Store one notification; ``(event, created)``. A duplicate returns the stored row unchanged.

    An event type we do not handle, or a listing we hold no connection for, is stored as ``ignored``
    (so the platform gets its 2xx and stops retrying, and staff can see it).
    """
    connection = connection_for_listing(
        platform=notification.platform, listing_id=notification.listing_id, booking=notification.booking
    )
    status, error = InboundEvent.Status.RECEIVED, ""
    if notification.kind == NotificationKind.IGNORED:
        status, error = InboundEvent.Status.IGNORED, "event type not handled"
    elif connection is None:
        status, error = InboundEvent.Status.IGNORED, f"no connection for listing {notification.listing_id!r}"
    event, created = InboundEvent.objects.get_or_create(
        platform=notification.platform,
        event_key=notification.event_key[:255],
        defaults={
            "connection": connection,
            "kind": notification.kind.value,
            "channel_booking_id": notification.channel_booking_id[:128],
            "status": status,
            "error": error,
            "correlation_id": correlation_id,
            "payload": notification_to_json(notification),
        },
    )
    if created and status == InboundEvent.Status.IGNORED:
        log.info("%s event %s ignored: %s", notification.platform, notification.event_key, error)
    return event, created
