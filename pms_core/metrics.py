"""Prometheus counters of the PMS core (served at ``/metrics`` with channelmgr's)."""

from __future__ import annotations

from prometheus_client import Counter

BOOKING_TRANSITIONS = Counter(
    "channel_manager_booking_transitions_total",
    "Booking status changes and overbooking decisions (created, overbooked, promoted, cancelled, moved, accepted)",
    ["action", "to_status"],
)
