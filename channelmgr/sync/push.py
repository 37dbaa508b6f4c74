"""The push: send one connection the current PMS state of its dirty nights, in the fewest requests.

A push claims every dirty range of its kind, merges them, reads the *current* state of those nights and
sends it through the adapter in chunks of the platform's batch size, each chunk passing the rate limiter
and the circuit breaker. A push that fails releases its claim, so the ranges stay dirty for the retry.
Because it always sends current state, a retry, a duplicate or a reordered message only makes the
platform more correct.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from adapters import http
from adapters.base import (
    AvailabilityRange,
    AvailabilityUpdate,
    Capability,
    DayRange,
    PlatformAPIError,
    PriceRange,
    PricingUpdate,
    batches,
)
from adapters.registry import adapter_class
from channelmgr import metrics
from channelmgr.accounts import sync_window
from channelmgr.models import ChannelConnection, DirtyRange, SyncLog
from channelmgr.price_rules import channel_price, rule_of, rule_set_aside
from channelmgr.resilience.guard import Backpressure, Purpose, pushes_paced
from channelmgr.resilience.platform_calls import platform_call, rate_limit_account
from channelmgr.services.connections_health import (
    connection_record_failure,
    connections_record_pushed,
    safe_message,
)
from channelmgr.services.sync_logs import sync_log_finish
from channelmgr.sync import ranges as R
from channelmgr.sync.debounce import batch_group_key, push_edge, push_is_leading_edge, push_mark_sent
from channelmgr.sync.dispatch import push_enqueue
from config.logging import correlation, get_correlation_id
from pms_core.selectors import Night, calendar_nights_many

log = logging.getLogger(__name__)

# A claim older than this belongs to a push that died; another push may take the ranges over.
STALE_CLAIM = dt.timedelta(minutes=10)
# A request that timed out (or failed in flight) may still be applied by the platform after our client
# gave up, overwriting what a successful retry sent meanwhile. So those nights are pushed once more when
# such a late write can no longer land: after the read timeout, with a margin.
LATE_WRITE_SECONDS = http.READ_TIMEOUT + 5
# The soonest a push goes again after finding another push of its connection in flight
# (``push_again_if_overlapped``).
IN_FLIGHT_RECHECK_SECONDS = 1.0
KIND_CAPABILITY = {
    DirtyRange.Kind.AVAILABILITY: Capability.PUSH_AVAILABILITY,
    DirtyRange.Kind.PRICING: Capability.PUSH_PRICING,
}


def pushed_kinds(platform_type: str, kinds=tuple(KIND_CAPABILITY)) -> list[str]:
    """Those of ``kinds`` the platform takes pushes of (an iCal feed: none)."""
    capabilities = adapter_class(platform_type).capabilities
    return [kind for kind in kinds if KIND_CAPABILITY[kind] in capabilities]


@dataclass
class PushResult:
    status: str  # "success" | "nothing" | "skipped"
    requests: int = 0
    ranges: int = 0


@dataclass
class Claim:
    """The dirty ranges one push took: merged nights, when the oldest change came, and which changes."""

    id: str
    ranges: list[tuple[dt.date, dt.date]]
    oldest: dt.datetime | None
    correlation_ids: list[str]

    @property
    def correlation_id(self) -> str:
        """The id its push carries on: its first change's (so one booking can be followed from its webhook
        to every platform), else the current one."""
        return self.correlation_ids[0] if self.correlation_ids else get_correlation_id()


def _claim(connection: ChannelConnection, kind: str, claim_id: str = "") -> Claim:
    claim_id = claim_id or uuid.uuid4().hex
    now = timezone.now()
    mine = DirtyRange.objects.filter(connection=connection, kind=kind).filter(due(now))
    # Unclaimed rows, and rows of a push that died (its claim is stale), in one statement.
    mine.filter(unclaimed(now)).update(claimed_by=claim_id, claimed_at=now)
    rows = list(
        DirtyRange.objects.filter(claimed_by=claim_id, connection=connection)
        .order_by("created_at")
        .values_list("start", "end", "created_at", "correlation_id", *MAPPING)
    )
    if rows and remapped(connection, kind, claim_id, rows[0][-len(MAPPING) :]):
        return claim_of(claim_id, [])
    return claim_of(claim_id, [row[: -len(MAPPING)] for row in rows])


# The connection's mapping as its claimed rows read it, joined: ``remapped`` compares it with the one the
# push loaded (and sends to, ``_mapping_of``). The listing id and metadata too: a Booking.com listing key
# is hotel/room, and the rate plan a push addresses is in the metadata.
MAPPING = (
    "connection__listing_key",
    "connection__unit_id",
    "connection__platform_listing_id",
    "connection__platform_metadata",
)


def _mapping_of(connection: ChannelConnection) -> tuple:
    """``MAPPING`` of the connection as a push loaded it."""
    return tuple(getattr(connection, name.removeprefix("connection__")) for name in MAPPING)


def remapped(connection: ChannelConnection, kind: str, claim_id: str, mapping: tuple) -> bool:
    """Whether ``connection`` (as a push loaded it) was re-mapped since (another listing, another unit):
    then the ranges just claimed may be the re-map's whole window, and sent under the loaded object they
    would reach the old listing and be marked pushed, the new one never getting them. They are given back,
    with a push of their own that loads the connection anew (the re-map's own may have found them claimed)."""
    if mapping == _mapping_of(connection):
        return False
    release_claim(claim_id, connection.pk)
    push_enqueue(connection_id=connection.pk, kind=kind, delay_seconds=0)
    log.info("connection %s was re-mapped while its push loaded it: pushed again", connection.pk)
    return True


def claim_of(claim_id: str, rows: list[tuple[dt.date, dt.date, dt.datetime, str]]) -> Claim:
    """The ``Claim`` of one connection's claimed rows ``(start, end, created_at, correlation_id)``, oldest first."""
    return Claim(
        id=claim_id,
        ranges=R.merge((start, end) for start, end, _c, _id in rows),
        oldest=rows[0][2] if rows else None,
        correlation_ids=list(dict.fromkeys(cid for *_rest, cid in rows if cid)),
    )


def due(now: dt.datetime) -> Q:
    return Q(not_before__isnull=True) | Q(not_before__lte=now)


def unclaimed(now: dt.datetime) -> Q:
    """Ranges nobody is pushing: never claimed, or claimed by a push that died (``STALE_CLAIM`` ago)."""
    return Q(claimed_by="", claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_CLAIM)


def push_again_later(
    connection: ChannelConnection,
    kind: str,
    ranges: list[tuple[dt.date, dt.date]],
    *,
    delay_seconds: float = LATE_WRITE_SECONDS,
    closes: bool = False,
) -> None:
    """Push ``ranges`` once more, no sooner than ``delay_seconds`` from now: by default once a failed
    request can no longer land (LATE_WRITE_SECONDS)."""
    not_before = timezone.now() + dt.timedelta(seconds=delay_seconds)
    correlation_id = get_correlation_id()
    DirtyRange.objects.bulk_create(
        DirtyRange(
            connection=connection,
            kind=kind,
            start=s,
            end=e,
            not_before=not_before,
            correlation_id=correlation_id,
            closes=closes,
        )
        for s, e in ranges
    )
    # Its own message, past any debounce flag; the scheduler's sweep is the fallback if it is lost.
    transaction.on_commit(lambda: push_enqueue(connection_id=connection.pk, kind=kind, delay_seconds=delay_seconds + 1))


def push_again_once_landed(connection: ChannelConnection, kind: str, ranges: list[tuple[dt.date, dt.date]]) -> None:
    """A request that failed in flight may still land, until ``LATE_WRITE_SECONDS``: its nights go once
    more after that, on its connection and on whichever now holds the listing it went to."""
    push_again_later(connection, kind, ranges)
    push_again_if_handed_over([(connection, ranges)], kind, delay_seconds=LATE_WRITE_SECONDS)


def push_again_if_handed_over(
    pushed: list[tuple[ChannelConnection, list[tuple[dt.date, dt.date]]]], kind: str, *, delay_seconds: float = 0.0
) -> None:
    """Of the pushes ``pushed`` (each connection as its push loaded it, with the ranges it sent), those
    whose connection left its listing while they were on the wire (re-mapped, deleted): staff may have
    given that listing to another unit's connection, whose nights the push then overwrote with its former
    unit's, opening nights a guest holds. The nights go out again on every live connection that holds the
    listing now, after ``delay_seconds``. One query when nothing was handed over."""
    sent = {connection.pk: (connection, ranges) for connection, ranges in pushed if ranges and connection.listing_key}
    if not sent:
        return
    stored = dict(
        ChannelConnection.objects.filter(pk__in=sent)
        .exclude(status=ChannelConnection.Status.DELETED)
        .values_list("pk", "listing_key")
    )
    for pk, (connection, ranges) in sent.items():
        if stored.get(pk) == connection.listing_key:
            continue
        owners = (
            ChannelConnection.objects.filter(platform_type=connection.platform_type, listing_key=connection.listing_key)
            .filter(ChannelConnection.receives_pushes(kind))
            .exclude(pk=pk)
        )
        for owner in owners:
            log.warning(
                "connection %s left listing %s while its %s push was on the wire: connection %s, which holds it "
                "now, is pushed again",
                pk,
                connection.listing_key,
                kind,
                owner.pk,
            )
            push_again_later(owner, kind, ranges, delay_seconds=delay_seconds, closes=True)


def push_again_if_overlapped(
    pushed: list[tuple[ChannelConnection, list[tuple[dt.date, dt.date]]]], kind: str, claim_id: str, now: dt.datetime
) -> None:
    """Of the pushes ``pushed`` (each connection with the ranges it just sent, under ``claim_id``), push
    once more the nights another push of the connection and ``kind`` still claims.

    Nothing stops two pushes of one connection from running at once: a drain or a long push (several
    requests, a token refresh, a slow platform) holds its nights while a booking's close-out goes out in a
    push of its own. The one that read first may land last, reopening nights a guest holds, with nothing
    dirty left to correct it. Whichever of the two finishes first sees the other still claiming, so the
    nights both carry go out once more after the other is likely done: after as long again as it has been
    at it (at least IN_FLIGHT_RECHECK_SECONDS), so a push that died with its claim is asked after less and
    less often until its claim goes stale and is taken over (``STALE_CLAIM``)."""
    ids = [connection.pk for connection, ranges in pushed if ranges]
    if not ids:
        return
    theirs: dict[int, list[tuple[dt.date, dt.date, dt.datetime]]] = {}
    for connection_id, start, end, claimed_at in (
        DirtyRange.objects.filter(connection_id__in=ids, kind=kind, claimed_at__gte=now - STALE_CLAIM)
        .exclude(claimed_by__in=["", claim_id])
        .values_list("connection_id", "start", "end", "claimed_at")
    ):
        theirs.setdefault(connection_id, []).append((start, end, claimed_at))
    for connection, ranges in pushed:
        claimed = theirs.get(connection.pk)  # only connections that sent something were asked about
        if not claimed:
            continue
        # Only the nights both pushes carry can be overwritten with an older read.
        shared = R.merge(part for start, end, _at in claimed for part in R.clip(ranges, start, end))
        if not shared:
            continue
        since = min(at for _s, _e, at in claimed)
        age = (now - since).total_seconds()
        stale_in = (since + STALE_CLAIM - now).total_seconds()
        delay = max(IN_FLIGHT_RECHECK_SECONDS, min(age, stale_in + 1))
        log.info(
            "connection %s: another %s push has been in flight for %.1fs; pushing %s again in %.1fs",
            connection.pk,
            kind,
            age,
            ", ".join(f"{start}..{end}" for start, end in shared),
            delay,
        )
        # As a close-out: the nights may be a guest's, reopened.
        push_again_later(connection, kind, shared, delay_seconds=delay, closes=True)


def _wait_for_quiet(
    connection: ChannelConnection,
    kind: str,
    *,
    leading: bool = False,
    paced: bool = False,
    group: list[int] | None = None,
) -> None:
    """Debounce: while changes keep arriving, wait until they pause for PUSH_DEBOUNCE_SECONDS, but
    never hold the oldest change back longer than PUSH_MAX_WAIT_SECONDS.

    ``leading``: this push started on the leading edge (no push within the debounce before it), so a
    change that closes nights goes out at once (``outbound.CLOSES_NIGHTS``). ``paced``: the connection's
    pushes are paced (``guard.pushes_paced``: Booking.com), so a change that closes nights goes as soon as
    the pacer lets it, leading edge or not: the pacer already spaces the pushes, and each carries every
    change since, so waiting for a quiet spell as well only made a close-out in a steady stream of
    bookings wait PUSH_MAX_WAIT_SECONDS. ``group``: the connections whose changes this push carries (its
    batch group, where the platform batches listings)."""
    waiting = DirtyRange.objects.filter(connection_id__in=group or [connection.pk], kind=kind, claimed_by="").filter(
        due(timezone.now())
    )
    wait = quiet_wait(waiting.aggregate(**WAITING_BOUNDS), leading=leading, paced=paced, now=timezone.now())
    if wait:
        raise Backpressure(wait, "debounce")


# What ``quiet_wait`` needs of the waiting (due, unclaimed) dirty ranges: an aggregate, or one per
# connection with ``values("connection_id").annotate(...)``.
WAITING_BOUNDS = {
    "newest": Max("created_at"),
    "oldest": Min("created_at"),
    "closing": Count("pk", filter=Q(closes=True)),
}


def quiet_wait(bounds: dict, *, leading: bool, paced: bool, now: dt.datetime) -> float:
    """Seconds a push must still wait for its changes to pause (``WAITING_BOUNDS`` of them); 0: go now."""
    if bounds["newest"] is None or ((leading or paced) and bounds["closing"]):
        return 0.0
    quiet_for = (now - bounds["newest"]).total_seconds()
    waited = (now - bounds["oldest"]).total_seconds()
    if quiet_for < settings.PUSH_DEBOUNCE_SECONDS and waited < settings.PUSH_MAX_WAIT_SECONDS:
        return settings.PUSH_DEBOUNCE_SECONDS - quiet_for
    return 0.0


def deferred_key(connection_id: int, kind: str) -> str:
    return f"push-deferred-log:{kind}:{connection_id}"


def _remember_deferred(connection: ChannelConnection, kind: str, sync_log_id: int) -> None:
    try:
        cache.set(deferred_key(connection.pk, kind), sync_log_id, timeout=3600)
    except Exception as exc:  # the retry then writes a row of its own: untidy, not wrong
        log.warning("could not remember the deferred push of connection %s: %s", connection.pk, exc)


def _deferred_log(connection: ChannelConnection, kind: str) -> SyncLog | None:
    """The row of this connection's push that was deferred last (rate limit, open breaker), if any."""
    try:
        sync_log_id = cache.get(deferred_key(connection.pk, kind))
        if sync_log_id is not None:
            cache.delete(deferred_key(connection.pk, kind))
    except Exception:
        return None
    if sync_log_id is None:
        return None
    return SyncLog.objects.filter(pk=sync_log_id, connection=connection, status=SyncLog.Status.SKIPPED).first()


def push_log_details(merged, items, claim: Claim) -> dict:
    """What a push's SyncLog row says it carries: the ranges, the items sent and the changes coalesced."""
    return {
        "ranges": [[s.isoformat(), e.isoformat()] for s, e in merged[:50]],
        "items": len(items),
        "correlation_ids": claim.correlation_ids[:50],
    }


def push_log_open(connection, kind: str, sync_log: SyncLog | None, details: dict) -> SyncLog:
    """The push's row: the requested one, else the one a deferral left (it keeps its deferral count:
    one push, one row), else a new one; running, with ``details``."""
    sync_log = sync_log or _deferred_log(connection, kind)
    if sync_log is None:
        return SyncLog.objects.create(
            connection=connection,
            direction=SyncLog.Direction.OUTBOUND,
            kind=kind,
            correlation_id=get_correlation_id(),
            details=details,
        )
    details = {**details, "deferrals": (sync_log.details or {}).get("deferrals", 0)}
    SyncLog.objects.filter(pk=sync_log.pk).update(details=details, status=SyncLog.Status.RUNNING, error="")
    sync_log.details = details
    return sync_log


def release_claim(claim: str, connection_id: int | None = None) -> None:
    """Give the claimed ranges back (only ``connection_id``'s, when given), dirty for the next push."""
    claimed = DirtyRange.objects.filter(claimed_by=claim)
    if connection_id is not None:
        claimed = claimed.filter(connection_id=connection_id)
    claimed.update(claimed_by="", claimed_at=None)


def push_items(connection, kind: str, merged, nights: list[list[Night]] | None = None) -> list:
    """What a push of ``kind`` sends for the ``merged`` ranges: ``nights`` holds each range's nights, read
    here when not given (a drain reads many connections' at once)."""
    if nights is None:
        wanted = [(connection.unit, start, end) for start, end in merged]
        nights = calendar_nights_many(wanted=wanted, holds=kind == DirtyRange.Kind.AVAILABILITY)
    if kind == DirtyRange.Kind.AVAILABILITY:
        if connection.closeouts_only:
            return _closeouts(nights)
        return _availability_ranges(connection, nights)
    return _price_ranges(connection, nights)


def _closeouts(nights_of_ranges: list[list[Night]]) -> list[AvailabilityRange]:
    """The close-outs form, for a connection that needs attention because the platform refused one of our
    values (``closeouts_only``): the nights no guest may book there, as closed, with no restriction to
    refuse; nothing that opens a night, which waits for a person (a resume sends the whole window).
    So a refused value never lets a night be sold twice."""
    closed = lambda n: not n.available or n.stop_sell  # noqa: E731
    return [
        AvailabilityRange(range=DayRange(run_start, run_end), available=False)
        for nights in nights_of_ranges
        for run_start, run_end, night in R.runs(nights, date_of=lambda n: n.date, key=closed)
        if closed(night)
    ]


def _availability_ranges(connection, nights_of_ranges: list[list[Night]]) -> list[AvailabilityRange]:
    """A platform without ``PUSH_RESTRICTIONS`` gets open/closed only: a stop-sell night is closed there,
    and nights that differ only in restrictions travel as one range."""
    capabilities = adapter_class(connection.platform_type).capabilities
    restrictions = Capability.PUSH_RESTRICTIONS in capabilities
    # A platform that cannot carry a maximum stay is not split into ranges that differ only in it. One that
    # can is never told a longer stay than the PMS holds (``MAX_STAY_NIGHTS``): "no maximum" went out as
    # Airbnb's 1125, a guest booked 400 nights there, the import refused the stay, and its nights stayed
    # open everywhere else.
    longest = settings.MAX_STAY_NIGHTS
    if Capability.PUSH_MAX_STAY in capabilities:
        max_stay = lambda n: min(n.max_stay or longest, longest)  # noqa: E731
    else:
        max_stay = lambda n: None  # noqa: E731
    if restrictions:
        key = lambda n: (  # noqa: E731
            n.available,
            n.min_stay,
            max_stay(n),
            n.closed_to_arrival,
            n.closed_to_departure,
            n.stop_sell,
        )
    else:
        key = lambda n: n.available and not n.stop_sell  # noqa: E731
    result = []
    for nights in nights_of_ranges:
        for run_start, run_end, night in R.runs(nights, date_of=lambda n: n.date, key=key):
            if restrictions:
                result.append(
                    AvailabilityRange(
                        range=DayRange(run_start, run_end),
                        available=night.available,
                        min_stay=night.min_stay,
                        max_stay=max_stay(night),
                        closed_to_arrival=night.closed_to_arrival,
                        closed_to_departure=night.closed_to_departure,
                        stop_sell=night.stop_sell,
                    )
                )
            else:
                result.append(AvailabilityRange(range=DayRange(run_start, run_end), available=key(night)))
    return result


def _price_ranges(connection, nights_of_ranges: list[list[Night]]) -> list[PriceRange]:
    """The nights' prices as this platform receives them: the PMS price through the connection's rule."""
    currency = connection.unit.property.currency
    rule = rule_of(connection)
    result = []
    identity = rule.is_identity  # the common case, and a year of nights a full sync: asked once
    for nights in nights_of_ranges:
        if identity:
            priced = [(n.date, n.price) for n in nights]
        else:
            priced = [(n.date, channel_price(rule, n.price, currency)) for n in nights]
        for run_start, run_end, (_date, price) in R.runs(priced, date_of=lambda n: n[0], key=lambda n: n[1]):
            result.append(PriceRange(range=DayRange(run_start, run_end), price=price, currency=currency))
        aside = [] if identity else [n.date for n in nights if rule_set_aside(rule, n.price, currency)]
        if aside:  # a price set after the rule was saved, which the rule would make absurd
            log.warning(
                "connection %s: its price rule (%s) gives no sane price for %s night(s) from %s; sent the PMS price",
                connection.pk,
                rule.describe(currency),
                len(aside),
                aside[0],
            )
    return result


def _send(connection, kind, items, *, refresh_token: bool = True) -> int:
    """Send ``items`` in chunks of the platform's batch size; returns requests made."""
    listing = connection.platform_listing_id
    requests = 0
    for chunk in batches(items, adapter_class(connection.platform_type).max_batch):
        if kind == DirtyRange.Kind.AVAILABILITY:
            update = AvailabilityUpdate(listing_id=listing, ranges=tuple(chunk))
            call = lambda a, u=update: a.update_availability(u)  # noqa: E731
        else:
            update = PricingUpdate(listing_id=listing, ranges=tuple(chunk))
            call = lambda a, u=update: a.update_pricing(u)  # noqa: E731
        requests += platform_call(connection, call, purpose=Purpose.PUSH, refresh_token=refresh_token) or 1
    return requests


def push_connection(
    *, connection_id: int, kind: str, sync_log: SyncLog | None = None, batch: bool = True
) -> PushResult:
    """Push one kind of dirty state to one connection, and (``batch``, on a ``BATCH_LISTINGS``
    platform) the dirty state of its account's other listings in the same batch group with it.

    Raises ``Backpressure`` (limiter full or breaker open: reschedule, not a failure) and
    ``PlatformAPIError`` (transient: retry with backoff; permanent: the connection needs attention).
    Either way the claimed ranges stay dirty. ``sync_log`` is a row created when the push was
    requested (API, admin, ``manage.py sync``); otherwise the push writes its own.
    """
    connection = ChannelConnection.objects.select_related("unit__property").get(pk=connection_id)
    if not connection.receives(kind):
        return _skipped(sync_log, "connection not active")
    # A connection held to close-outs sends its own, in their own form: never in a batch with the rest.
    batch = batch and not connection.closeouts_only
    if KIND_CAPABILITY[kind] not in adapter_class(connection.platform_type).capabilities:
        DirtyRange.objects.filter(connection=connection, kind=kind).delete()  # e.g. iCal: nothing to push
        return _skipped(sync_log, f"{adapter_class(connection.platform_type).display_name} takes no {kind} pushes")
    edge = push_edge(connection)
    group = _batch_group_ids(connection) if batch else [connection.pk]
    leading = push_is_leading_edge(connection_id=connection.pk, kind=kind, edge=edge)
    _wait_for_quiet(connection, kind, leading=leading, paced=pushes_paced(connection), group=group)
    push_mark_sent(connection_id=connection.pk, kind=kind, edge=edge)
    with _one_push_per_group(kind, batch_group_key(connection) if len(group) > 1 else None):
        claim = _claim(connection, kind)
        siblings = _batch_siblings(connection, kind) if batch else []
        if siblings:
            claims = [(connection, claim), *((other, _claim(other, kind, claim.id)) for other in siblings)]
            claims = [(other, c) for other, c in claims if other.pk == connection.pk or c.ranges]
            if len(claims) > 1:
                ids = [cid for _other, c in claims for cid in c.correlation_ids]
                with correlation(ids[0] if ids else get_correlation_id()):
                    return _push_batch(connection, kind, claims, sync_log)
        # The push carries on the id of the first change it sends, so one booking can be followed from
        # its webhook to every platform; the SyncLog lists every change the push coalesced.
        with correlation(claim.correlation_id):
            return _push_claimed(connection, kind, claim, sync_log)


@contextmanager
def _one_push_per_group(kind: str, group: str | None):
    """Two rooms' pushes of one hotel, due at the same moment on two worker threads, would each claim
    part of the hotel and send two requests. One at a time: the second waits a moment, then finds its
    nights carried by the first (or sends what came since). Without the cache, both go."""
    if group is None:
        yield
        return
    key = f"push-group:{kind}:{group}"
    try:
        taken = cache.add(key, 1, timeout=int(http.READ_TIMEOUT) + 30)
    except Exception:
        taken = None
    if taken is False:
        raise Backpressure(0.5, "group_push_in_progress")
    try:
        yield
    finally:
        if taken:
            try:
                cache.delete(key)
            except Exception as exc:
                log.warning("could not release the %s push of %s: %s", kind, group, exc)


def _skipped(sync_log: SyncLog | None, why: str) -> PushResult:
    """A requested push that cannot run still ends its row, or it would show as running for ever."""
    if sync_log is not None:
        sync_log_finish(sync_log=sync_log, status=SyncLog.Status.SKIPPED, started=time.monotonic(), error=why)
    return PushResult("skipped")


def _push_claimed(connection: ChannelConnection, kind: str, claim: Claim, sync_log: SyncLog | None) -> PushResult:
    merged = R.clip(claim.ranges, *sync_window(connection))
    if not merged:
        DirtyRange.objects.filter(claimed_by=claim.id).delete()
        if sync_log is not None:
            sync_log_finish(
                sync_log=sync_log, status=SyncLog.Status.SUCCESS, started=time.monotonic(), error="nothing to push"
            )
        return PushResult("nothing")
    try:
        items = push_items(connection, kind, merged)
    except Exception as exc:
        # Nights no platform can take (a zero price stored before prices had to be more than 0): the push
        # fails where staff see it (its row, last_error) and gives its claim back; it used to keep the
        # claim, with no row and no error, and fail the same way each time the claim went stale. It is
        # our data, not the connection, that is wrong: the connection stays active (its close-outs go on)
        # and the push is retried with backoff until the price is fixed.
        sync_log = push_log_open(connection, kind, sync_log, push_log_details(merged, [], claim))
        refused = PlatformAPIError(f"cannot send {kind}: {exc}", permanent=False, code="invalid_value")
        push_failed(connection, kind, refused, claim, merged, sync_log, time.monotonic())
        raise refused from exc
    sync_log = push_log_open(connection, kind, sync_log, push_log_details(merged, items, claim))
    started = time.monotonic()
    requests = push_send(connection, kind, items, claim, merged, sync_log, started)
    # The bookkeeping of a push that went through commits once: its ranges clean, the connection and its
    # row up to date.
    with transaction.atomic():
        DirtyRange.objects.filter(claimed_by=claim.id).delete()
        now = timezone.now()
        connections_record_pushed(connection_ids=[connection.pk], now=now)
        sync_log_finish(sync_log=sync_log, status=SyncLog.Status.SUCCESS, started=started, requests=requests)
        push_again_if_overlapped([(connection, merged)], kind, claim.id, now)
        push_again_if_handed_over([(connection, merged)], kind)
    push_observe(connection, kind, claim, now)
    log.info("pushed %s to connection %s: %s ranges in %s requests", kind, connection.pk, len(items), requests)
    return PushResult("success", requests=requests, ranges=len(items))


def _counter(kind: str):
    return metrics.AVAILABILITY_UPDATES if kind == DirtyRange.Kind.AVAILABILITY else metrics.PRICING_UPDATES


def push_send(connection, kind: str, items, claim: Claim, merged, sync_log: SyncLog, started: float) -> int:
    """Send one connection's ``items``; returns the requests made. When that fails, the push's claimed
    ranges (of this connection only) are given back and its row says why (``push_failed``), then the
    error is raised."""
    try:
        return push_request(connection, kind, items)
    except Exception as exc:
        push_failed(connection, kind, exc, claim, merged, sync_log, started)
        raise


def push_request(connection, kind: str, items, *, refresh_token: bool = True) -> int:
    """The requests of one connection's push and nothing else. With ``refresh_token=False`` it makes no
    statement (an expired token is raised, not refreshed), so a drain may send from several threads."""
    # Network calls happen outside any transaction: a slow platform must not hold row locks.
    with metrics.track_sync_operation(f"push_{kind}", connection.platform_type):
        return _send(connection, kind, items, refresh_token=refresh_token)


def push_failed(connection, kind: str, exc: Exception, claim: Claim, merged, sync_log: SyncLog, started) -> None:
    """The bookkeeping of a push whose requests failed with ``exc``: its claimed ranges (of this connection
    only) are dirty again and its row says why. ``Backpressure`` is a deferral, kept on this row; a
    transient ``PlatformAPIError`` also pushes the nights again once a late write can no longer land."""
    release_claim(claim.id, connection.pk)
    if isinstance(exc, Backpressure):
        # A deferral is not a failure, and not a sync of its own: the retry carries on this row.
        error = f"deferred {exc.delay_seconds:.1f}s: {exc.reason}"
        deferrals = {"deferrals": (sync_log.details or {}).get("deferrals", 0) + 1}
        sync_log_finish(
            sync_log=sync_log, status=SyncLog.Status.SKIPPED, started=started, error=error, details=deferrals
        )
        _remember_deferred(connection, kind, sync_log.pk)
    elif isinstance(exc, PlatformAPIError):
        if not exc.permanent:
            push_again_once_landed(connection, kind, merged)
        _counter(kind).labels(connection.platform_type, "failed").inc()
        error = safe_message(connection, exc)
        sync_log_finish(sync_log=sync_log, status=SyncLog.Status.FAILED, started=started, error=error)
        push_refused(connection, kind, exc)
    else:
        error = safe_message(connection, f"{type(exc).__name__}: {exc}")
        sync_log_finish(sync_log=sync_log, status=SyncLog.Status.FAILED, started=started, error=error)


def push_refused(connection, kind: str, exc: PlatformAPIError) -> None:
    """Record a push's failure on its connection. Refused for good, the connection needs a person; but
    a refusal of a push in its full form may be of one value of ours (a price, a minimum stay the
    platform does not take), and bookings made elsewhere must still close their nights there: the
    connection is held to close-outs (``closeouts_only``), and its nights waiting to be closed go at
    once, in that form. Only when a close-out itself is refused (the credentials, the listing) does
    the connection stop whole.

    A push sent to a mapping the connection no longer has (re-mapped while it was on the wire, most
    often because that listing is gone) says nothing of the new one, and one begun before the connection
    was resumed says nothing of what a person fixed before resuming it: nothing is recorded. (The resume's
    own full sync sends the value again, and records its refusal if it is still refused.)"""
    stored = (
        ChannelConnection.objects.filter(pk=connection.pk)
        .values_list("resumed_at", *(name.removeprefix("connection__") for name in MAPPING))
        .first()
    )
    if stored is None or stored[1:] != _mapping_of(connection):
        log.info("connection %s: a push to its former mapping failed (%s); not recorded", connection.pk, exc)
        return
    if stored[0] != connection.resumed_at:
        log.info("connection %s: a push begun before its resume failed (%s); not recorded", connection.pk, exc)
        return
    if not exc.permanent:
        connection_record_failure(connection=connection, exc=exc)
        return
    narrowed = not connection.closeouts_only
    connection_record_failure(connection=connection, exc=exc, closeouts_only=narrowed)
    if narrowed and Capability.PUSH_AVAILABILITY in adapter_class(connection.platform_type).capabilities:
        push_enqueue(connection_id=connection.pk, kind=DirtyRange.Kind.AVAILABILITY, delay_seconds=0)


def push_observe(connection, kind: str, claim: Claim, now: dt.datetime) -> None:
    """The metrics of one connection's push that went through."""
    _counter(kind).labels(connection.platform_type, "success").inc()
    if claim.oldest is not None:
        metrics.SYNC_LAG.labels(connection.platform_type).observe((now - claim.oldest).total_seconds())


# --- account batching -----------------------------------------------------------------------------
#
# On a platform whose request carries several listings of one account (a Booking.com hotel's room
# types), the push of one unit takes its siblings' due dirty ranges too: ten dirty rooms of a hotel
# cost one rate-limit slot, not ten, so the worst-case lag is one slot and not a queue of them.


def _batch_group_ids(connection: ChannelConnection) -> list[int]:
    """This connection and the other active ones of its platform's batch group (any account: the
    debounce is about the hotel's changes, the batch itself checks the account)."""
    platform = adapter_class(connection.platform_type)
    if Capability.BATCH_LISTINGS not in platform.capabilities:
        return [connection.pk]
    group = platform.batch_group(connection.platform_listing_id, connection.platform_metadata or {})
    # A group never spans listing ids (``batch_group``), so only the hotel's own connections are read.
    others = ChannelConnection.objects.filter(
        platform_type=connection.platform_type,
        platform_listing_id=connection.platform_listing_id,
        status=ChannelConnection.Status.ACTIVE,
    ).values_list("pk", "platform_listing_id", "platform_metadata")
    return [connection.pk] + [
        pk for pk, listing, metadata in others
        if pk != connection.pk and platform.batch_group(listing, metadata or {}) == group
    ]  # fmt: skip


def _batch_siblings(connection: ChannelConnection, kind: str) -> list[ChannelConnection]:
    """The other active connections of this account and batch group with due, unclaimed dirty
    ranges of ``kind``, lowest id first."""
    platform = adapter_class(connection.platform_type)
    if Capability.BATCH_LISTINGS not in platform.capabilities:
        return []
    dirty = DirtyRange.objects.filter(kind=kind, claimed_by="").filter(due(timezone.now()))
    candidates = (
        ChannelConnection.objects.filter(
            platform_type=connection.platform_type,
            platform_listing_id=connection.platform_listing_id,
            status=ChannelConnection.Status.ACTIVE,
            pk__in=dirty.values("connection_id"),
        )
        .exclude(pk=connection.pk)
        .select_related("unit__property")
        .order_by("pk")
    )
    group = platform.batch_group(connection.platform_listing_id, connection.platform_metadata or {})
    candidates = [
        c for c in candidates if platform.batch_group(c.platform_listing_id, c.platform_metadata or {}) == group
    ]
    if not candidates:
        return []
    account = rate_limit_account(connection)
    return [c for c in candidates if rate_limit_account(c) == account]


def _push_batch(connection, kind: str, claims: list[tuple[ChannelConnection, Claim]], sync_log) -> PushResult:
    """Send every claimed connection's nights in requests of up to ``max_batch`` items, each request
    one guarded call on ``connection`` (the account's limit, breaker and token are shared)."""
    parts = []
    try:
        for other, claim in claims:
            merged = R.clip(claim.ranges, *sync_window(other))
            parts.append((other, claim, merged, push_items(other, kind, merged) if merged else []))
    except Exception:
        # One room's nights cannot be sent (a zero price stored before prices had to be more than 0): it
        # must not hold its hotel's claim, and with it every room's push, until the claim goes stale.
        # Each is pushed alone instead; that room fails where staff see it, the others go.
        release_claim(claims[0][1].id)
        log.exception(
            "batched %s push of connection %s: items could not be built; pushing each alone", kind, connection.pk
        )
        if sync_log is not None:
            sync_log_finish(
                sync_log=sync_log, status=SyncLog.Status.SKIPPED, started=time.monotonic(), error="pushed each alone"
            )
        return _push_each_alone(kind, [other for other, _claim in claims])
    details = {
        "batched": [other.pk for other, *_rest in parts],
        "items": sum(len(items) for *_rest, items in parts),
        "correlation_ids": [cid for _o, claim, *_r in parts for cid in claim.correlation_ids][:50],
    }
    sync_log = push_log_open(connection, kind, sync_log, details)
    claim_id = claims[0][1].id
    started = time.monotonic()
    counter = _counter(kind)
    platform = connection.platform_type
    try:
        with metrics.track_sync_operation(f"push_{kind}", platform):
            requests = _send_batch(connection, kind, [(other, items) for other, _c, _m, items in parts if items])
    except Backpressure as exc:
        release_claim(claim_id)
        deferrals = {"deferrals": (sync_log.details or {}).get("deferrals", 0) + 1}
        error = f"deferred {exc.delay_seconds:.1f}s: {exc.reason}"
        sync_log_finish(
            sync_log=sync_log, status=SyncLog.Status.SKIPPED, started=started, error=error, details=deferrals
        )
        _remember_deferred(connection, kind, sync_log.pk)
        raise
    except PlatformAPIError as exc:
        release_claim(claim_id)
        counter.labels(platform, "failed").inc()
        error = safe_message(connection, exc)
        if exc.permanent:
            # One listing's mapping may be what the platform refuses: each connection is pushed on its
            # own, so the refusal lands on the connection that caused it and the rest go through.
            sync_log_finish(sync_log=sync_log, status=SyncLog.Status.SKIPPED, started=started, error=error)
            log.warning("batched %s push of connection %s refused (%s): pushing each alone", kind, connection.pk, error)
            return _push_each_alone(kind, [other for other, *_rest in parts])
        for other, _c, merged, _items in parts:
            if merged:
                push_again_once_landed(other, kind, merged)
        sync_log_finish(sync_log=sync_log, status=SyncLog.Status.FAILED, started=started, error=error)
        connection_record_failure(connection=connection, exc=exc)
        raise
    except Exception as exc:
        release_claim(claim_id)
        error = safe_message(connection, f"{type(exc).__name__}: {exc}")
        sync_log_finish(sync_log=sync_log, status=SyncLog.Status.FAILED, started=started, error=error)
        raise
    now = timezone.now()
    with transaction.atomic():
        DirtyRange.objects.filter(claimed_by=claim_id).delete()
        connections_record_pushed(connection_ids=[other.pk for other, *_rest in parts], now=now)
        sync_log_finish(sync_log=sync_log, status=SyncLog.Status.SUCCESS, started=started, requests=requests)
        sent = [(other, merged) for other, _c, merged, _items in parts]
        push_again_if_overlapped(sent, kind, claim_id, now)
        push_again_if_handed_over(sent, kind)
    counter.labels(platform, "success").inc()
    for _other, claim, _merged, _items in parts:
        if claim.oldest is not None:
            metrics.SYNC_LAG.labels(platform).observe((now - claim.oldest).total_seconds())
    items = details["items"]
    log.info("pushed %s to connections %s: %s ranges in %s requests", kind, details["batched"], items, requests)
    return PushResult("success", requests=requests, ranges=items)


def _send_batch(connection, kind: str, parts: list[tuple[ChannelConnection, list]]) -> int:
    """Chunks of up to ``max_batch`` items across the connections, each chunk one request."""
    pairs = [(other, item) for other, items in parts for item in items]
    requests = 0
    for chunk in batches(pairs, adapter_class(connection.platform_type).max_batch):
        by_connection: dict[int, tuple[ChannelConnection, list]] = {}
        for other, item in chunk:
            by_connection.setdefault(other.pk, (other, []))[1].append(item)
        if kind == DirtyRange.Kind.AVAILABILITY:
            updates = [
                AvailabilityUpdate(other.platform_listing_id, tuple(items), metadata=other.platform_metadata or {})
                for other, items in by_connection.values()
            ]
            call = lambda a, u=updates: a.update_availability_many(u)  # noqa: E731
        else:
            updates = [
                PricingUpdate(other.platform_listing_id, tuple(items), metadata=other.platform_metadata or {})
                for other, items in by_connection.values()
            ]
            call = lambda a, u=updates: a.update_pricing_many(u)  # noqa: E731
        requests += platform_call(connection, call, purpose=Purpose.PUSH) or 1
    return requests


def _push_each_alone(kind: str, connections: list[ChannelConnection]) -> PushResult:
    total = PushResult("success")
    for other in connections:
        try:
            result = push_connection(connection_id=other.pk, kind=kind, batch=False)
        except PlatformAPIError as exc:
            log.warning("connection %s: %s push refused: %s", other.pk, kind, safe_message(other, exc))
            continue
        except Backpressure as exc:
            push_enqueue(connection_id=other.pk, kind=kind, delay_seconds=exc.delay_seconds)
            continue
        total.requests += result.requests
        total.ranges += result.ranges
    return total
