"""The drain: many connections' pushes of one kind in one message, for a backlog (the sweep, a full sync).

A push of its own costs one connection a broker message and about eleven statements for the one request it
usually makes, several times the request itself. A drain shares those costs: it reads its connections in
one statement, finds which are due in one aggregate, claims all their due ranges in one statement, reads
every unit's nights in one or two queries (again, just before they go, for the next few once its sends
have taken longer than ``FRESH_READ_SECONDS``), sends each connection its requests, and records every
push that went through in one transaction. Each request still passes the connection's rate limiter and
breaker.

The drain takes the common case only. A connection that needs more goes to a push of its own
(``push_connection``, which keeps every rule it has): a room type whose hotel has other connections to
batch with, a platform that takes no push of this kind, a change still inside its debounce (sent with the
wait), a deferral (limiter, breaker) and a failure (the push's own retries). Nothing claimed is lost:
whatever the drain did not push goes back to dirty.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection as db
from django.db import connections as db_connections
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from adapters.base import Capability, PlatformAPIError
from adapters.registry import adapter_class
from channelmgr.accounts import sync_window
from channelmgr.models import ChannelConnection, DirtyRange, SyncLog
from channelmgr.resilience.guard import Backpressure, pushes_paced
from channelmgr.services.connections_health import connections_record_pushed, connections_record_success
from channelmgr.services.sync_logs import sync_log_finish
from channelmgr.sync import ranges as R
from channelmgr.sync.debounce import push_edge, push_leading_edges, push_mark_sent_many
from channelmgr.sync.dispatch import push_enqueue
from channelmgr.sync.outbound import push_deferred, push_started_many
from channelmgr.sync.push import (
    KIND_CAPABILITY,
    MAPPING,
    WAITING_BOUNDS,
    Claim,
    claim_of,
    deferred_key,
    due,
    push_again_if_handed_over,
    push_again_if_overlapped,
    push_again_once_landed,
    push_failed,
    push_items,
    push_log_details,
    push_log_open,
    push_observe,
    push_request,
    quiet_wait,
    release_claim,
    remapped,
    unclaimed,
)
from config.logging import correlation
from pms_core.selectors import calendar_nights_many

log = logging.getLogger(__name__)
# A connection whose drained push failed for a reason that may pass gets its own push this much later;
# that push then retries with its actor's backoff.
RETRY_ALONE_SECONDS = 1.0
# A drain reads its connections' nights again when its sends so far took longer than this: a change made
# since then (a close-out pushed by a push of its own) must not be overwritten with the older state. A
# push of its own reads right before its request; this keeps a drain's window about as short.
FRESH_READ_SECONDS = 0.2
# A drain sends one connection at a time while the platform answers quickly (the CPU is then what bounds
# it, and threads only add to it); once a request takes longer than this, the platform's latency bounds
# it, and the rest go ``DRAIN_SENDS`` at a time.
SLOW_REQUEST_SECONDS = 0.02
DRAIN_SENDS = 4
# A drain that reads again reads at most this many connections ahead of its sends.
READ_AHEAD = 2 * DRAIN_SENDS


@dataclass
class DrainResult:
    pushed: list[int] = field(default_factory=list)  # their nights went out
    nothing: list[int] = field(default_factory=list)  # claimed nothing to send (or only nights out of the window)
    alone: dict[int, float] = field(default_factory=dict)  # handed to a push of their own, with its delay
    requests: int = 0


@dataclass
class _Work:
    connection: ChannelConnection
    claim: Claim
    merged: list[tuple[dt.date, dt.date]]
    items: list | None = None
    sync_log: SyncLog | None = None
    read_at: float = 0.0  # time.monotonic() when its nights were read
    nights: list | None = None  # what ``items`` were built from


def push_drain(*, kind: str, connection_ids: list[int]) -> DrainResult:
    """Push ``kind`` to each of ``connection_ids`` (see the module); returns what became of each."""
    result = DrainResult()
    push_started_many(connection_ids=connection_ids, kind=kind)
    connections = list(
        ChannelConnection.objects.select_related("unit__property")
        .filter(ChannelConnection.receives_pushes(kind), pk__in=connection_ids)
        .order_by("unit_id", "pk")  # a unit's connections side by side: a read again takes its nights once
    )
    common = _common(connections, kind, result)
    ready = _ready(common, kind, result)
    try:
        if ready:
            claim_id = uuid.uuid4().hex
            opened: list[_Work] = []
            try:
                _push_ready(ready, kind, claim_id, result, opened)
            except BaseException as exc:
                _interrupted(kind, claim_id, opened, result.pushed, exc)
                raise
    finally:
        for connection_id, delay in result.alone.items():
            push_enqueue(connection_id=connection_id, kind=kind, delay_seconds=delay)
    return result


def _interrupted(kind: str, claim_id: str, opened: list[_Work], pushed: list[int], exc: BaseException) -> None:
    """A drain stopped part way (its bookkeeping failed, the worker shuts down, its time limit): whatever
    is still claimed is dirty again for the next push, and no row it opened stays running. Pushes that had
    gone out are sent again by the retry: the current state, twice, is harmless. A request still on its
    way may land after that retry, with no claim left for it to find (``push_again_if_overlapped``), so
    those nights go once more when a late write no longer can, as after a push that failed in flight."""
    try:
        release_claim(claim_id)
        SyncLog.objects.filter(pk__in=[w.sync_log.pk for w in opened], status=SyncLog.Status.RUNNING).update(
            status=SyncLog.Status.FAILED, finished_at=timezone.now(), error=f"drain interrupted: {type(exc).__name__}"
        )
        for w in opened:
            if w.connection.pk not in pushed:
                push_again_once_landed(w.connection, kind, w.merged)
    except Exception:  # the database is what failed: the stale claim is taken over after STALE_CLAIM
        log.exception("could not give back the claims of interrupted drain %s", claim_id)


def _common(connections: list[ChannelConnection], kind: str, result: DrainResult) -> list[ChannelConnection]:
    """The connections the drain pushes itself; the others get a push of their own, now."""
    batching = {c.platform_type for c in connections if Capability.BATCH_LISTINGS in _capabilities(c)}
    shared = set()
    if batching:
        # A listing with several active connections is a hotel's room types: they travel in one batch.
        shared = set(
            ChannelConnection.objects.filter(
                platform_type__in=batching,
                platform_listing_id__in={c.platform_listing_id for c in connections if c.platform_type in batching},
                status=ChannelConnection.Status.ACTIVE,
            )
            .values_list("platform_type", "platform_listing_id")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .values_list("platform_type", "platform_listing_id")
        )
    common = []
    for connection in connections:
        if (
            KIND_CAPABILITY[kind] not in _capabilities(connection)
            or (connection.platform_type, connection.platform_listing_id) in shared
            or connection.closeouts_only  # sent in a form of its own (``push._closeouts``)
        ):
            result.alone[connection.pk] = 0.0
        else:
            common.append(connection)
    return common


def _capabilities(connection: ChannelConnection):
    return adapter_class(connection.platform_type).capabilities


def _ready(connections: list[ChannelConnection], kind: str, result: DrainResult) -> list[ChannelConnection]:
    """Those of ``connections`` whose waiting changes may go now (``push.quiet_wait``); the others wait
    in a push of their own, sent with the rest of their wait."""
    if not connections:
        return []
    now = timezone.now()
    bounds = {
        row["connection_id"]: row
        for row in DirtyRange.objects.filter(connection__in=connections, kind=kind)
        .filter(due(now))
        .filter(unclaimed(now))
        .values("connection_id")
        .annotate(**WAITING_BOUNDS)
    }
    edges = {connection.pk: push_edge(connection) for connection in connections}
    leading = push_leading_edges(kind=kind, edges=list(set(edges.values())))
    ready = []
    for connection in connections:
        row = bounds.get(connection.pk)
        if row is None:
            continue  # nothing due: pushed meanwhile, or waiting for a late write's recheck
        wait = quiet_wait(row, leading=edges[connection.pk] in leading, paced=pushes_paced(connection), now=now)
        if wait:
            push_deferred(connection_id=connection.pk, kind=kind, delay_seconds=wait)
            result.alone[connection.pk] = wait
        else:
            ready.append(connection)
    if ready:
        push_mark_sent_many(kind=kind, edges=list({edges[c.pk] for c in ready}))
    return ready


def _claim_many(connections: list[ChannelConnection], kind: str, claim_id: str) -> dict[int, Claim]:
    """Claim the due ranges of every connection in one statement; each connection's ``Claim``."""
    now = timezone.now()
    DirtyRange.objects.filter(connection__in=connections, kind=kind).filter(due(now)).filter(unclaimed(now)).update(
        claimed_by=claim_id, claimed_at=now
    )
    rows: dict[int, list] = {connection.pk: [] for connection in connections}
    mappings = {}
    for connection_id, *row in (
        DirtyRange.objects.filter(claimed_by=claim_id)
        .order_by("connection_id", "created_at")
        .values_list("connection_id", "start", "end", "created_at", "correlation_id", *MAPPING)
    ):
        rows[connection_id].append(tuple(row[: -len(MAPPING)]))
        mappings[connection_id] = tuple(row[-len(MAPPING) :])
    for connection in connections:  # one re-mapped since the drain loaded it is pushed again, anew
        if connection.pk in mappings and remapped(connection, kind, claim_id, mappings[connection.pk]):
            rows[connection.pk] = []
    return {pk: claim_of(claim_id, claimed) for pk, claimed in rows.items()}


