"""Prometheus counters of the PMS core (served at ``/metrics`` with channelmgr's)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

BOOKING_TRANSITIONS = Counter(
    "channel_manager_booking_transitions_total",
    "Booking status changes and overbooking decisions (created, overbooked, promoted, cancelled, moved, accepted)",
    ["action", "to_status"],
)
# Set by the scheduler's gauge job (pms_core/revisions.py::revisions_overdue_gauge_update).
BOOKING_REVISIONS_UNACKNOWLEDGED = Gauge(
    "channel_manager_booking_revisions_unacknowledged",
    "Booking revisions not acknowledged by an integrator 30 minutes or more after the change",
    multiprocess_mode="livemax",
)
