"""History pruned every hour, so the database stays bounded for a steady workload (docs/operations.md,
"Housekeeping"): what grows with traffic goes once it is older than its retention, and what is still
needed stays, however old.

- Sync logs after ``SYNC_LOG_RETENTION_DAYS``, except a connection's newest of each direction and kind (its
  admin page and the runbooks point there) and the failed ones of a connection that needs attention (the
  whole error is in them). Running ones stay.
- Task attempts after ``SYNC_LOG_RETENTION_DAYS``: they count the tries of messages long gone.
- Consumed outbox events after ``SYNC_LOG_RETENTION_DAYS`` (``pms_core.housekeeping``).
- Webhooks after ``HISTORY_RETENTION_DAYS``, once processed or ignored: far past any platform's retries, so a
  late re-delivery is still a no-op. Received and failed ones stay (staff replay a failed one).
- Acknowledged booking revisions after ``HISTORY_RETENTION_DAYS`` (``pms_core.housekeeping``).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from channelmgr.models import ChannelConnection, InboundEvent, SyncLog, TaskAttempt
from pms_core.housekeeping import delete_in_batches, outbox_purge, revisions_purge

log = logging.getLogger(__name__)


def history_purge(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One pass of every purge; returns how many rows each deleted."""
    now = now or timezone.now()
    recent = now - dt.timedelta(days=settings.SYNC_LOG_RETENTION_DAYS)
    history = now - dt.timedelta(days=settings.HISTORY_RETENTION_DAYS)
    deleted = {
        "sync_logs": sync_logs_purge(before=recent),
        "task_attempts": delete_in_batches(TaskAttempt.objects.filter(updated_at__lt=recent)),
        "outbox_events": outbox_purge(before=recent),
        "inbound_events": delete_in_batches(
            InboundEvent.objects.filter(
                received_at__lt=history, status__in=[InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED]
            )
        ),
        "booking_revisions": revisions_purge(before=history),
    }
    if any(deleted.values()):
        log.info("history pruned: %s", ", ".join(f"{n} {what}" for what, n in deleted.items() if n))
    return deleted


def sync_logs_purge(*, before: dt.datetime) -> int:
    """Finished sync logs started before ``before``, but for those still needed (module docstring)."""
    newest = (
        SyncLog.objects.filter(
            connection_id=OuterRef("connection_id"), direction=OuterRef("direction"), kind=OuterRef("kind")
        )
        .order_by("-started_at", "-pk")
        .values("pk")[:1]
    )
    old = (
        SyncLog.objects.filter(started_at__lt=before)
        .exclude(status=SyncLog.Status.RUNNING)
        .exclude(status=SyncLog.Status.FAILED, connection__status=ChannelConnection.Status.NEEDS_ATTENTION)
        .exclude(pk=Subquery(newest))
    )
    return delete_in_batches(old)