def _push_ready(
    ready: list[ChannelConnection], kind: str, claim_id: str, result: DrainResult, opened: list[_Work]
) -> None:
    claims = _claim_many(ready, kind, claim_id)
    work = []
    for connection in ready:
        claim = claims[connection.pk]
        merged = R.clip(claim.ranges, *sync_window(connection))
        if merged:
            work.append(_Work(connection, claim, merged))
        else:
            result.nothing.append(connection.pk)  # its rows are deleted with the successes'
    _read(work, kind, claim_id, result)
    work = [w for w in work if w.items is not None]
    _open_logs(work, kind)
    opened.extend(work)
    done = []
    waiting = work
    wave_size = 1  # one at a time, until a request shows the platform is slow to answer
    sent_since_read = 0
    while waiting:
        wave = waiting[:wave_size]
        if any(time.monotonic() - w.read_at > FRESH_READ_SECONDS for w in wave):
            # The sends so far took a while: a change since (a booking's close-out, pushed by a push of
            # its own) must not be overwritten with what was read before it. Read again what goes out
            # next, as many as went out since the last read: reading every connection still waiting made
            # a long drain (a full sync's year of nights) read the same nights over and over.
            # At most a few waves: a long read would make the first of them late again.
            ahead = max(wave_size, min(sent_since_read, READ_AHEAD))
            chunk = waiting[:ahead]
            _read(chunk, kind, claim_id, result)
            chunk = [w for w in chunk if w.items is not None]
            waiting = chunk + waiting[ahead:]
            wave = chunk[:wave_size]
            sent_since_read = 0
        waiting = waiting[len(wave) :]
        sent_since_read += len(wave)
        for w, (requests, exc, started, finished) in zip(wave, _send_wave(wave, kind), strict=True):
            if exc is None:
                done.append((w, requests, int((finished - started) * 1000)))
                result.requests += requests
                if finished - started > SLOW_REQUEST_SECONDS:
                    wave_size = DRAIN_SENDS
            else:
                _failed(w, kind, exc, started, result)
    _finish(done, kind, claim_id, result)


