"""Handing inbound work to the broker."""

from __future__ import annotations

import logging

import dramatiq

log = logging.getLogger(__name__)


def actor_send(actor, *args, delay_ms: int | None = None) -> bool:
    """Enqueue on the current global broker; False (logged) when the broker refused.

    The current broker rather than the one the actor was bound to at import, so a broker swapped at
    runtime (tests, embedded start-up) is the one used, as ``pms_core.outbox`` does. A refused enqueue
    leaves the event ``received`` for ``replay_events``.
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
    from channelmgr.inbound.tasks import import_platform_booking

    return actor_send(import_platform_booking, event_id)


def poll_enqueue(connection_id: int) -> bool:
    from channelmgr.inbound.tasks import poll_connection

    return actor_send(poll_connection, connection_id)
