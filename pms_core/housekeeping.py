"""Pruning the PMS core's history: consumed outbox events and acknowledged booking revisions.

``channelmgr.housekeeping`` runs these every hour with the channel manager's own (sync logs, webhooks);
``delete_in_batches`` is shared so no purge holds a long lock or a long transaction.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db.models import QuerySet

from pms_core.models import BookingRevision, OutboxEvent

BATCH = 5000
# One run of a purge stops after this long; the next run goes on. A first run on a year of history must
# not hold the scheduler's thread, nor the table, for hours.
BUDGET_SECONDS = 30.0


def delete_in_batches(rows: QuerySet, *, budget_seconds: float = BUDGET_SECONDS) -> int:
    """Delete ``rows`` a batch of primary keys at a time, until none is left or the budget is spent."""
    deleted, started = 0, time.monotonic()
    while time.monotonic() - started < budget_seconds:
        batch = list(rows.values_list("pk", flat=True)[:BATCH])
        if not batch:
            break
        rows.model.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
        if len(batch) < BATCH:
            break
    return deleted


def outbox_purge(*, before: dt.datetime) -> int:
    """Outbox events consumed before ``before``: the relay never reads one again. An event not yet handed
    over or not yet consumed stays, however old."""
    return delete_in_batches(OutboxEvent.objects.filter(consumed_at__lt=before))


def revisions_purge(*, before: dt.datetime) -> int:
    """Booking revisions acknowledged before ``before``: a polling integrator never reads one again. An
    unacknowledged revision stays, however old."""
    return delete_in_batches(BookingRevision.objects.filter(acknowledged_at__lt=before))
