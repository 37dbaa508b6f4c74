"""The event types integrators can subscribe to, in their words (``booking.<change>`` and the rest)."""

from __future__ import annotations

BOOKING_CREATED = "booking.created"
BOOKING_MODIFIED = "booking.modified"
BOOKING_CANCELLED = "booking.cancelled"
BOOKING_OVERBOOKED = "booking.overbooked"
BOOKING_RESOLVED = "booking.resolved"
CONNECTION_NEEDS_ATTENTION = "connection.needs_attention"
CONNECTION_RECOVERED = "connection.recovered"
SYNC_FAILED = "sync.failed"
DRIFT_DETECTED = "drift.detected"

EVENT_TYPES = (
    BOOKING_CREATED,
    BOOKING_MODIFIED,
    BOOKING_CANCELLED,
    BOOKING_OVERBOOKED,
    BOOKING_RESOLVED,
    CONNECTION_NEEDS_ATTENTION,
    CONNECTION_RECOVERED,
    SYNC_FAILED,
    DRIFT_DETECTED,
)
