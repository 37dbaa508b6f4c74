"""Outbound sync: domain events mark dirty ranges; a debounced push sends current state."""

from __future__ import annotations

import datetime as dt
import logging

from channelmgr.models import ChannelConnection, DirtyRange
from pms_core.models import OutboxEvent

log = logging.getLogger(__name__)

BOOKING_EVENTS = {
    OutboxEvent.Type.BOOKING_CONFIRMED,
    OutboxEvent.Type.BOOKING_CANCELLED,
    OutboxEvent.Type.BOOKING_MODIFIED,
}


def _event_ranges(event: OutboxEvent) -> list[tuple[dt.date, dt.date]]:
    ranges = event.payload.get("ranges") if isinstance(event.payload, dict) else None
    if ranges:
        return [(dt.date.fromisoformat(start), dt.date.fromisoformat(end)) for start, end in ranges]
    return [(event.start, event.end)]


def outbox_event_apply(*, event: OutboxEvent) -> list[int]:
    """Mark the event's nights dirty on every active connection of its unit; returns connection ids.

    A booking event skips the connection the booking came from: that platform already has it.
    """
    connections = ChannelConnection.objects.filter(unit_id=event.unit_id, status=ChannelConnection.Status.ACTIVE)
    if event.event_type in BOOKING_EVENTS and event.source != "direct":
        connections = connections.exclude(platform_type=event.source)
    touched = []
    for connection in connections:
        DirtyRange.objects.bulk_create(
            [DirtyRange(connection=connection, start=start, end=end) for start, end in _event_ranges(event)]
        )
        touched.append(connection.pk)
    return touched
