"""Outbound sync: domain events mark dirty ranges; a debounced push sends current state."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.services.sync_logs import sync_logs_end_abandoned
from channelmgr.sync.debounce import leading_key, push_edge, push_is_leading_edge, scheduled_key
from channelmgr.sync.dispatch import push_enqueue, push_enqueue_many
from channelmgr.sync.push import STALE_CLAIM, unclaimed
from config.logging import get_correlation_id
from pms_core.models import OutboxEvent

log = logging.getLogger(__name__)

# What each event changes on a platform: bookings and restrictions change availability.
EVENT_KINDS = {
    OutboxEvent.Type.BOOKING_CONFIRMED: (DirtyRange.Kind.AVAILABILITY,),
    OutboxEvent.Type.BOOKING_OVERBOOKED: (DirtyRange.Kind.AVAILABILITY,),
    OutboxEvent.Type.BOOKING_CANCELLED: (DirtyRange.Kind.AVAILABILITY,),
    OutboxEvent.Type.BOOKING_MODIFIED: (DirtyRange.Kind.AVAILABILITY,),
    OutboxEvent.Type.AVAILABILITY_UPDATED: (DirtyRange.Kind.AVAILABILITY,),
    OutboxEvent.Type.PRICING_UPDATED: (DirtyRange.Kind.PRICING,),
}
# A platform that sold a stay closes those nights itself, so the push that only closes them skips it.
# Nights a change releases (a cancel, a move) go to the origin too: something else may still hold them,
# and an earlier push may have closed them there while its own guest held them.
ORIGIN_KNOWS = {
    OutboxEvent.Type.BOOKING_CONFIRMED,
    OutboxEvent.Type.BOOKING_OVERBOOKED,
}
# Events that close nights a guest (or a block) now holds. Until every platform has closed them they can
# be sold twice, so they skip the debounce: the first such change after a quiet spell goes out at once,
# and what follows in the same burst is coalesced into the next push. Releases (a cancel), prices and
# restrictions keep the trailing debounce: pushing them late costs nothing but a little lag, and
# coalescing a burst of them keeps the request count at its minimum.
CLOSES_NIGHTS = {
    OutboxEvent.Type.BOOKING_CONFIRMED,
    OutboxEvent.Type.BOOKING_OVERBOOKED,
    OutboxEvent.Type.BOOKING_MODIFIED,
}


def event_ranges(event: OutboxEvent) -> list[tuple[dt.date, dt.date]]:
    ranges = event.payload.get("ranges") if isinstance(event.payload, dict) else None
    if ranges:
        return [(dt.date.fromisoformat(start), dt.date.fromisoformat(end)) for start, end in ranges]
    return [(event.start, event.end)]


def outbox_event_apply(*, event: OutboxEvent) -> list[int]:
    """Mark the event's nights dirty on every active connection of its unit; returns connection ids.

    A new stay skips the connection it came from: that platform already has it (``ORIGIN_KNOWS``).
    """
    closes = event.event_type in CLOSES_NIGHTS
    touched = []
    for kind in EVENT_KINDS[event.event_type]:
        connections = ChannelConnection.objects.filter(ChannelConnection.receives_pushes(kind), unit_id=event.unit_id)
        if event.event_type in ORIGIN_KNOWS and event.source != "direct":
            connections = connections.exclude(platform_type=event.source)
        for connection in connections:
            for start, end in event_ranges(event):
                mark_dirty(connection=connection, kinds=(kind,), start=start, end=end, closes=closes)
            touched.append(connection.pk)
    return list(dict.fromkeys(touched))


def former_listing_closes(*, connection: ChannelConnection, check_in: dt.date, check_out: dt.date, **_kwargs) -> None:
    """``signals.sold_on_former_listing``: close the stay's nights on the listing the connection maps now,
    which ``ORIGIN_KNOWS`` spared as "the platform that sold it"."""
    if connection.receives(DirtyRange.Kind.AVAILABILITY):
        mark_dirty(
            connection=connection, kinds=[DirtyRange.Kind.AVAILABILITY], start=check_in, end=check_out, closes=True
        )


def push_schedule(
    *, connection_id: int, kind: str, delay_seconds: float | None = None, closes: bool = False, edge: str | None = None
) -> bool:
    """Schedule one push of ``kind`` for a connection; False if one is already scheduled.

    A change that closes nights (``closes``) is sent at once when the connection has been quiet for the
    debounce (the leading edge), even if a debounced push is already waiting: that one then finds little
    or nothing left. Otherwise one debounced push is scheduled. The flags live in the shared cache with a
    TTL, so a lost message only delays the push until the scheduler's sweep (``push_sweep``) notices
    dirty ranges with nothing scheduled. ``edge``: the connection's ``push_edge`` (its batch group's, where
    the platform batches listings), whose leading edge a close-out takes.
    """
    if closes and delay_seconds is None and push_is_leading_edge(connection_id=connection_id, kind=kind, edge=edge):
        try:
            first = cache.add(leading_key(kind, edge or connection_id), 1, timeout=30)
        except Exception:
            first = True
        if first:
            push_enqueue(connection_id=connection_id, kind=kind, delay_seconds=0)
            return True
    delay = settings.PUSH_DEBOUNCE_SECONDS if delay_seconds is None else delay_seconds
    try:
        if not cache.add(scheduled_key(kind, connection_id), 1, timeout=int(delay) + 300):
            return False
    except Exception as exc:  # cache down: push without debounce rather than not at all
        log.warning("push debounce unavailable (%s); scheduling connection %s anyway", exc, connection_id)
    try:
        push_enqueue(connection_id=connection_id, kind=kind, delay_seconds=delay)
    except Exception:
        _unschedule([connection_id], kind)
        raise
    return True


def _unschedule(connection_ids: list[int], kind: str) -> None:
    """The broker refused the pushes just flagged as scheduled: drop the flags, or the sweep would take
    them for pushes on their way and leave the nights dirty until the flags expire (minutes)."""
    try:
        cache.delete_many([scheduled_key(kind, pk) for pk in connection_ids])
    except Exception as exc:
        log.warning("could not clear the push flags of connections %s: %s", connection_ids, exc)


def push_started(*, connection_id: int, kind: str) -> None:
    """Clear the flags before claiming, so a change that arrives during the push schedules the next."""
    push_started_many(connection_ids=[connection_id], kind=kind)


def push_started_many(*, connection_ids: list[int], kind: str) -> None:
    """``push_started`` of several connections, in one call to the cache."""
    keys = [key(kind, pk) for pk in connection_ids for key in (scheduled_key, leading_key)]
    try:
        cache.delete_many(keys)
    except Exception as exc:
        log.warning("could not clear the push flags of connections %s: %s", connection_ids, exc)


def push_deferred(*, connection_id: int, kind: str, delay_seconds: float) -> None:
    """While a push waits (rate limit, open breaker), new changes need no push of their own."""
    try:
        cache.set(scheduled_key(kind, connection_id), 1, timeout=int(delay_seconds) + 300)
    except Exception as exc:
        log.warning("could not mark push deferred for connection %s: %s", connection_id, exc)


def push_sweep(*, older_than_seconds: float = 30) -> int:
    """Schedule a push for every connection with dirty ranges nobody is pushing (or whose push died with
    them claimed); returns how many."""
    now = timezone.now()
    cutoff = now - dt.timedelta(seconds=older_than_seconds)
    pending = (
        DirtyRange.objects.filter(DirtyRange.pushed(), created_at__lte=cutoff)
        .filter(unclaimed(now))  # a push or drain that died with them claimed gives them up
        .values_list("connection_id", "kind")
        .order_by("connection__unit_id", "connection_id")  # a unit's connections in one drain (dispatch)
        .distinct()
    )
    sync_logs_end_abandoned(older_than=STALE_CLAIM)
    by_kind: dict[str, list[int]] = {}
    for connection_id, kind in pending:
        by_kind.setdefault(kind, []).append(connection_id)
    return sum(push_schedule_many(connection_ids=ids, kind=kind) for kind, ids in by_kind.items())


def push_schedule_many(*, connection_ids: list[int], kind: str) -> int:
    """Schedule one debounced push of ``kind`` for each of ``connection_ids`` that has none waiting, as
    drains of several connections (``push_enqueue_many``): a backlog (the sweep, a full sync) costs one
    message per ``DRAIN_SIZE`` connections, not one each. Returns how many were scheduled."""
    delay = settings.PUSH_DEBOUNCE_SECONDS
    scheduled = []
    for connection_id in connection_ids:
        try:
            if not cache.add(scheduled_key(kind, connection_id), 1, timeout=int(delay) + 300):
                continue
        except Exception as exc:  # cache down: push without debounce rather than not at all
            log.warning("push debounce unavailable (%s); scheduling connection %s anyway", exc, connection_id)
        scheduled.append(connection_id)
    try:
        push_enqueue_many(connection_ids=scheduled, kind=kind, delay_seconds=delay)
    except Exception:
        _unschedule(scheduled, kind)
        raise
    return len(scheduled)


def mark_dirty(
    *,
    connection: ChannelConnection,
    kinds,
    start: dt.date,
    end: dt.date,
    closes: bool = False,
    schedule: bool = True,
) -> None:
    """Mark ``[start, end)`` dirty for ``kinds`` and schedule the pushes once the transaction commits.
    ``closes``: the change closes these nights (``CLOSES_NIGHTS``), so it takes the leading edge.
    ``schedule=False``: the caller schedules them itself (``push_schedule_many``, for many connections)."""
    correlation_id = get_correlation_id()
    DirtyRange.objects.bulk_create(
        [
            DirtyRange(
                connection=connection, kind=kind, start=start, end=end, correlation_id=correlation_id, closes=closes
            )
            for kind in kinds
        ]
    )
    if not schedule:
        return
    edge = push_edge(connection) if closes else None
    for kind in kinds:
        # Robust: a broker refusing one push must not skip the callbacks after it (the unit's other
        # connections); the nights are dirty, and the sweep schedules what was refused.
        transaction.on_commit(
            lambda k=kind: push_schedule(connection_id=connection.pk, kind=k, closes=closes, edge=edge), robust=True
        )
