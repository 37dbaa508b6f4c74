"""Apply a platform's booking to the PMS: create, modify or cancel, idempotently.

Idempotent per (source, channel booking id) and version: the booking row is unique per source and
channel id, and keeps the platform's version. A copy whose version is not newer than the stored one
is acknowledged and ignored, because platforms deliver out of order. Everything runs under the unit's
row lock (pms_core's writers take the same lock), so two workers importing the same booking queue
up instead of racing, and a redelivery after a killed worker finds the committed row and does nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Collection
from dataclasses import replace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from adapters.base import BookingData, BookingIdScope, BookingPage, BookingStatus
from adapters.registry import adapter_class
from channelmgr import metrics
from channelmgr.accounts import sync_window
from channelmgr.models import ChannelConnection
from channelmgr.services.connections_health import connection_mark_needs_attention, connection_recover
from channelmgr.services.ical_export import ical_uid_domain
from channelmgr.signals import sold_on_former_listing
from pms_core.booking_details import MAX_AMOUNT, MAX_GUESTS, PlatformDetails
from pms_core.errors import DomainError
from pms_core.models import Booking, BookingTransition, CalendarDay, Unit
from pms_core.services import (
    booking_cancel,
    booking_change_unit,
    booking_create,
    booking_modify,
    booking_record_cancelled,
    booking_record_version,
    booking_rename_channel_id,
    booking_retire_channel_id,
)
from pms_core.services.calendar import calendar_block
from pms_core.services.stays import lock_unit

log = logging.getLogger(__name__)

CHANNEL_ID_MAX = Booking._meta.get_field("channel_booking_id").max_length


class Action:
    CREATED = "created"
    OVERBOOKED = "overbooked"
    MODIFIED = "modified"
    CANCELLED = "cancelled"
    UNCHANGED = "unchanged"
    STALE = "stale"  # an older or equal version than the one we hold
    IGNORED = "ignored"  # nothing to do (a cancellation of a booking we never held)
    CLASH = "clash"  # a modification onto taken nights; left for staff (see _modify)


# Actions after which the platform may be told the booking was processed.
ACKNOWLEDGEABLE = {
    Action.CREATED,
    Action.OVERBOOKED,
    Action.MODIFIED,
    Action.CANCELLED,
    Action.UNCHANGED,
    Action.STALE,
    Action.IGNORED,
}


def booking_source(connection: ChannelConnection) -> str:
    return connection.platform_type


def booking_channel_id(connection: ChannelConnection, data: BookingData) -> str:
    """The booking's ``channel_booking_id``: the platform's id, scoped by the connection where the
    platform's ids are only unique within one connection (an iCal feed's UIDs)."""
    return channel_id_for(connection, data.channel_booking_id)


def channel_id_for(connection: ChannelConnection, platform_id: str) -> str:
    """``channel_booking_id`` for the platform's id ``platform_id`` (see ``booking_channel_id``)."""
    if adapter_class(connection.platform_type).booking_id_scope != BookingIdScope.CONNECTION:
        return platform_id
    channel_id = f"{connection.pk}:{platform_id}"
    if len(channel_id) > CHANNEL_ID_MAX:
        channel_id = f"{connection.pk}:sha256:{hashlib.sha256(platform_id.encode()).hexdigest()}"
    return channel_id


