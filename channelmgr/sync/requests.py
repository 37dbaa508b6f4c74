"""Syncs asked for by a person or an integrator (API, admin, ``manage.py sync``)."""

from __future__ import annotations

import logging
import time

from django.db import transaction

from channelmgr.accounts import sync_window
from channelmgr.models import ChannelConnection, DirtyRange, SyncLog
from channelmgr.services.sync_logs import sync_log_finish
from channelmgr.sync.dispatch import sync_request_enqueue
from config.logging import get_correlation_id

log = logging.getLogger(__name__)

SYNC_TYPES = ("full", "availability", "pricing", "bookings")
_KINDS = {
    "full": (SyncLog.Kind.AVAILABILITY, SyncLog.Kind.PRICING, SyncLog.Kind.BOOKINGS),
    "availability": (SyncLog.Kind.AVAILABILITY,),
    "pricing": (SyncLog.Kind.PRICING,),
    "bookings": (SyncLog.Kind.BOOKINGS,),
}


def sync_request(*, connection: ChannelConnection, sync_type: str) -> list[SyncLog]:
    """Queue a sync of ``sync_type`` for one connection; returns the SyncLogs (one per kind of work).

    Availability and pricing mark the whole sync window dirty, so the push sends full current state.
    Raises ``ValueError`` for an unknown ``sync_type``.
    """
    if sync_type not in _KINDS:
        raise ValueError(f"sync_type must be one of {', '.join(SYNC_TYPES)}")
    start, end = sync_window(connection)
    logs = []
    with transaction.atomic():
        for kind in _KINDS[sync_type]:
            if kind in (SyncLog.Kind.AVAILABILITY, SyncLog.Kind.PRICING):
                DirtyRange.objects.create(connection=connection, kind=kind, start=start, end=end)
            sync_log = SyncLog.objects.create(
                connection=connection,
                direction=SyncLog.Direction.INBOUND if kind == SyncLog.Kind.BOOKINGS else SyncLog.Direction.OUTBOUND,
                kind=kind,
                correlation_id=get_correlation_id(),
                details={"requested": sync_type},
            )
            logs.append(sync_log)
            transaction.on_commit(lambda row=sync_log: _enqueue(row))
        if sync_type == "full":  # the whole window goes out: the window-edge job goes on from its end
            ChannelConnection.objects.filter(pk=connection.pk).update(window_marked_until=end)
    return logs


def _enqueue(sync_log: SyncLog) -> None:
    """Hand the sync to a worker; with the broker unreachable no worker ever will, so the log ends now
    with the reason instead of reading "running" for ever. What was marked dirty stays for the sweep."""
    try:
        sync_request_enqueue(sync_log_id=sync_log.pk)
    except Exception as exc:
        log.warning("requested sync %s could not be queued: %s", sync_log.pk, exc)
        sync_log_finish(
            sync_log=sync_log,
            status=SyncLog.Status.FAILED,
            started=time.monotonic(),
            error=f"could not be queued: {type(exc).__name__}: {exc}",
        )
