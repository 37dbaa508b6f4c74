"""Handing inbound work to the broker."""

from __future__ import annotations

import datetime as dt
import logging

import dramatiq
from django.utils import timezone

# The outbox relay's grace, for the same reason: an event's own hand-over runs right after the webhook's
# transaction commits, and the relay leaves it that long before it counts the event as stranded.
from pms_core.outbox import RELAY_GRACE

log = logging.getLogger(__name__)

RELAY_BATCH = 500


def actor_send(actor, *args, delay_ms: int | None = None) -> bool:
    """Enqueue on the current global broker; False (logged) when the broker refused.

    The current broker rather than the one the actor was bound to at import, so a broker swapped at
    runtime (tests, embedded start-up) is the one used, as ``pms_core.outbox`` does. A refused enqueue
    leaves the event ``received`` for the relay (``inbound_relay_step``) or ``replay_events``.
    """
    broker = dramatiq.get_broker()
    try:
        if actor.queue_name not in broker.get_declared_queues():
            broker.declare_queue(actor.queue_name)
        broker.enqueue(actor.message(*args), delay=delay_ms)
    except Exception as exc:  # any broker failure: the row stays for a replay
        log.warning("%s%r not handed to the broker: %s", actor.actor_name, args, exc)
        return False
    return True


def import_enqueue(event_id: int) -> bool:
    """Hand the import of one stored event to the broker, and stamp it handed over."""
    from channelmgr.inbound.tasks import import_platform_booking
    from channelmgr.models import InboundEvent

    if not actor_send(import_platform_booking, event_id):
        return False
    InboundEvent.objects.filter(pk=event_id, dispatched_at__isnull=True).update(dispatched_at=timezone.now())
    return True


def inbound_relay_step(*, now: dt.datetime | None = None, batch_size: int = RELAY_BATCH) -> int:
    """Hand over the imports of events whose webhook was answered but whose hand-over failed (the broker
    was down): the platform will not send them again, so without this they waited for a person to run
    ``replay_events``. Oldest first; returns how many were handed over. A second delivery of one that did
    reach the broker is harmless: the import skips a finished event and an unchanged booking."""
    from channelmgr.models import InboundEvent

    cutoff = (now or timezone.now()) - RELAY_GRACE
    stranded = (
        InboundEvent.objects.filter(
            status=InboundEvent.Status.RECEIVED, dispatched_at__isnull=True, received_at__lte=cutoff
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    handed = 0
    for event_id in stranded:
        if not import_enqueue(event_id):
            break  # the broker is still down: the next run tries again
        handed += 1
    if handed:
        log.info("relayed %s stranded inbound event(s) to the broker", handed)
    return handed


def poll_enqueue(connection_id: int) -> bool:
    from channelmgr.inbound.tasks import poll_connection

    return actor_send(poll_connection, connection_id)