def booking_import(
    *, connection: ChannelConnection, data: BookingData, snapshot: bool = False
) -> tuple[Booking | None, str]:
    """Apply ``data`` to the connection's unit; returns the booking (None if nothing is held) and the action.

    A new booking that clashes with a confirmed stay is stored ``overbooked`` (counted in
    ``channel_manager_double_booking_attempts_total``), never dropped. Raises ``ValidationError`` for
    data the PMS refuses (an empty or overlong stay).

    ``snapshot``: ``data`` comes from a feed that shows everything it holds on every read (iCal). What it
    shows is the truth even at the version already stored: an event that left the feed and came back
    unchanged is live again, and a feed that moves an event without bumping its SEQUENCE or DTSTAMP still
    moved it. Only a strictly older version is stale there (a cached copy of the feed).
    """
    source = booking_source(connection)
    channel_id = booking_channel_id(connection, data)
    with transaction.atomic():
        # Every unit the change touches, in id order (as a move between units does): a booking staff
        # moved off the connection's unit is changed on its new one.
        moved_to = Booking.objects.filter(source=source, channel_booking_id=channel_id).values_list(
            "unit_id", flat=True
        )
        for unit_id in sorted({connection.unit_id, *moved_to}):
            lock_unit(Unit(pk=unit_id))
        existing = Booking.objects.select_for_update().filter(source=source, channel_booking_id=channel_id).first()
        if existing is None:
            booking, action = _create(connection, data, source=source, channel_id=channel_id)
        else:
            booking, action = _update(existing, data, connection=connection, channel_id=channel_id, snapshot=snapshot)
    metrics.BOOKINGS_IMPORTED.labels(connection.platform_type, action).inc()
    if action == Action.OVERBOOKED:
        metrics.DOUBLE_BOOKING_ATTEMPTS.labels(connection.platform_type).inc()
        clash = booking.clashes_with
        log.warning(
            "%s booking %s stored as overbooked on unit %s: nights %s..%s clash with booking %s",
            connection.platform_type,
            data.channel_booking_id,
            connection.unit_id,
            data.check_in,
            data.check_out,
            clash.pk if clash else "?",
        )
    else:
        log.info("%s booking %s: %s", connection.platform_type, data.channel_booking_id, action)
    if booking is not None and booking.is_active and not _sold_on(connection, data):
        sold_on_former_listing.send(
            sender=ChannelConnection, connection=connection, check_in=booking.check_in, check_out=booking.check_out
        )
    return booking, action


def _sold_on(connection: ChannelConnection, data: BookingData) -> bool:
    """Whether ``data`` names the listing (a hotel, on a hotel's platform) ``connection`` maps, or none.
    Where it names another, the connection was re-mapped since the guest booked."""
    return not data.listing_id or data.listing_id == connection.platform_listing_id


def _create(connection, data: BookingData, *, source: str, channel_id: str) -> tuple[Booking | None, str]:
    if data.status == BookingStatus.CANCELLED:
        # Cancelled before we saw it (or the cancel overtook the create): a tombstone keeps the version,
        # so the older "created" copy arriving later is recognised as stale.
        booking = booking_record_cancelled(
            unit=connection.unit,
            kind=_kind(data),
            check_in=data.check_in,
            check_out=data.check_out,
            currency=data.currency,
            source=source,
            channel_booking_id=channel_id,
            source_version=data.version,
            platform_details=platform_details(data),
            **_details(data),
        )
        return booking, Action.IGNORED
    if _kind(data) == Booking.Kind.BLOCK:
        booking = calendar_block(
            unit=connection.unit,
            start=data.check_in,
            end=data.check_out,
            note=(data.raw_status or "")[:200],
            source=source,
            channel_booking_id=channel_id,
            source_version=data.version,
            overbook_on_clash=True,
            actor=source,
        )
    else:
        booking = booking_create(
            unit=connection.unit,
            check_in=data.check_in,
            check_out=data.check_out,
            total_amount=data.total_amount,
            currency=data.currency,
            source=source,
            channel_booking_id=channel_id,
            source_version=data.version,
            overbook_on_clash=True,
            actor=source,
            platform_details=platform_details(data),
            **_details(data),
        )
    return booking, Action.OVERBOOKED if booking.status == Booking.Status.OVERBOOKED else Action.CREATED


