"""Apply a platform's booking to the PMS: create, modify or cancel, idempotently.

Idempotent per (source, channel booking id) and version: the booking row is unique per source and
channel id, and keeps the platform's version. A copy whose version is not newer than the stored one
is acknowledged and ignored, because platforms deliver out of order. Everything runs under the unit's
row lock (pms_core's writers take the same lock), so two workers importing the same booking queue
up instead of racing, and a redelivery after a killed worker finds the committed row and does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

from django.db import transaction

from adapters.base import BookingData, BookingPage, BookingStatus
from channelmgr import metrics
from channelmgr.models import ChannelConnection
from pms_core.models import Booking
from pms_core.services import booking_cancel, booking_create, booking_modify
from pms_core.services.calendar import calendar_block
from pms_core.services.stays import lock_unit

log = logging.getLogger(__name__)

ICAL = "ical"
CHANNEL_ID_MAX = 128


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
    """iCal UIDs are only unique within one feed, so they are scoped by the connection."""
    if connection.platform_type != ICAL:
        return data.channel_booking_id
    channel_id = f"{connection.pk}:{data.channel_booking_id}"
    if len(channel_id) > CHANNEL_ID_MAX:
        channel_id = f"{connection.pk}:sha256:{hashlib.sha256(data.channel_booking_id.encode()).hexdigest()}"
    return channel_id


def booking_import(*, connection: ChannelConnection, data: BookingData) -> tuple[Booking | None, str]:
    """Apply ``data`` to the connection's unit; returns the booking (None if nothing is held) and the action.

    A new booking that clashes with a confirmed stay is stored ``overbooked`` (counted in
    ``channel_manager_double_booking_attempts_total``), never dropped. Raises ``ValidationError`` for
    data the PMS refuses (an empty or overlong stay).
    """
    source = booking_source(connection)
    channel_id = booking_channel_id(connection, data)
    with transaction.atomic():
        lock_unit(connection.unit)
        existing = Booking.objects.select_for_update().filter(source=source, channel_booking_id=channel_id).first()
        if existing is None:
            booking, action = _create(connection, data, source=source, channel_id=channel_id)
        else:
            booking, action = _update(existing, data, connection=connection, channel_id=channel_id)
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
    return booking, action


def _create(connection, data: BookingData, *, source: str, channel_id: str) -> tuple[Booking | None, str]:
    if data.status == BookingStatus.CANCELLED:
        # Cancelled before we saw it (or the cancel overtook the create). A tombstone row keeps the
        # version, so the older "created" copy arriving later is recognised as stale. It closes no
        # nights, so there is no domain event to record.
        booking = Booking.objects.create(
            unit=connection.unit,
            kind=_kind(data),
            status=Booking.Status.CANCELLED,
            check_in=data.check_in,
            check_out=data.check_out,
            currency=data.currency or connection.unit.property.currency,
            source=source,
            channel_booking_id=channel_id,
            source_version=data.version,
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
            **_details(data),
        )
    return booking, Action.OVERBOOKED if booking.status == Booking.Status.OVERBOOKED else Action.CREATED


def _update(existing: Booking, data: BookingData, *, connection, channel_id: str) -> tuple[Booking, str]:
    if data.version and existing.source_version and data.version <= existing.source_version:
        return existing, Action.STALE
    if data.status == BookingStatus.CANCELLED:
        if existing.status == Booking.Status.CANCELLED:
            _record_version(existing, data.version)
            return existing, Action.UNCHANGED
        return booking_cancel(booking=existing, source_version=data.version or None), Action.CANCELLED
    if existing.status == Booking.Status.CANCELLED:
        return _reinstate(existing, data, connection=connection, channel_id=channel_id)
    if not _differs(existing, data):
        _record_version(existing, data.version)
        return existing, Action.UNCHANGED
    return _modify(existing, data, connection=connection)


def _modify(existing: Booking, data: BookingData, *, connection) -> tuple[Booking, str]:
    details = _details(data) if _kind(data) == Booking.Kind.RESERVATION else {}
    if data.total_amount is not None and _kind(data) == Booking.Kind.RESERVATION:
        details["total_amount"] = data.total_amount
    # The platform already moved its guest: if those nights are sold here, keep the stay as
    # overbooked for staff rather than refusing the platform's truth.
    booking = booking_modify(
        booking=existing,
        check_in=data.check_in,
        check_out=data.check_out,
        source_version=data.version or None,
        overbook_on_clash=True,
        **details,
    )
    if booking.status == Booking.Status.OVERBOOKED:
        return booking, Action.OVERBOOKED
    return booking, Action.MODIFIED


def _reinstate(existing: Booking, data: BookingData, *, connection, channel_id: str) -> tuple[Booking | None, str]:
    """A booking the platform cancelled is live again (an iCal block that came back after a feed
    glitch). The cancelled row keeps its history under a new id; a fresh booking takes the nights."""
    retired = f"{channel_id[: CHANNEL_ID_MAX - 24]}~retired-{existing.pk}"
    Booking.objects.filter(pk=existing.pk).update(channel_booking_id=retired)
    log.info("%s booking %s is live again after a cancellation", connection.platform_type, data.channel_booking_id)
    return _create(connection, data, source=existing.source, channel_id=channel_id)


def _record_version(existing: Booking, version: str) -> None:
    # Bookkeeping only (no nights change, so no domain event): later copies compare against it.
    if version and version != existing.source_version:
        Booking.objects.filter(pk=existing.pk).update(source_version=version)
        existing.source_version = version


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


def _differs(existing: Booking, data: BookingData) -> bool:
    if (existing.check_in, existing.check_out) != (data.check_in, data.check_out):
        return True
    if _kind(data) == Booking.Kind.BLOCK:
        return False
    wanted = _details(data)
    if any(getattr(existing, field) != value for field, value in wanted.items()):
        return True
    return data.total_amount is not None and existing.total_amount != data.total_amount


def ical_snapshot_import(*, connection: ChannelConnection, page: BookingPage) -> dict[str, int]:
    """Apply one whole iCal feed: its events become blocks; blocks of this connection whose UID left
    the feed are cancelled, releasing their nights. Returns a count per action."""
    counts: dict[str, int] = {}
    seen = set()
    for data in page.bookings:
        block = data if data.kind == "block" else _as_block(data)
        _booking, action = booking_import(connection=connection, data=block)
        seen.add(booking_channel_id(connection, block))
        counts[action] = counts.get(action, 0) + 1
    if page.is_snapshot:
        gone = (
            Booking.objects.filter(source=ICAL, channel_booking_id__startswith=f"{connection.pk}:")
            .exclude(status=Booking.Status.CANCELLED)
            .exclude(channel_booking_id__in=seen)
        )
        for booking in gone:
            booking_cancel(booking=booking)
            metrics.BOOKINGS_IMPORTED.labels(ICAL, "removed").inc()
            counts["removed"] = counts.get("removed", 0) + 1
    return counts


def _as_block(data: BookingData) -> BookingData:
    return replace(data, kind="block")
