"""Dramatiq actors. Thin: they take ids, load rows, call a service, and are idempotent.

Queues: ``outbox`` (domain events -> dirty ranges), ``push`` (outbound), ``inbound`` (imports, polls).
"""

from __future__ import annotations

import logging
import time

import dramatiq
from django.db import transaction

from adapters.base import PlatformAPIError
from channelmgr.inbound.tasks import poll_connection_now  # and so declares the inbound actors too
from channelmgr.models import DirtyRange, SyncLog
from channelmgr.resilience.attempts import attempt_begin, attempt_refund
from channelmgr.resilience.guard import Backpressure
from channelmgr.services.sync_logs import sync_log_finish
from channelmgr.sync import dispatch
from channelmgr.sync.drain import push_drain
from channelmgr.sync.outbound import outbox_event_apply, push_deferred, push_started
from channelmgr.sync.push import push_connection
from config.logging import correlation
from pms_core.outbox import outbox_claim

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="outbox", max_retries=20, min_backoff=500, max_backoff=60_000)
def consume_outbox_event(event_id: int) -> None:
    """Turn one domain event into dirty ranges on the unit's connections (a repeat is a no-op)."""
    with transaction.atomic():
        event = outbox_claim(event_id=event_id)
        if event is None:
            log.info("outbox event %s already consumed", event_id)
            return
        with correlation(event.correlation_id or None):
            outbox_event_apply(event=event)


def _push(connection_id: int, kind: str, actor_name: str) -> None:
    if not attempt_begin(actor_name=actor_name):
        return  # the ranges stay dirty; the scheduler's sweep starts a fresh message later
    push_started(connection_id=connection_id, kind=kind)
    try:
        push_connection(connection_id=connection_id, kind=kind)
    except Backpressure as exc:
        attempt_refund()
        push_deferred(connection_id=connection_id, kind=kind, delay_seconds=exc.delay_seconds)
        raise  # rescheduled with its delay by the backpressure middleware, retries untouched
    except PlatformAPIError as exc:
        if exc.permanent:
            log.warning("push %s to connection %s refused for good: %s", kind, connection_id, exc)
            return  # the connection now needs attention; retrying can't help
        raise  # transient: dramatiq retries with exponential backoff


# The seeds' actor names: availability (open/closed and restrictions) and pricing.
@dramatiq.actor(queue_name="push", max_retries=12, min_backoff=1_000, max_backoff=300_000)
def update_channel_availability(connection_id: int) -> None:
    """Push the current availability and restrictions of a connection's dirty nights."""
    _push(connection_id, DirtyRange.Kind.AVAILABILITY, "update_channel_availability")


@dramatiq.actor(queue_name="push", max_retries=12, min_backoff=1_000, max_backoff=300_000)
def update_channel_pricing(connection_id: int) -> None:
    """Push the current prices of a connection's dirty nights."""
    _push(connection_id, DirtyRange.Kind.PRICING, "update_channel_pricing")


@dramatiq.actor(queue_name="push", max_retries=5, min_backoff=1_000, max_backoff=60_000)
def drain_channel_pushes(kind: str, connection_ids: list[int]) -> None:
    """Push ``kind`` to many connections in one message (a backlog: the sweep, a full sync). What the
    drain cannot push itself gets a push of its own (``update_channel_*``)."""
    if not attempt_begin(actor_name="drain_channel_pushes"):
        return  # the ranges stay dirty; the scheduler's sweep starts a fresh message later
    if kind not in DirtyRange.Kind.values:
        log.error("drain of an unknown push kind %r dropped", kind)
        return
    push_drain(kind=kind, connection_ids=[int(pk) for pk in connection_ids])


@dramatiq.actor(queue_name="push", max_retries=5, min_backoff=2_000, max_backoff=120_000)
def run_sync_request(sync_log_id: int) -> None:
    """Carry out a requested sync and finish its SyncLog."""
    sync_log = SyncLog.objects.select_related("connection").get(pk=sync_log_id)
    if sync_log.status != SyncLog.Status.RUNNING:
        return
    if not attempt_begin(actor_name="run_sync_request"):
        # Given up: the row must say so, or it shows "running" for ever. What is still dirty is pushed
        # by the scheduler's sweep.
        sync_log_finish(
            sync_log=sync_log,
            status=SyncLog.Status.FAILED,
            started=time.monotonic(),
            error="gave up after repeated attempts",
        )
        return
    with correlation(sync_log.correlation_id or None):
        try:
            if sync_log.kind == SyncLog.Kind.BOOKINGS:
                poll_connection_now(connection_id=sync_log.connection_id, sync_log=sync_log)
            else:
                push_connection(connection_id=sync_log.connection_id, kind=sync_log.kind, sync_log=sync_log)
        except Backpressure:
            attempt_refund()  # a debounce or a full limiter is a wait, not an attempt
            raise


# The sync services enqueue through ``channelmgr.sync.dispatch``; they never import this module.
dispatch.actors_register(
    push={
        DirtyRange.Kind.AVAILABILITY: update_channel_availability,
        DirtyRange.Kind.PRICING: update_channel_pricing,
    },
    drain=drain_channel_pushes,
    sync_request=run_sync_request,
)