def _update(
    existing: Booking, data: BookingData, *, connection, channel_id: str, snapshot: bool = False
) -> tuple[Booking, str]:
    # At one version a cancellation outranks a live copy: a page holding a reservation's modification
    # and then its cancellation, neither with its own time (both the page's), is not a stale cancel.
    cancels_at_same_version = (
        data.status == BookingStatus.CANCELLED and existing.is_active and data.version == existing.source_version
    )
    if _stale(data.version, existing.source_version, snapshot=snapshot) and not cancels_at_same_version:
        return existing, Action.STALE
    if data.status == BookingStatus.CANCELLED:
        if existing.status == Booking.Status.CANCELLED:
            _record_version(existing, data.version)
            return existing, Action.UNCHANGED
        cancelled = booking_cancel(booking=existing, source_version=data.version or None, actor=existing.source)
        return cancelled, Action.CANCELLED
    if existing.status == Booking.Status.CANCELLED:
        return _reinstate(existing, data, connection=connection, channel_id=channel_id)
    moved = moved_by_platform(existing, data, connection=connection)
    if moved:
        existing = booking_change_unit(
            booking=existing,
            unit=connection.unit,
            actor=existing.source,
            reason=f"{connection.platform_type} moved its guest to {connection.listing_key}",
        )
    if not _differs(existing, data):
        _record_version(existing, data.version)
        return existing, Action.MODIFIED if moved else Action.UNCHANGED
    return _modify(existing, data, connection=connection)


def moved_by_platform(existing: Booking, data: BookingData, *, connection) -> bool:
    """True when the platform now holds its guest on another of its listings or room types than the one
    the stay came through: ``data`` names exactly ``connection``'s listing (with the room type, on a hotel
    whose units are its room types), the stay sits on another unit, and that unit holds a live connection
    of the same platform (the sibling the stay was imported through: a room change, or an Airbnb host
    moving a reservation to another listing). A unit whose listing staff re-pointed elsewhere holds none,
    so its stays stay put. Not when staff moved the stay (an overbooking resolved by a move, recorded as
    a transition by someone other than the platform) and the platform still names the listing it was on
    before: their decision stands. A listing of a third unit is the platform moving its guest again."""
    if existing.unit_id == connection.unit_id:
        return False
    if adapter_class(connection.platform_type).booking_listing_key(data) != connection.listing_key:
        return False
    sibling = (
        ChannelConnection.objects.filter(platform_type=connection.platform_type, unit_id=existing.unit_id)
        .exclude(status=ChannelConnection.Status.DELETED)
        .exclude(pk=connection.pk)
    )
    if not sibling.exists():
        return False
    staff_move = (
        existing.transitions.filter(action=BookingTransition.Action.MOVED)
        .exclude(actor=existing.source)
        .order_by("-created_at", "-pk")
        .first()
    )
    if staff_move is None:
        return True
    # A move recorded before its unit of departure was (moved_from None) keeps staff's decision.
    return staff_move.moved_from_id is not None and staff_move.moved_from_id != connection.unit_id


def _stale(version: str, stored: str, *, snapshot: bool) -> bool:
    if snapshot:
        # A clipped closure's version ends with its clip (``ical_clip``): the feed's own version decides.
        # The same event clipped otherwise (the window moved, either way: a property moved west starts
        # it a day earlier) is applied, not ignored as an older copy.
        version, stored = version.partition(CLIP_MARK)[0], stored.partition(CLIP_MARK)[0]
    if not versions_comparable(version, stored):
        return False
    return version < stored if snapshot else version <= stored


def versions_comparable(a: str, b: str) -> bool:
    """Whether two versions of one booking sort in the platform's order. Both must be there and of one
    kind: a zero-padded revision (digits) or a timestamp. Google gives a revision where its answer has
    one and the update time where not; compared as strings, every revision sorts below every time, so
    a copy stored with its time would make every later revision stale. Versions of two kinds are not
    ordered: the copy at hand is applied, and the next one (each change sends one) settles it."""
    return bool(a and b) and a.isdigit() == b.isdigit()


def _modify(existing: Booking, data: BookingData, *, connection) -> tuple[Booking, str]:
    details = _details(data) if _kind(data) == Booking.Kind.RESERVATION else {}
    if data.total_amount is not None and _kind(data) == Booking.Kind.RESERVATION:
        details["total_amount"] = data.total_amount
    clash_before = existing.clashes_with_id if existing.status == Booking.Status.OVERBOOKED else None
    # The platform already moved its guest: if those nights are sold here, keep the stay as
    # overbooked for staff rather than refusing the platform's truth.
    booking = booking_modify(
        booking=existing,
        check_in=data.check_in,
        check_out=data.check_out,
        source_version=data.version or None,
        overbook_on_clash=True,
        actor=existing.source,
        platform_details=platform_details(data) if _kind(data) == Booking.Kind.RESERVATION else None,
        **details,
    )
    # A new double booking only when it clashes anew: a guest count or name changed on a stay that was
    # overbooked already is the same clash, and counting it again paged staff for nothing.
    if booking.status == Booking.Status.OVERBOOKED and (
        clash_before is None or booking.clashes_with_id != clash_before
    ):
        return booking, Action.OVERBOOKED
    return booking, Action.MODIFIED


