"""Turn the domain signals into integrator events, inside the transaction of the change.

Each receiver snapshots the object as the API shows it and records an event (``outbox.event_record``);
it calls no network. Bookings: ``pms_core.signals.booking_changed``; connections and syncs:
``channelmgr.signals``.
"""

from __future__ import annotations

import json

from rest_framework.renderers import JSONRenderer

from channelmgr import signals as channel_signals
from integrations import events
from integrations.outbox import event_record
from pms_core import signals as pms_signals


def _plain(data) -> dict:
    """Serializer output as plain JSON (decimals and dates as the API renders them)."""
    return json.loads(JSONRenderer().render(data))


def booking_object(booking) -> dict:
    from pms_core.api.bookings import BookingOutputSerializer

    return _plain(BookingOutputSerializer(booking).data)


def connection_object(connection) -> dict:
    from channelmgr.api.serializers import ConnectionOutputSerializer

    return _plain(ConnectionOutputSerializer(connection).data)


def on_booking_changed(sender, *, booking, change: str, **kwargs) -> None:
    event_record(
        organization_id=booking.unit.property.organization_id,
        event_type=f"booking.{change}",
        data={"object": booking_object(booking)},
    )


def on_connection_needs_attention(sender, *, connection, reason: str = "", **kwargs) -> None:
    event_record(
        organization_id=connection.organization_id,
        event_type=events.CONNECTION_NEEDS_ATTENTION,
        data={"object": connection_object(connection), "reason": reason},
    )


def on_connection_recovered(sender, *, connection, **kwargs) -> None:
    event_record(
        organization_id=connection.organization_id,
        event_type=events.CONNECTION_RECOVERED,
        data={"object": connection_object(connection)},
    )


def on_sync_failed(sender, *, connection, sync_log, error: str = "", **kwargs) -> None:
    from channelmgr.api.serializers import SyncLogOutputSerializer

    event_record(
        organization_id=connection.organization_id,
        event_type=events.SYNC_FAILED,
        data={
            "object": connection_object(connection),
            "sync_log": _plain(SyncLogOutputSerializer(sync_log).data),
            "error": error,
        },
    )


def on_drift_detected(sender, *, connection, drift, **kwargs) -> None:
    event_record(
        organization_id=connection.organization_id,
        event_type=events.DRIFT_DETECTED,
        data={
            "object": connection_object(connection),
            "drift": {
                "missing_in_pms": list(drift.missing_in_pms),
                "differs": list(drift.differs),
                "unpushed_nights": drift.unpushed_nights,
                "total": drift.total,
            },
        },
    )


def connect() -> None:
    uid = "integrations"
    pms_signals.booking_changed.connect(on_booking_changed, dispatch_uid=f"{uid}.booking_changed")
    channel_signals.connection_needs_attention.connect(
        on_connection_needs_attention, dispatch_uid=f"{uid}.connection_needs_attention"
    )
    channel_signals.connection_recovered.connect(on_connection_recovered, dispatch_uid=f"{uid}.connection_recovered")
    channel_signals.sync_failed.connect(on_sync_failed, dispatch_uid=f"{uid}.sync_failed")
    channel_signals.drift_detected.connect(on_drift_detected, dispatch_uid=f"{uid}.drift_detected")
