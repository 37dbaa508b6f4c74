"""Polling: which connections are due, and one poll of a connection (pages, import, acknowledge).

Booking.com hands reservations over only by pull; Expedia's BR is polled as a safety net for lost
notifications; Airbnb, FeWo-direkt and Google are read every few minutes behind their webhooks
(``Polling.catch_up``), so a lost webhook costs minutes, not the day until reconcile; iCal feeds are
read whole. ``due_polls`` and ``tokens_due_for_refresh`` are what the scheduler calls every few seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from adapters import registry
from adapters.base import BookingData, BookingPage, Capability, HotelRoomTypes, PlatformAPIError
from adapters.registry import adapter_class
from channelmgr import metrics
from channelmgr.accounts import sync_window
from channelmgr.inbound.acknowledgements import acknowledgement_done, acknowledgement_expect, acknowledgement_failed
from channelmgr.inbound.events import connection_for_listing
from channelmgr.inbound.importer import (
    ACKNOWLEDGEABLE,
    ICAL_HELD,
    booking_channel_id,
    booking_import,
    booking_source,
    ical_hold_unflag,
    ical_snapshot_import,
)
from channelmgr.models import ChannelConnection, SyncLog
from channelmgr.resilience.guard import CATCH_UP_SHARE, Backpressure, Purpose
from channelmgr.resilience.limiter import limiter_for
from channelmgr.resilience.platform_calls import platform_call, rate_limit_account, token_needs_refresh
from channelmgr.services.connections_health import connection_record_failure, safe_message
from channelmgr.services.sync_logs import sync_log_finish
from config.logging import get_correlation_id
from pms_core.errors import DomainError
from pms_core.models import Booking

log = logging.getLogger(__name__)

# How often the scheduler asks ``due_polls`` (channelmgr/scheduler.py).
DUE_POLLS_EVERY_SECONDS = 5
# A poll reads at most this many pages; the cursor is saved after each, so the next poll goes on.
MAX_PAGES = 50
# Platforms that filter by change time get this much overlap: a re-read booking is a no-op.
SINCE_OVERLAP = dt.timedelta(hours=1)
TOKEN_REFRESH_MARGIN_SECONDS = 900  # the scheduler looks every 5 minutes: leave it three chances
TOKEN_CLAIM_SECONDS = 120
PULL_LOCK_SECONDS = 120  # longer than any pull; a crashed puller's lock expires
PULL_IN_PROGRESS_RETRY_SECONDS = 0.3
# An acknowledgement is a request of its own on the account's budget, which on Booking.com (20 a minute)
# the pulls share with the close-outs. While the account has used half its limit in the current window,
# a pull leaves what it read unacknowledged for up to this long: the platform offers it again on the next
# pull (it imports as unchanged) and one acknowledgement then carries it all. A follow-up pull sees to it
# when no other pull comes. A quiet account acknowledges at once, as before.
ACK_BATCH_SECONDS = 20


def poll_interval(connection: ChannelConnection) -> float | None:
    """Seconds between polls of this connection, or None when it is not polled on a schedule."""
    polling = adapter_class(connection.platform_type).polling
    every = settings.PLATFORMS.get(connection.platform_type, {}).get("poll_seconds")
    if polling is None or every is None:
        return None
    if polling.per_connection:
        custom = (connection.platform_metadata or {}).get("poll_seconds")
        if isinstance(custom, (int, float)) and not isinstance(custom, bool):
            return max(polling.min_seconds, custom)
    return every


def _polled_platforms() -> list[str]:
    return [
        slug
        for slug in registry.slugs(Capability.PULL_BOOKINGS)
        if settings.PLATFORMS.get(slug, {}).get("enabled", True)
        and settings.PLATFORMS.get(slug, {}).get("poll_seconds") is not None
    ]


def _shortest_interval(platforms: list[str]) -> float:
    """The least time between two polls of any connection of these platforms."""
    shortest = []
    for slug in platforms:
        polling = adapter_class(slug).polling
        every = settings.PLATFORMS[slug]["poll_seconds"]
        shortest.append(min(every, polling.min_seconds) if polling.per_connection else every)
    return min(shortest, default=60)


def due_polls(now: dt.datetime) -> list[int]:
    """Claim and return the ids of connections whose poll is due.

    A claim moves ``last_polled_at`` to ``now`` with a compare-and-set, so each connection is returned
    at most once per interval, however often (and from however many schedulers) this is called. The
    caller enqueues ``poll_connection`` once per id.

    Active connections are due, and so are those held to close-outs (a value of ours was refused: the
    platform still sells, and its bookings must close nights elsewhere) and an iCal feed whose held removal
    alone put it in needs-attention (``ical_is_held_for_confirmation``): only its next poll can confirm
    the removal.
    """
    polled = _polled_platforms()
    shortest = _shortest_interval(polled)
    feeds = registry.slugs(Capability.SNAPSHOT_FEED)
    held = Q(status=ChannelConnection.Status.NEEDS_ATTENTION, platform_type__in=feeds, ical_hold__isnull=False)
    candidates = (
        ChannelConnection.objects.filter(ChannelConnection.credentials_work() | held)
        .filter(platform_type__in=polled)
        .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=now - dt.timedelta(seconds=shortest)))
        .only("id", "platform_type", "platform_metadata", "last_polled_at", "status", "ical_hold", "closeouts_only")
        .order_by(F("last_polled_at").asc(nulls_first=True), "pk")  # the longest waiting first
    )
    claimed = []
    room = _catch_up_room(polled)
    followers = _account_followers(polled)
    for connection in candidates:
        works = connection.status == ChannelConnection.Status.ACTIVE or connection.closeouts_only
        if not works and not ical_is_held_for_confirmation(connection):
            continue
        if connection.pk in followers:
            continue  # the account's lowest id pulls for it
        interval = poll_interval(connection)
        last = connection.last_polled_at
        if interval is None or (last is not None and (now - last).total_seconds() < interval):
            continue
        if connection.platform_type in room:
            if room[connection.platform_type] <= 0:
                continue  # due still: a later call claims it
            room[connection.platform_type] -= 1
        if ChannelConnection.objects.filter(pk=connection.pk, last_polled_at=last).update(last_polled_at=now):
            claimed.append(connection.pk)
    return claimed


def _catch_up_room(platforms: list[str]) -> dict[str, int]:
    """How many catch-up polls of each catch-up platform one call of ``due_polls`` may claim: what its cap
    (``CATCH_UP_SHARE`` of the platform's limit) grants until the scheduler's next call. Airbnb's limit is
    the app's, shared by every host: a round over thousands of listings otherwise sent thousands of polls
    at once, each deferred again and again by the cap."""
    room = {}
    for slug in platforms:
        values = settings.PLATFORMS[slug]
        if not adapter_class(slug).catches_up() or not values.get("rate_limit"):
            continue
        per_second = CATCH_UP_SHARE * values["rate_limit"] / values["rate_window"]
        room[slug] = max(1, math.floor(per_second * DUE_POLLS_EVERY_SECONDS))
    return room


def account_connections(connection: ChannelConnection) -> list[ChannelConnection]:
    """The connections one pull of ``connection`` reads: every active or needs-attention connection of
    its account on a ``Polling.per_account`` platform, lowest id first (``connection`` itself when it is
    alone). A hotel needing attention (a refused push, say) still sells rooms: its reservations must
    reach the PMS and close their nights elsewhere. Should the platform refuse a pull naming it, the
    others are pulled without it (``_fetch_page``)."""
    polling = adapter_class(connection.platform_type).polling
    if polling is None or not polling.per_account:
        return [connection]
    account = rate_limit_account(connection)
    pulled = [ChannelConnection.Status.ACTIVE, ChannelConnection.Status.NEEDS_ATTENTION]
    siblings = [
        other
        for other in ChannelConnection.objects.filter(
            platform_type=connection.platform_type, status__in=pulled
        ).order_by("pk")
        if other.pk == connection.pk or rate_limit_account(other) == account
    ]
    return siblings if any(other.pk == connection.pk for other in siblings) else [connection, *siblings]


@contextmanager
def _one_pull_per_account(connection: ChannelConnection):
    """A ping and the scheduled poll of one account must not pull side by side: both would spend the
    account's budget on the same reservations. The second defers, and then finds itself covered."""
    polling = adapter_class(connection.platform_type).polling
    if polling is None or not polling.per_account:
        yield
        return
    key = f"inbound:pulling:{connection.platform_type}:{rate_limit_account(connection)}"
    try:
        taken = cache.add(key, 1, timeout=PULL_LOCK_SECONDS)
    except Exception:
        taken = True  # the cache is down: pull rather than not at all
    if not taken:
        # A pull takes a tenth of a second or so: look again soon, since a ping waiting here is a booking
        # the other platforms do not know of yet (bench (b): a 2 s wait was the slowest close-out).
        raise Backpressure(PULL_IN_PROGRESS_RETRY_SECONDS, "pull_in_progress")
    try:
        yield
    finally:
        try:
            cache.delete(key)
        except Exception as exc:
            log.warning("could not release the pull of connection %s: %s", connection.pk, exc)


def _account_followers(platforms: list[str]) -> set[int]:
    """Polled connections of per-account platforms that are not their account's lowest id: the
    account's pull reads them, so they are never claimed themselves (one pull a period per account)."""
    followers, leaders = set(), set()
    per_account = [slug for slug in platforms if getattr(adapter_class(slug).polling, "per_account", False)]
    active = ChannelConnection.objects.filter(ChannelConnection.credentials_work(), platform_type__in=per_account)
    for connection in active.order_by("pk"):
        account = (connection.platform_type, rate_limit_account(connection))
        if account in leaders:
            followers.add(connection.pk)
        else:
            leaders.add(account)
    return followers


def ical_is_held_for_confirmation(connection: ChannelConnection) -> bool:
    """True when the connection needs attention only because its iCal feed's mass removal is held
    (the hold set the status), so it must keep being polled. A transient fetch error changes nothing;
    a permanent one unflags the hold (``ical_hold_unflag``), and then polling stops as for any other."""
    hold = connection.ical_hold or {}
    return connection.status == ChannelConnection.Status.NEEDS_ATTENTION and bool(hold.get("flagged"))


def tokens_due_for_refresh(now: dt.datetime) -> list[int]:
    """Ids of OAuth connections whose credentials work (``credentials_work``) and whose access token
    expires within the margin.

    Each id is handed out at most once per ``TOKEN_CLAIM_SECONDS`` (a cache claim), so a slow refresh
    is not queued again and again; the refresh itself skips a token that is no longer due.
    """
    oauth = registry.slugs(Capability.OAUTH)
    horizon = now + dt.timedelta(seconds=TOKEN_REFRESH_MARGIN_SECONDS)
    candidates = (
        ChannelConnection.objects.filter(ChannelConnection.credentials_work(), platform_type__in=oauth)
        .filter(Q(token_expires_at__isnull=True) | Q(token_expires_at__lte=horizon))
        .exclude(refresh_token="")
    )
    return [c.pk for c in candidates if cache.add(f"inbound:token-refresh:{c.pk}", 1, TOKEN_CLAIM_SECONDS)]


def token_refresh_due(connection: ChannelConnection) -> bool:
    return token_needs_refresh(connection, margin_seconds=TOKEN_REFRESH_MARGIN_SECONDS)


@dataclass
class PollResult:
    status: str
    pages: int = 0
    requests: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    acknowledged: int = 0
    acknowledgements_deferred: int = 0  # read while the account was busy: acknowledged by a later pull
    refused: list[str] = field(default_factory=list)
    held: str = ""  # why an iCal feed's removal was held back this poll
    complete: bool = True  # False when it stopped at MAX_PAGES and the next poll goes on
    # Whether this poll read the platform's list from its start to its end, with no stay read twice: only
    # then is everything changed since its ``since`` known. Where pages are positions in a list ordered by
    # change (FeWo-direkt's numbered pages), a stay changed while the list is paged moves to the end, and
    # the one behind it slips into a page already read; the moved stay is then read twice. A pass over
    # several polls (more than MAX_PAGES pages) gives it minutes to happen: it never counts.
    read_through: bool = False
    connections: list = field(default_factory=list)  # every connection the pull read (its account's)


def _covered_key(connection_id: int) -> str:
    return f"inbound:pull-covered:{connection_id}"


def pull_covers(*, connection: ChannelConnection, since: dt.datetime) -> bool:
    """True when a pull that started at or after ``since`` read everything the platform offered.

    A burst of "new reservation" pings then costs one pull, not one per ping: each ping that waited
    behind the rate limit finds the pull that started after it arrived already done. A lost record
    only costs an extra pull."""
    try:
        covered = cache.get(_covered_key(connection.pk))
    except Exception:
        return False
    return covered is not None and covered >= since.timestamp()


def connection_poll(*, connection: ChannelConnection, sync_log: SyncLog | None = None) -> PollResult:
    """Read the connection's bookings page by page, import each, acknowledge them (pull platforms).

    Raises ``Backpressure`` (reschedule) and transient ``PlatformAPIError`` (retry). A permanent error
    marks the connection as needing attention and returns ``PollResult("failed")``. A booking the PMS
    refuses (bad dates) is not acknowledged, so the platform keeps offering it (Booking.com then
    falls back to e-mail) and staff see it in the sync log.
    """
    own_log = sync_log is None
    if own_log:
        sync_log = SyncLog.objects.create(
            connection=connection,
            direction=SyncLog.Direction.INBOUND,
            kind=SyncLog.Kind.BOOKINGS,
            correlation_id=get_correlation_id(),
            details={"poll": True},
        )
    started = time.monotonic()
    began = timezone.now()
    result = PollResult("success")
    try:
        with metrics.track_sync_operation("poll_bookings", connection.platform_type):
            with _one_pull_per_account(connection):
                _read_pages(connection, result)
    except Backpressure as exc:
        if own_log and not result.pages:
            # Deferred before its first request: not a poll yet, and its retry writes a row of its own. (A
            # row each time filled the staff's sync log while a cap deferred a round of polls.)
            sync_log.delete()
        else:
            _finish(
                sync_log, SyncLog.Status.SKIPPED, started, result, f"deferred {exc.delay_seconds:.1f}s: {exc.reason}"
            )
        raise
    except PlatformAPIError as exc:
        _finish(sync_log, SyncLog.Status.FAILED, started, result, safe_message(connection, exc))
        connection_record_failure(connection=connection, exc=exc)
        if not exc.permanent:
            raise
        if Capability.SNAPSHOT_FEED in adapter_class(connection.platform_type).capabilities:
            ical_hold_unflag(connection=connection)
        result.status = "failed"
        return result
    except Exception as exc:
        _finish(sync_log, SyncLog.Status.FAILED, started, result, f"{type(exc).__name__}: {exc}")
        raise
    now = timezone.now()
    # A held iCal removal keeps its reason as the connection's last error until it is resolved.
    cleared = {} if result.held else {"last_error": ""}
    read = [c.pk for c in result.connections] or [connection.pk]
    read_through = {"pulled_through": began} if result.complete and result.read_through else {}
    ChannelConnection.objects.filter(pk__in=read).exclude(pk=connection.pk).update(last_polled_at=now, last_sync_at=now)
    # Only while it still names the listing this poll read: a re-map meanwhile reset its bookkeeping so that
    # the new listing is read whole, at once (``connection_update``).
    _same_listing(connection).update(last_polled_at=now, last_sync_at=now, **read_through)
    # A pull that worked does not fix what a person must (a refused push): that error stays until then.
    if cleared:
        fine = ChannelConnection.objects.filter(pk__in=read).exclude(status=ChannelConnection.Status.NEEDS_ATTENTION)
        fine.update(**cleared)
    if result.complete:
        try:
            cache.set_many({_covered_key(pk): began.timestamp() for pk in read}, timeout=24 * 3600)
        except Exception as exc:
            log.warning("could not record the pull of connection %s: %s", connection.pk, exc)
    _finish(sync_log, SyncLog.Status.SUCCESS, started, result)
    return result


def _read_pages(connection: ChannelConnection, result: PollResult) -> None:
    cursor = connection.sync_cursor or None
    # Sent with the cursor too: where the platform filters by change time, its cursor is a position in the
    # filtered list, and the pull it continues had the same filter.
    since = connection.pulled_through - SINCE_OVERLAP if connection.pulled_through else None
    platform = adapter_class(connection.platform_type)
    acknowledges = Capability.ACKNOWLEDGE in platform.capabilities
    # A catch-up poll reads a listing's history on its first pass (``_holding_nights``).
    window_start = sync_window(connection)[0] if platform.catches_up() else None
    result.connections = account_connections(connection)
    seen: set[str] = set()
    result.read_through = cursor is None
    for _ in range(MAX_PAGES):
        # Network calls stay outside transactions: booking_import opens its own, per booking.
        page = _fetch_page(connection, result, cursor=cursor, since=since)
        result.pages += 1
        result.requests += 1
        if page.is_snapshot:
            # Events the feed or the PMS refuses land in ``refused`` (the sync log), and a sudden mass
            # removal is held until the next poll or staff confirm it.
            counts = ical_snapshot_import(connection=connection, page=page, problems=result.refused)
            for action, n in counts.items():
                result.actions[action] = result.actions.get(action, 0) + n
            if counts.get(ICAL_HELD):
                hold = ChannelConnection.objects.filter(pk=connection.pk).values_list("ical_hold", flat=True).first()
                result.held = (hold or {}).get("reason", "")
        else:
            # A reservation the adapter could not read fails alone: reported, and left unacknowledged.
            for problem in page.unreadable:
                log.warning("connection %s: %s", connection.pk, problem)
                result.refused.append(problem)
            bookings = page.bookings
            ids = [data.channel_booking_id for data in bookings]
            if seen.intersection(ids) or len(set(ids)) < len(ids):
                result.read_through = False
            seen.update(ids)
            if window_start is not None:
                bookings = _holding_nights(connection, bookings, window_start)
            processed = _import_page(result.connections, bookings, result)
            if acknowledges and processed and not _acknowledge_now(connection):
                result.acknowledgements_deferred += len(processed)
            elif acknowledges and processed:
                # No share: the acknowledgement completes a pull already spent, and refusing it would
                # leave the reservations to be offered (and pulled) again and again.
                booking_ids = [int(ours) for _data, ours in processed if ours.isdigit()]
                try:
                    platform_call(connection, lambda a, p=processed: a.acknowledge_bookings(p))
                except (PlatformAPIError, Backpressure) as exc:
                    acknowledgement_failed(booking_ids=booking_ids, error=safe_message(connection, exc))
                    if not (isinstance(exc, PlatformAPIError) and exc.permanent):
                        raise  # retried with the pull: the reservations are offered again, imported unchanged
                    # Refused for good: the reservations are in, and they stay pending (the unacknowledged
                    # alert and the sync log name them). Failing the pull would mark the connection that led
                    # it as needing attention, whichever hotel they belong to, and a connection needing
                    # attention leaves its account's pulls: one refusal would stop the account's imports.
                    result.refused.append(f"acknowledgement refused: {safe_message(connection, exc)}"[:300])
                else:
                    acknowledgement_done(booking_ids=booking_ids)
                    _acknowledgements_sent(connection)
                    result.acknowledged += len(processed)
                result.requests += 1
        _same_listing(connection).update(sync_cursor=(page.cursor or "")[:500])
        if not page.cursor:
            return
        cursor = page.cursor
    result.complete = False
    log.info("connection %s: stopped after %s pages; the next poll continues", connection.pk, MAX_PAGES)


def _same_listing(connection: ChannelConnection):
    return ChannelConnection.objects.filter(pk=connection.pk, listing_key=connection.listing_key)


def _holding_nights(connection: ChannelConnection, bookings, window_start) -> tuple[BookingData, ...]:
    """What a catch-up poll imports: stays that hold a night of the window, and any stay the PMS already
    holds (one shortened to end today frees nights that must open again). An old stay is left out: a first
    read returns the listing's history, and an old clash would only crowd the staff's queue."""
    ended = {booking_channel_id(connection, data) for data in bookings if data.check_out <= window_start}
    known = set(
        Booking.objects.filter(source=booking_source(connection), channel_booking_id__in=ended).values_list(
            "channel_booking_id", flat=True
        )
        if ended
        else ()
    )
    return tuple(
        data for data in bookings if data.check_out > window_start or booking_channel_id(connection, data) in known
    )


def _fetch_page(connection: ChannelConnection, result: PollResult, *, cursor, since) -> BookingPage:
    """One page of the pull of ``result.connections``.

    Should the platform refuse for good a pull naming hotels that need attention, it is asked again
    without them, as before they needed attention: a hotel id it no longer knows or lets us read must
    not stop the other hotels' imports. Those stopped whole are left out first; a hotel held to
    close-outs (only a value of ours was refused: the account reads it) stays in, for its guests'
    bookings must still close nights elsewhere, unless the pull is refused without the others too.
    The refusal is on the pull's sync log; it costs one request a poll while it lasts. A refusal
    without them fails the pull as before."""
    listing_ids = [c.platform_listing_id for c in result.connections] if len(result.connections) > 1 else []
    try:
        return platform_call(
            connection,
            lambda a: a.fetch_bookings(cursor=cursor, since=since, listing_ids=listing_ids),
            purpose=Purpose.CATCH_UP if adapter_class(connection.platform_type).catches_up() else Purpose.PULL,
        )
    except PlatformAPIError as exc:
        attention = ChannelConnection.Status.NEEDS_ATTENTION
        for spared in (lambda c: c.closeouts_only, lambda c: False):  # the held ones, then none
            kept = {
                c.platform_listing_id
                for c in result.connections
                if c.status != attention or c.pk == connection.pk or spared(c)
            }
            left_out = [c for c in result.connections if c.platform_listing_id not in kept]
            if left_out:
                break
        if not exc.permanent or not left_out:
            raise
        hotels = ", ".join(dict.fromkeys(c.platform_listing_id for c in left_out))
        why = f"pulled without hotel(s) {hotels}, which need attention: {safe_message(connection, exc)}"[:300]
        log.warning("connection %s: %s", connection.pk, why)
        result.refused.append(why)
        result.requests += 1
        result.connections = [c for c in result.connections if c.platform_listing_id in kept]
        return _fetch_page(connection, result, cursor=cursor, since=since)


def _ack_pending_key(connection: ChannelConnection) -> str:
    return f"inbound:ack-pending-since:{connection.pk}"


def _acknowledge_now(connection: ChannelConnection) -> bool:
    """Whether a pull acknowledges what it read now, or leaves it to a later pull (``ACK_BATCH_SECONDS``).
    The first pull that leaves some schedules that later pull. Without the cache: at once."""
    limiter = limiter_for(
        platform=connection.platform_type, account=rate_limit_account(connection), connection=connection
    )
    try:
        if limiter.current_usage() * 2 < limiter.limit:
            return True
        now = time.time()
        first = cache.add(_ack_pending_key(connection), now, timeout=ACK_BATCH_SECONDS * 10)
        since = now if first else cache.get(_ack_pending_key(connection))
    except Exception:
        return True
    if since is None or now - since >= ACK_BATCH_SECONDS:
        return True
    if first:
        from channelmgr.inbound.tasks import acknowledge_pending

        try:
            acknowledge_pending.send_with_options(args=(connection.pk,), delay=int(ACK_BATCH_SECONDS * 1000) + 100)
        except Exception as exc:  # the broker is down: the account's next scheduled poll acknowledges them
            log.warning("connection %s: could not schedule the acknowledging pull: %s", connection.pk, exc)
    return False


def _acknowledgements_sent(connection: ChannelConnection) -> None:
    try:
        cache.delete(_ack_pending_key(connection))
    except Exception as exc:
        log.warning("connection %s: could not clear its pending acknowledgements: %s", connection.pk, exc)


def acknowledgements_pending(connection: ChannelConnection) -> bool:
    """True while a pull of this connection left reservations to be acknowledged by a later one."""
    try:
        return cache.get(_ack_pending_key(connection)) is not None
    except Exception:
        return True


def _import_page(connections, bookings, result: PollResult) -> list[tuple[BookingData, str]]:
    """Import each booking into the connection of its listing (an account-wide pull reads several)."""
    by_listing = {c.platform_listing_id: c for c in connections}
    by_key = {c.listing_key: c for c in connections if c.listing_key}
    platform = adapter_class(connections[0].platform_type)
    processed = []
    for data in bookings:
        # A room type of a hotel is its own unit (``listing_key``), whichever connection's pull read it
        # (Expedia's BR answers for the whole hotel); a hotel mapped as one unit takes the rest.
        key = platform.booking_listing_key(data)
        connection = by_key.get(key)
        if connection is None and issubclass(platform, HotelRoomTypes):
            connection = connection_for_listing(platform=platform.slug, listing_id=data.listing_id, booking=data)
            if connection is None:
                # A room type no connection holds, or no room in a hotel whose units are its room types:
                # no unit's, and never a sibling room's. Left unacknowledged, so the platform offers it
                # again once it is mapped (or staff take it by hand).
                why = (
                    f"room type {data.room_type!r} is mapped to no unit"
                    if data.room_type
                    else f"names no room type, and no unit holds hotel {data.listing_id!r} whole"
                )
                result.refused.append(f"{data.channel_booking_id}: {why}")
                continue
        connection = connection or by_listing.get(data.listing_id, connections[0])
        try:
            with transaction.atomic():  # a savepoint: one reservation the database refuses rolls back alone
                booking, action = booking_import(connection=connection, data=data)
        except (ValidationError, DomainError, DataError, IntegrityError) as exc:
            # Refused alone, as an unreadable one is: left unacknowledged (the platform offers it again) and
            # named on the pull's log. Raised, it stopped every pull of the account at this reservation.
            log.warning("%s booking %s refused: %s", connection.platform_type, data.channel_booking_id, exc)
            result.refused.append(f"{data.channel_booking_id}: {exc}"[:300])
            continue
        result.actions[action] = result.actions.get(action, 0) + 1
        if action in ACKNOWLEDGEABLE:
            if booking is not None:
                acknowledgement_expect(connection=connection, booking_id=booking.pk)
            processed.append((data, str(booking.pk) if booking else data.channel_booking_id))
    return processed


def _finish(sync_log: SyncLog, status: str, started: float, result: PollResult, error: str = "") -> None:
    details = {
        "poll": True,
        "pages": result.pages,
        "actions": result.actions,
        "acknowledged": result.acknowledged,
        **({"acknowledgements_deferred": result.acknowledgements_deferred} if result.acknowledgements_deferred else {}),
        "refused": result.refused[:20],
        **({"held": result.held} if result.held else {}),
    }
    sync_log_finish(
        sync_log=sync_log, status=status, started=started, requests=result.requests, error=error, details=details
    )
