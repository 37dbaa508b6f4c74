"""The signals that raise alerts. Connected in ``AlertsConfig.ready``; pms_core and channelmgr send them
without knowing this app exists."""

from __future__ import annotations

from alerts.recording import connection_alert_record, overbooking_alert_record
from channelmgr.signals import connection_needs_attention
from pms_core.signals import OVERBOOKED, booking_changed


def on_booking_changed(sender, *, booking, change: str, **kwargs) -> None:
    if change == OVERBOOKED:
        overbooking_alert_record(booking=booking)


def on_connection_needs_attention(sender, *, connection, reason: str = "", **kwargs) -> None:
    connection_alert_record(connection=connection, reason=reason)


def connect() -> None:
    booking_changed.connect(on_booking_changed, dispatch_uid="alerts.overbooking")
    connection_needs_attention.connect(on_connection_needs_attention, dispatch_uid="alerts.connection")