def _reinstate(existing: Booking, data: BookingData, *, connection, channel_id: str) -> tuple[Booking | None, str]:
    """A booking the platform cancelled is live again (an iCal block that came back after a feed
    glitch). The cancelled row keeps its history under a new id; a fresh booking takes the nights."""
    booking_retire_channel_id(booking=existing)
    log.info("%s booking %s is live again after a cancellation", connection.platform_type, data.channel_booking_id)
    return _create(connection, data, source=existing.source, channel_id=channel_id)


def _record_version(existing: Booking, version: str) -> None:
    booking_record_version(booking=existing, source_version=version)


def _kind(data: BookingData) -> str:
    return Booking.Kind.BLOCK if data.kind == "block" else Booking.Kind.RESERVATION


def _details(data: BookingData) -> dict:
    if _kind(data) == Booking.Kind.BLOCK:
        return {}
    return {
        "guest_name": data.guest.name[:200],
        "guest_email": data.guest.email[:254],
        "guest_phone": data.guest.phone[:50],
        "guests_count": max(1, data.guests_count),
    }


def platform_details(data: BookingData) -> PlatformDetails:
    """What else the platform told us, kept as it came; a value the PMS cannot hold (a negative or
    absurd amount, a guest count past the column) is dropped rather than refusing the booking."""

    def amount(value):
        # Strictly below the column's limit, so rounding to its three decimals cannot carry past it.
        return value if value is not None and value.is_finite() and 0 <= value < MAX_AMOUNT else None

    def count(value):
        return value if isinstance(value, int) and 0 <= value <= MAX_GUESTS else None

    return PlatformDetails(
        taxes_amount=amount(data.taxes),
        fees_amount=amount(data.fees),
        adults=count(data.adults),
        children=count(data.children),
        infants=count(data.infants),
        special_requests=tuple(str(text) for text in data.special_requests),
        sub_channel=data.sub_channel,
        payment_model=str(data.payment_model or ""),
        platform_status=data.raw_status,
    )


def _differs(existing: Booking, data: BookingData) -> bool:
    if (existing.check_in, existing.check_out) != (data.check_in, data.check_out):
        return True
    if _kind(data) == Booking.Kind.BLOCK:
        return False
    wanted = {**_details(data), **platform_details(data).model_fields()}
    if any(getattr(existing, field) != value for field, value in wanted.items()):
        return True
    return data.total_amount is not None and existing.total_amount != data.total_amount


# --- iCal feeds -------------------------------------------------------------------------------
#
# A feed is a snapshot: every poll reads all of it. Three things make real feeds safe to apply:
#
# - A closure longer than the PMS holds as one stay (Booking.com exports "CLOSED - Not available"
#   events of 500+ nights) is clipped to the sync window, the nights we keep platforms in step with.
# - An event that cannot be read, or that the PMS refuses, fails only itself: it is reported on the
#   poll's sync log and counted, its block (if we hold one) is kept, and the rest of the feed applies.
# - A feed that suddenly loses most of its blocks (Airbnb serves an empty calendar for a moment) does
#   not release their nights: the removal is held until the next poll sees the same feed again or
#   staff confirm it. Additions and modifications in that feed still apply.

ICAL_INVALID = "invalid"  # an event we could not read or the PMS refused (counted, reported, kept)
ICAL_OUTSIDE_WINDOW = "outside_window"  # a long closure with no night inside the sync window
ICAL_REMOVED = "removed"
ICAL_HELD = "held"  # removals held back as a suspected feed glitch
ICAL_ECHO = "echo"  # an event echoing our own export back (``_ical_echo``): not a block of its own
# How a platform's export names nights it only blocks (Airbnb "Airbnb (Not available)", Booking.com
# "CLOSED - Not available", "Blocked"), as opposed to its own reservations ("Reserved").
ICAL_BLOCKED_SUMMARY = re.compile(r"not available|unavailable|blocked|closed", re.IGNORECASE)
# Holding a partial loss only makes sense once a feed holds this many upcoming blocks (see below).
ICAL_HOLD_MIN_BLOCKS = 4