def _send_wave(wave: list[_Work], kind: str) -> list[tuple[int, Exception | None, float, float]]:
    """Send each connection of ``wave`` its requests: in this thread when it is one, else side by side on
    the process's senders. Per connection: (requests made, the error or None, started, finished)."""
    if len(wave) == 1:
        return [_send_one(wave[0], kind, refresh_token=True)]
    # In the sender's own context, not a copy of this thread's: the one context variable a send reads
    # (the correlation id) ``_send_one`` sets itself, and Django keeps a thread's cache client in its
    # context, tagged with the thread. A copy made here is another thread's, so every send from a copy
    # built a Redis client and opened a connection of its own (one more per request a slow platform
    # made go side by side), dropped at the end of the send.
    return list(_senders().map(lambda w: _send_apart(w, kind), wave))


def _send_apart(w: _Work, kind: str) -> tuple[int, Exception | None, float, float]:
    try:
        # No statement on a sender: a token refresh writes, so an expired token goes to its own push.
        return _send_one(w, kind, refresh_token=False)
    finally:
        db_connections.close_all()  # none is opened here; were one ever, it must not outlive the send


def _send_one(w: _Work, kind: str, *, refresh_token: bool) -> tuple[int, Exception | None, float, float]:
    with correlation(w.claim.correlation_id):
        started = time.monotonic()
        try:
            requests = push_request(w.connection, kind, w.items, refresh_token=refresh_token)
        except Exception as exc:
            return 0, exc, started, time.monotonic()
        return requests, None, started, time.monotonic()


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _senders() -> ThreadPoolExecutor:
    """The process's sending threads: started on first use (after a worker process forks), then kept."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=DRAIN_SENDS, thread_name_prefix="drain-send")
        return _pool


def _failed(w: _Work, kind: str, exc: Exception, started: float, result: DrainResult) -> None:
    """A connection whose requests failed: its push's bookkeeping (``push_failed``), then a push of its own
    for whatever may pass (with its wait after a deferral), none after a refusal for good."""
    with correlation(w.claim.correlation_id):
        if isinstance(exc, PlatformAPIError) and exc.code == "token_expired":
            # Its own push refreshes the token and carries on this row, as after any deferral.
            exc = Backpressure(0.0, "token expired")
        push_failed(w.connection, kind, exc, w.claim, w.merged, w.sync_log, started)
        if isinstance(exc, Backpressure):
            push_deferred(connection_id=w.connection.pk, kind=kind, delay_seconds=exc.delay_seconds)
            result.alone[w.connection.pk] = exc.delay_seconds
        elif isinstance(exc, PlatformAPIError):
            if not exc.permanent:  # a refusal for good needs a person, not a retry
                result.alone[w.connection.pk] = RETRY_ALONE_SECONDS
        else:
            log.error("drained %s push of connection %s failed", kind, w.connection.pk, exc_info=exc)
            result.alone[w.connection.pk] = RETRY_ALONE_SECONDS


def _read(work: list[_Work], kind: str, claim_id: str, result: DrainResult) -> None:
    """Read the nights of every connection in ``work`` (one or two statements) and build what each sends.
    A connection whose items cannot be built (a price its rule cannot express, say) is handed to a push of
    its own (``items`` None), which fails or succeeds on its own: one bad connection must not hold back
    the drain."""
    read_at = time.monotonic()
    wanted = [(w.connection.unit, start, end) for w in work for start, end in w.merged]
    nights = iter(calendar_nights_many(wanted=wanted, holds=kind == DirtyRange.Kind.AVAILABILITY))
    for w in work:
        of_ranges = [next(nights) for _range in w.merged]
        w.read_at = read_at
        if w.items is not None and of_ranges == w.nights:
            continue  # read again and unchanged (the common case): the same nights make the same items
        w.nights = of_ranges
        try:
            w.items = push_items(w.connection, kind, w.merged, of_ranges)
        except Exception:
            log.exception("drained %s push of connection %s: its items could not be built", kind, w.connection.pk)
            w.items = None
            release_claim(claim_id, w.connection.pk)
            if w.sync_log is not None:
                sync_log_finish(
                    sync_log=w.sync_log,
                    status=SyncLog.Status.SKIPPED,
                    started=time.monotonic(),
                    error="handed to a push of its own",
                )
            result.alone[w.connection.pk] = RETRY_ALONE_SECONDS


def _open_logs(work: list[_Work], kind: str) -> None:
    """Every push's SyncLog row, running, in one statement. A connection whose last push was deferred
    carries on that push's row (one push, one row), as ``push.push_log_open`` does."""
    try:
        deferred = cache.get_many([deferred_key(w.connection.pk, kind) for w in work])
    except Exception:
        deferred = {}
    fresh = []
    for w in work:
        details = {**push_log_details(w.merged, w.items, w.claim), "drained": True}
        if deferred_key(w.connection.pk, kind) in deferred:
            w.sync_log = push_log_open(w.connection, kind, None, details)
            continue
        w.sync_log = SyncLog(
            connection=w.connection,
            direction=SyncLog.Direction.OUTBOUND,
            kind=kind,
            correlation_id=w.claim.correlation_id,
            details=details,
        )
        fresh.append(w.sync_log)
    SyncLog.objects.bulk_create(fresh)


