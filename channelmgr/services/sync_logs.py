"""Finish a sync-log row: the row is created before a sync starts, so a crash leaves it "running"."""

from __future__ import annotations

import datetime as dt
import time

from django.utils import timezone

from channelmgr.models import SyncLog
from channelmgr.services.connections_health import connection_record_success
from channelmgr.signals import sync_failed


def sync_log_finish(
    *,
    sync_log: SyncLog,
    status: str,
    started: float,
    requests: int = 0,
    error: str = "",
    details: dict | None = None,
) -> None:
    """Record how a sync ended: ``status``, now, the time since ``started`` (a ``time.monotonic()``
    reading), the platform requests made and the error (cut to the first 2000 characters).

    ``details`` are added to what the row already holds (``sync_log.details`` as loaded). A success
    that made platform requests marks the connection healthy.
    """
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "duration_ms": int((time.monotonic() - started) * 1000),
        "request_count": requests,
        "error": error[:2000],
    }
    if details:
        fields["details"] = {**(sync_log.details or {}), **details}
    SyncLog.objects.filter(pk=sync_log.pk).update(**fields)
    if status == SyncLog.Status.SUCCESS and requests and sync_log.kind != SyncLog.Kind.HEALTH:
        # The platform took a push or answered a pull: the connection works (a test records its own).
        connection_record_success(connection_id=sync_log.connection_id)
    if status == SyncLog.Status.FAILED:
        for name, value in fields.items():
            setattr(sync_log, name, value)
        connection = sync_log.connection
        sync_failed.send(sender=SyncLog, connection=connection, sync_log=sync_log, error=fields["error"])


def sync_logs_end_abandoned(*, older_than: dt.timedelta) -> int:
    """End as failed the outbound rows still running ``older_than`` after they started: their push
    stopped without recording its end (a worker killed, its bookkeeping failed with the database).
    What it claimed was taken over and pushed again (``STALE_CLAIM``); a row must not read "running"
    for ever. A requested push still queued that long later finishes its row itself when it runs."""
    return SyncLog.objects.filter(
        direction=SyncLog.Direction.OUTBOUND,
        status=SyncLog.Status.RUNNING,
        started_at__lt=timezone.now() - older_than,
    ).update(
        status=SyncLog.Status.FAILED,
        finished_at=timezone.now(),
        error="interrupted: the push stopped without recording its end; its nights were pushed again",
    )