def ical_removal_is_suspicious(*, lost: int, held: int) -> bool:
    """Whether losing ``lost`` of the ``held`` upcoming blocks at once looks like the feed glitching
    rather than the host reopening nights. Two cases are held:

    - the feed lost **every** upcoming block we hold from it (at least one). That is what an empty
      feed does, and an empty calendar for a moment is the known Airbnb glitch; releasing those
      nights would let other platforms sell them while the stays are still real.
    - the feed lost **more than half** of them while we hold at least ``ICAL_HOLD_MIN_BLOCKS`` (4).
      Hosts cancel or move stays one or two at a time; half a calendar vanishing at once is a
      truncated or broken export. Below 4 blocks "more than half" is one or two stays, which is an
      ordinary change, so it applies at once.

    Anything less (one of many) applies at once. "Upcoming" means closing a night from the property's
    today on: a block wholly in the past releases nothing anyone can book, and feeds drop those as
    they age, so past blocks leaving the feed do not count towards the threshold (when a removal is
    held, the whole removal is held, past blocks included, so the next poll compares like with like).
    Holding costs one poll interval (15 minutes by default) before a real mass removal applies, or a
    staff confirmation.
    """
    if lost <= 0:
        return False
    if lost >= held:
        return True
    return held >= ICAL_HOLD_MIN_BLOCKS and lost * 2 > held


CLIP_MARK = "~"  # between a clipped closure's feed version and its clip


def ical_clip(data: BookingData, window: tuple[dt.date, dt.date]) -> BookingData | None:
    """The nights of a feed event we store, or None when it has none in the sync window.

    An event the PMS can hold whole (at most ``MAX_STAY_NIGHTS``) is stored whole, past nights and
    all, as every other import does. A longer one is clipped to ``window`` (the push window: the
    property's today up to ``SYNC_WINDOW_DAYS`` ahead), the nights we keep platforms in step with.

    The clip is part of the version (``<feed version>~<start>-<end>``): the same feed re-read on the
    same day is the same version (no change), and when the window moves, either way, the block moves
    with it: staleness compares the feed's own part only (``_stale``).
    """
    if (data.check_out - data.check_in).days <= settings.MAX_STAY_NIGHTS:
        return data
    start, end = max(data.check_in, window[0]), min(data.check_out, window[1])
    if end <= start:
        return None
    return replace(data, check_in=start, check_out=end, version=f"{data.version}{CLIP_MARK}{start:%Y%m%d}-{end:%Y%m%d}")


def _ical_echo(
    connection: ChannelConnection, data: BookingData, channel_id: str, before: dict, blocks: Collection[str]
) -> bool:
    """Whether a feed event echoes our own export back: a platform that imports our export blocks those
    nights and shows them in its own export, which this feed may be. Imported, the echo held the nights
    of a stay cancelled here for good (our export showed the echo, the platform kept it, we kept it), and
    every stay turned into an overbooking with its own echo.

    An echo: an event this feed holds no block for, named as a blocked night (``ICAL_BLOCKED_SUMMARY``),
    each of whose nights an active stay or block from elsewhere holds; then, while it stays in the feed
    with the same nights, whatever happens to what it echoed (``before``: the feed's echoes so far). An
    event whose nights change is judged again. One the platform sold (its own guest) is named as such.
    ``blocks``: the channel ids of this feed's live blocks (``ical_blocks``), read once per poll."""
    uid = data.channel_booking_id
    if before.get(uid) == [data.check_in.isoformat(), data.check_out.isoformat()]:
        return True
    if not ICAL_BLOCKED_SUMMARY.search(data.raw_status or ""):
        return False
    if channel_id in blocks:
        return False  # a block of this feed already: it changes as the feed says
    holders = (
        Booking.objects.active()
        .filter(unit_id=connection.unit_id, check_in__lt=data.check_out, check_out__gt=data.check_in)
        .exclude(pk__in=ical_blocks(connection).values("pk"))
        .values_list("check_in", "check_out")
    )
    held = set()
    for start, end in holders:
        held.update(start + dt.timedelta(days=i) for i in range((end - start).days))
    # Stop-sold nights too: our export shows them closed (``ical_export._stop_sell_events``), so a platform
    # importing it shows them back; taken for a block, that echo kept them closed after the stop-sell ended.
    held.update(
        CalendarDay.objects.filter(
            unit_id=connection.unit_id, stop_sell=True, date__gte=data.check_in, date__lt=data.check_out
        ).values_list("date", flat=True)
    )
    nights = (data.check_in + dt.timedelta(days=i) for i in range((data.check_out - data.check_in).days))
    return all(night in held for night in nights)