def _finish(done: list[tuple[_Work, int, int]], kind: str, claim_id: str, result: DrainResult) -> None:
    """Record every push that went through, in one transaction: its ranges clean, its connection and its
    row up to date, and its nights due once more where another push of its connection is in flight
    (``push.push_again_if_overlapped``); ``push._push_claimed`` does the same for one."""
    result.pushed = [w.connection.pk for w, _r, _ms in done]
    clean = result.pushed + result.nothing
    now = timezone.now()
    with transaction.atomic():
        if clean:
            DirtyRange.objects.filter(claimed_by=claim_id, connection_id__in=clean).delete()
        if done:
            connections_record_pushed(connection_ids=result.pushed, now=now)
            _close_logs([(w.sync_log.pk, ms, requests) for w, requests, ms in done], now)
            connections_record_success(connection_ids=[w.connection.pk for w, requests, _ms in done if requests])
            sent = [(w.connection, w.merged) for w, _r, _ms in done]
            push_again_if_overlapped(sent, kind, claim_id, now)
            push_again_if_handed_over(sent, kind)
    for w, requests, _ms in done:
        push_observe(w.connection, kind, w.claim, now)
        log.info(
            "pushed %s to connection %s: %s ranges in %s requests (drained)",
            kind,
            w.connection.pk,
            len(w.items),
            requests,
        )


