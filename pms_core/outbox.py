"""The transactional outbox: domain events recorded with the change, handed to the broker on commit.

pms_core knows nothing about channels: the consumer is an actor named by ``settings.OUTBOX_CONSUMER``.
Delivery is at least once; the consumer makes a second delivery a no-op (``outbox_claim``).
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache

import dramatiq
from django.conf import settings
from django.db import transaction
from django.db.models import F, Model
from django.utils import timezone
from django.utils.module_loading import import_string

from config.logging import get_correlation_id
from pms_core.models import Booking, OutboxEvent, Unit

log = logging.getLogger(__name__)

# Events younger than this are left to their own on_commit hand-over; the relay takes the rest.
RELAY_GRACE = dt.timedelta(seconds=5)
# An event handed over and still not consumed this long after was lost on the way: its consumer ran out
# of retries while the database was away (dramatiq then drops the message), or the broker lost it. Its
# nights were never marked, so nothing else would push them: the relay hands it over again. Consuming
# twice is a no-op (``outbox_claim``); each hand-over restarts the wait.
UNCONSUMED_GRACE = dt.timedelta(minutes=15)


def outbox_record(
    *,
    event_type: str,
    unit: Unit,
    start: dt.date,
    end: dt.date,
    booking: Booking | None = None,
    source: str = Booking.DIRECT,
    payload: dict | None = None,
) -> OutboxEvent:
    """Record an event inside the caller's transaction and hand it to the broker once it commits."""
    event = OutboxEvent.objects.create(
        event_type=event_type,
        unit=unit,
        start=start,
        end=end,
        booking=booking,
        source=source,
        payload=payload or {},
        correlation_id=get_correlation_id(),
    )
    transaction.on_commit(lambda: outbox_dispatch(event_ids=[event.pk]))
    return event


@cache
def _consumer():
    return import_string(settings.OUTBOX_CONSUMER)


def outbox_dispatch(*, event_ids: list[int]) -> int:
    """Hand events to the broker; returns how many were handed over.

    A broker that is down leaves the events undispatched for ``relay_outbox``: nothing is lost.
    """
    return outbox_hand_over(model=OutboxEvent, actor=_consumer(), ids=event_ids)


def outbox_hand_over(*, model: type[Model], actor: dramatiq.Actor, ids: list[int]) -> int:
    """Send ``actor(id)`` for each outbox row of ``model`` (fields ``dispatch_attempts``,
    ``dispatched_at``) and stamp the rows handed over; returns how many were. Other apps' outboxes
    (integrator webhooks) use it too."""
    broker = dramatiq.get_broker()
    handed = 0
    for row_id in ids:
        model.objects.filter(pk=row_id).update(dispatch_attempts=F("dispatch_attempts") + 1)
        try:
            # The current global broker, not the one the actor was bound to at import, so a broker
            # swapped at runtime (tests, embedded start-up) is the one used.
            if actor.queue_name not in broker.get_declared_queues():
                broker.declare_queue(actor.queue_name)
            broker.enqueue(actor.message(row_id))
        except Exception as exc:  # any broker failure: keep the row for the relay
            log.warning("outbox %s %s not handed to the broker: %s", model._meta.label, row_id, exc)
            continue
        model.objects.filter(pk=row_id).update(dispatched_at=timezone.now())  # the last hand-over
        handed += 1
    return handed


def outbox_stranded(*, model: type[Model], batch_size: int = 500, now: dt.datetime | None = None) -> list[int]:
    """Ids of ``model``'s rows never handed over and past their own on-commit hand-over, oldest first."""
    cutoff = (now or timezone.now()) - RELAY_GRACE
    return list(
        model.objects.filter(dispatched_at__isnull=True, created_at__lte=cutoff)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )


def outbox_unconsumed(*, batch_size: int = 500, now: dt.datetime | None = None) -> list[int]:
    """Ids of events handed over ``UNCONSUMED_GRACE`` ago or more and never consumed, oldest first."""
    cutoff = (now or timezone.now()) - UNCONSUMED_GRACE
    return list(
        OutboxEvent.objects.filter(consumed_at__isnull=True, dispatched_at__lte=cutoff)
        .order_by("dispatched_at", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )


def outbox_relay_step(*, batch_size: int = 500, now: dt.datetime | None = None) -> int:
    """Re-send one batch of events that were never handed over, or never consumed after it
    (``UNCONSUMED_GRACE``); returns how many were handed."""
    ids = outbox_stranded(model=OutboxEvent, batch_size=batch_size, now=now)
    if len(ids) < batch_size:
        ids += outbox_unconsumed(batch_size=batch_size - len(ids), now=now)
    if not ids:
        return 0
    return outbox_dispatch(event_ids=ids)


def outbox_claim(*, event_id: int) -> OutboxEvent | None:
    """Mark an event consumed; returns it the first time, None on a repeated delivery.

    Call inside the consumer's transaction so a consumer that fails leaves the event unconsumed.
    """
    claimed = OutboxEvent.objects.filter(pk=event_id, consumed_at__isnull=True).update(consumed_at=timezone.now())
    if not claimed:
        return None
    return OutboxEvent.objects.select_related("unit").get(pk=event_id)