def _adopt_blocks_of_deleted_feed(connection: ChannelConnection) -> None:
    """Take over the live blocks of this unit's deleted connections to the same feed. Blocks are keyed by
    their connection (``channel_id_for``): a feed deleted and connected again imported each event a
    second time beside the old block, and when the host freed the nights only the new block was
    cancelled; the old one, read by no connection, kept the nights closed everywhere for good."""
    if adapter_class(connection.platform_type).booking_id_scope != BookingIdScope.CONNECTION:
        return
    former = [
        other.pk
        for other in ChannelConnection.objects.filter(
            unit_id=connection.unit_id, platform_type=connection.platform_type, status=ChannelConnection.Status.DELETED
        )
        if other.feed_url == connection.feed_url  # encrypted at rest: compared here, not in SQL
    ]
    if not former:
        return
    source = booking_source(connection)
    mine = set(ical_blocks(connection).values_list("channel_booking_id", flat=True))
    for other in former:
        prefix = f"{other}:"
        for booking in Booking.objects.active().filter(source=source, channel_booking_id__startswith=prefix):
            adopted = f"{connection.pk}:{booking.channel_booking_id[len(prefix) :]}"
            if adopted in mine:  # imported again already (before this took over): the old copy goes
                booking_cancel(booking=booking, actor=source, reason="its feed was connected again")
                continue
            booking_rename_channel_id(booking=booking, channel_booking_id=adopted)
            mine.add(adopted)
            log.info("feed connection %s took over block %s of deleted connection %s", connection.pk, booking.pk, other)


def ical_blocks(connection: ChannelConnection):
    """The blocks this connection's feed currently holds (anything not cancelled)."""
    held = Booking.objects.filter(source=booking_source(connection)).exclude(status=Booking.Status.CANCELLED)
    if adapter_class(connection.platform_type).booking_id_scope == BookingIdScope.CONNECTION:
        return held.filter(channel_booking_id__startswith=f"{connection.pk}:")
    # Ids unique on the whole platform carry no connection: the feed is the one of this unit.
    return held.filter(unit_id=connection.unit_id, channel_booking_id__isnull=False)


def _refusal(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc) or type(exc).__name__