def _close_logs(rows: list[tuple[int, int, int]], now) -> None:
    """Mark the rows ``(pk, duration_ms, request_count)`` succeeded, in one UPDATE ... FROM (VALUES ...).
    ``bulk_update`` builds a CASE expression per field and row, which cost a drain more CPU than its
    requests did. Both Postgres and SQLite name a VALUES list's columns column1, column2, ..."""
    q, column = db.ops.quote_name, lambda name: db.ops.quote_name(SyncLog._meta.get_field(name).column)
    table = q(SyncLog._meta.db_table)
    values = ", ".join(["(CAST(%s AS bigint), CAST(%s AS integer), CAST(%s AS integer))"] * len(rows))  # pk: bigint
    # Only the model's own (quoted) table and column names are formatted in; every value is a parameter.
    sets = ", ".join(
        [
            f"{column('status')} = %s",
            f"{column('finished_at')} = %s",
            f"{column('error')} = ''",
            f"{column('duration_ms')} = v.column2",
            f"{column('request_count')} = v.column3",
        ]
    )
    sql = f"UPDATE {table} SET {sets} FROM (VALUES {values}) AS v WHERE {table}.{column('id')} = v.column1"  # noqa: S608
    with db.cursor() as cursor:
        finished_at = db.ops.adapt_datetimefield_value(now)  # as the ORM stores it (naive UTC text on SQLite)
        cursor.execute(sql, [SyncLog.Status.SUCCESS, finished_at, *(value for row in rows for value in row)])