def ical_snapshot_import(
    *,
    connection: ChannelConnection,
    page: BookingPage,
    hold_mass_removal: bool = True,
    problems: list[str] | None = None,
) -> dict[str, int]:
    """Apply one whole iCal feed: its events become blocks; blocks of this connection whose UID left
    the feed are cancelled, releasing their nights. Returns a count per action.

    Each event is imported in its own savepoint. An event the adapter could not read
    (``page.invalid``) or the PMS refuses is counted as ``invalid``, described in ``problems`` (the
    poll's sync log), and its UID keeps its block: it did not leave the feed. Closures longer than
    a stay are clipped to the sync window (``ical_clip``).

    ``hold_mass_removal`` (the default) holds a removal that ``ical_removal_is_suspicious`` until the
    next poll sees the same feed again or staff confirm it (``ical_hold_confirm``); the connection
    needs attention meanwhile and is still polled. Without it the snapshot applies as given.
    """
    counts: dict[str, int] = {}

    def count(action: str, n: int = 1) -> None:
        counts[action] = counts.get(action, 0) + n

    def invalid(uid: str, reason: str) -> None:
        metrics.BOOKINGS_IMPORTED.labels(connection.platform_type, ICAL_INVALID).inc()
        count(ICAL_INVALID)
        log.warning("feed connection %s: event skipped: %s", connection.pk, reason)
        if problems is not None:
            problems.append(reason[:300])

    window = sync_window(connection)
    today = window[0]
    _adopt_blocks_of_deleted_feed(connection)
    live = dict(ical_blocks(connection).values_list("channel_booking_id", "check_out"))
    held = {channel_id for channel_id, check_out in live.items() if check_out > today}
    echoes_before = ChannelConnection.objects.filter(pk=connection.pk).values_list("ical_echoes", flat=True).first()
    echoes_before, echoes = echoes_before or {}, {}
    ours = f"@{ical_uid_domain()}"
    seen: set[str] = set()
    kept: set[str] = set()  # UIDs of events that failed this poll: their blocks did not leave the feed
    for bad in getattr(page, "invalid", ()):
        if bad.uid:
            kept.add(channel_id_for(connection, bad.uid))
        invalid(bad.uid, bad.reason)
    for data in page.bookings:
        block = data if data.kind == "block" else _as_block(data)
        channel_id = booking_channel_id(connection, block)
        seen.add(channel_id)
        try:
            clipped = ical_clip(block, window)
        except TypeError as exc:  # dates missing altogether
            kept.add(channel_id)
            invalid(block.channel_booking_id, f"event {block.channel_booking_id}: {exc}")
            continue
        if clipped is None:
            count(ICAL_OUTSIDE_WINDOW)
            continue
        if block.channel_booking_id.endswith(ours):  # our own event, read back
            count(ICAL_ECHO)
            continue
        if _ical_echo(connection, clipped, channel_id, echoes_before, live):
            echoes[block.channel_booking_id] = [clipped.check_in.isoformat(), clipped.check_out.isoformat()]
            count(ICAL_ECHO)
            continue
        try:
            with transaction.atomic():  # a savepoint: a refused event rolls back alone
                _booking, action = booking_import(connection=connection, data=clipped, snapshot=True)
        except (ValidationError, DomainError, DataError, IntegrityError) as exc:
            kept.add(channel_id)
            invalid(block.channel_booking_id, f"event {block.channel_booking_id}: refused: {_refusal(exc)}")
            continue
        count(action)
    if page.is_snapshot and echoes != echoes_before:  # what left the feed is forgotten
        ChannelConnection.objects.filter(pk=connection.pk).update(ical_echoes=echoes)
    if page.is_snapshot:
        _ical_apply_removals(
            connection,
            keep=seen | kept,
            held=held,
            today=today,
            guard=hold_mass_removal,
            empty=not page.bookings and not getattr(page, "invalid", ()),
            count=count,
        )
    return counts


def _ical_apply_removals(
    connection, *, keep: set[str], held: set[str], today: dt.date, guard: bool, empty: bool, count
) -> None:
    gone = list(ical_blocks(connection).exclude(channel_booking_id__in=keep).order_by("check_in", "pk"))
    gone_ids = sorted(b.channel_booking_id for b in gone)
    lost = sum(1 for b in gone if b.check_out > today)
    with transaction.atomic():
        current = ChannelConnection.objects.select_for_update().get(pk=connection.pk)
        hold = current.ical_hold
        if guard and ical_removal_is_suspicious(lost=lost, held=len(held)):
            if hold and sorted(hold.get("bookings") or []) == gone_ids:
                log.info("feed connection %s: the next poll confirmed the held removal", connection.pk)
            else:
                _ical_hold(current, previous=hold, bookings=gone_ids, lost=lost, held=len(held), empty=empty)
                metrics.BOOKINGS_IMPORTED.labels(connection.platform_type, ICAL_HELD).inc(len(gone))
                count(ICAL_HELD, len(gone))
                return
        for booking in gone:
            booking_cancel(booking=booking, actor=booking_source(connection), reason="its event left the feed")
            metrics.BOOKINGS_IMPORTED.labels(connection.platform_type, ICAL_REMOVED).inc()
            count(ICAL_REMOVED)
        if hold:
            _ical_release(current, hold)


def _ical_hold(
    connection: ChannelConnection, *, previous: dict | None, bookings: list[str], lost: int, held: int, empty: bool
) -> None:
    blocks = f"{held} upcoming block{'s' if held != 1 else ''}"
    if empty:
        reason = f"the iCal feed came back empty and lost all {blocks} at once"
    elif lost >= held:
        reason = f"the iCal feed lost all {blocks} at once"
    else:
        reason = f"the iCal feed lost {lost} of {held} upcoming blocks at once"
    reason += "; kept them until the next poll shows the same feed or staff confirm the removal"
    # "flagged": this hold put the connection in needs-attention (from active), so resolving it puts
    # the connection back. A connection that needed attention for another reason keeps its status.
    flagged = connection.status == ChannelConnection.Status.ACTIVE or (
        bool(previous and previous.get("flagged")) and connection.status == ChannelConnection.Status.NEEDS_ATTENTION
    )
    connection.ical_hold = {
        "bookings": bookings,
        "lost": lost,
        "held": held,
        "reason": reason,
        "since": timezone.now().isoformat(),
        "flagged": flagged,
    }
    ChannelConnection.objects.filter(pk=connection.pk).update(ical_hold=connection.ical_hold, updated_at=timezone.now())
    if flagged:  # the feed is read fine: it needs a decision, not a repair, so its health is left alone
        connection_mark_needs_attention(connection_id=connection.pk, error=reason, unhealthy=False)
    log.warning("feed connection %s: %s", connection.pk, reason)


def _ical_release(connection: ChannelConnection, hold: dict) -> None:
    """Forget a hold; back to active if the hold alone had put the connection in needs-attention."""
    now = timezone.now()
    ChannelConnection.objects.filter(pk=connection.pk).update(ical_hold=None, updated_at=now)
    if hold.get("flagged"):
        connection_recover(connection_id=connection.pk)


def ical_hold_unflag(*, connection: ChannelConnection) -> None:
    """The connection needs attention for another reason now (a permanent failure): resolving the
    hold must not put it back to active, and the scheduler stops polling it as any other."""
    with transaction.atomic():
        current = ChannelConnection.objects.select_for_update().filter(pk=connection.pk).first()
        if current is not None and current.ical_hold and current.ical_hold.get("flagged"):
            hold = {**current.ical_hold, "flagged": False}
            ChannelConnection.objects.filter(pk=connection.pk).update(ical_hold=hold)


class HoldChanged(Exception):
    """The feed's held removal is not the one staff confirmed: a later poll replaced it."""


def ical_hold_stamp(hold: dict) -> str:
    """Names one held removal: when it was held and which blocks. A later poll holding another removal
    (the feed came back empty after losing 9 of 14) gives another stamp."""
    named = json.dumps([hold.get("since"), sorted(hold.get("bookings") or [])])
    return hashlib.sha256(named.encode()).hexdigest()[:16]


def ical_hold_confirm(*, connection: ChannelConnection, actor: str = "staff", stamp: str | None = None) -> int | None:
    """Apply a held removal now (staff confirmed it): cancel the held blocks that are still live and
    forget the hold. Returns how many were cancelled, or None when nothing is held. ``stamp``: the hold
    staff were shown (``ical_hold_stamp``); if another is held by now, ``HoldChanged`` and nothing changes."""
    with transaction.atomic():
        current = ChannelConnection.objects.select_for_update().get(pk=connection.pk)
        hold = current.ical_hold
        if not hold:
            return None
        if stamp is not None and stamp != ical_hold_stamp(hold):
            raise HoldChanged(hold.get("reason", ""))
        removed = 0
        for booking in ical_blocks(current).filter(channel_booking_id__in=hold.get("bookings") or []):
            booking_cancel(booking=booking, actor=actor, reason="staff confirmed that its event left the feed")
            metrics.BOOKINGS_IMPORTED.labels(current.platform_type, ICAL_REMOVED).inc()
            removed += 1
        _ical_release(current, hold)
    return removed


def _as_block(data: BookingData) -> BookingData:
    return replace(data, kind="block")
