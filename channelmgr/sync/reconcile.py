"""Reconciliation: compare what each platform holds with the PMS, report drift, optionally fix it."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from adapters.base import BookingStatus, Capability, HotelRoomTypes
from adapters.registry import adapter_class
from channelmgr.accounts import sync_window
from channelmgr.inbound.events import connection_for_listing
from channelmgr.inbound.importer import booking_channel_id, booking_import, booking_source, moved_by_platform
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.price_rules import channel_price, rule_of
from channelmgr.resilience.guard import Backpressure
from channelmgr.resilience.platform_calls import platform_call
from channelmgr.services.connections_health import safe_message
from channelmgr.signals import drift_detected
from channelmgr.sync.outbound import mark_dirty
from pms_core.errors import DomainError
from pms_core.models import Booking
from pms_core.selectors import calendar_nights

log = logging.getLogger(__name__)

MAX_PAGES = 50
BUSY_RETRIES = 5
MAX_BUSY_WAIT_SECONDS = 10.0


@dataclass
class Drift:
    connection_id: int
    platform: str
    missing_in_pms: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    unpushed_nights: int = 0
    # Nights whose price on the platform is not what the push sends (the PMS price through the
    # connection's price rule); only where the platform answers what it holds (READ_PRICES).
    prices_differ: list[str] = field(default_factory=list)
    # Nights whose maximum stay on the platform is not what the push sends (READ_RESTRICTIONS).
    max_stays_differ: list[str] = field(default_factory=list)
    # Bookings of a hotel's room type that no unit holds (the pull refuses them too): staff must map it.
    unmapped: list[str] = field(default_factory=list)
    # Bookings ``--fix`` could not import (the PMS refused them: no nights, too long), with why.
    refused: list[str] = field(default_factory=list)
    # Bookings the platform offered that could not be read (a pull reports and skips them too): whether
    # they differ is unknown, so they count as drift for staff to look at.
    unreadable: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def total(self) -> int:
        return (
            len(self.missing_in_pms)
            + len(self.differs)
            + self.unpushed_nights
            + len(self.prices_differ)
            + len(self.max_stays_differ)
            + len(self.unmapped)
            + len(self.unreadable)
        )

    def describe(self) -> str:
        if self.error:
            return f"could not read the platform: {self.error}"
        parts = []
        if self.missing_in_pms:
            parts.append(
                f"{len(self.missing_in_pms)} booking(s) missing in the PMS: {', '.join(self.missing_in_pms[:5])}"
            )
        if self.differs:
            parts.append(f"{len(self.differs)} booking(s) differ: {', '.join(self.differs[:5])}")
        if self.unpushed_nights:
            parts.append(f"{self.unpushed_nights} night(s) not yet pushed")
        if self.prices_differ:
            parts.append(f"{len(self.prices_differ)} night(s) priced differently: {', '.join(self.prices_differ[:5])}")
        if self.max_stays_differ:
            shown = ", ".join(self.max_stays_differ[:5])
            parts.append(f"{len(self.max_stays_differ)} night(s) with another maximum stay: {shown}")
        if self.unmapped:
            parts.append(
                f"{len(self.unmapped)} booking(s) of a room type no unit holds: {', '.join(self.unmapped[:5])}"
            )
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} booking(s) that could not be read: {'; '.join(self.unreadable[:3])}")
        if self.refused:
            parts.append(f"{len(self.refused)} booking(s) the PMS refused: {'; '.join(self.refused[:3])}")
        return "; ".join(parts) or "in step"


def _politely(connection: ChannelConnection, call):
    """``call`` through the gateway, waiting politely when the limiter is full (reconcile runs rarely; a
    short wait is better than a gap in the report). A long wait (an open breaker) is reported instead."""
    for _ in range(BUSY_RETRIES):
        try:
            return platform_call(connection, call)
        except Backpressure as exc:
            if exc.delay_seconds > MAX_BUSY_WAIT_SECONDS:
                raise
            time.sleep(exc.delay_seconds)
    return platform_call(connection, call)


def _read_page(connection: ChannelConnection, cursor):
    return _politely(connection, lambda adapter: adapter.fetch_bookings(cursor=cursor))


def _prices_differ(connection: ChannelConnection, start: dt.date, end: dt.date) -> list[str]:
    """Nights of ``[start, end)`` whose price on the platform is not what our push sends: the PMS price
    through the connection's rule (``channel_price``). Nights still waiting for a price push are left
    out (they are counted as not yet pushed), and so are nights the platform holds no price for (a
    listing never pushed to: nothing to compare)."""
    held = _politely(connection, lambda adapter: adapter.fetch_prices(start=start, end=end))
    rule, currency = rule_of(connection), connection.unit.property.currency
    waiting = DirtyRange.objects.filter(connection=connection, kind=DirtyRange.Kind.PRICING)
    pending = list(waiting.filter(start__lt=end, end__gt=start).values_list("start", "end"))
    return [
        night.date.isoformat()
        for night in calendar_nights(unit=connection.unit, start=start, end=end)
        if night.date in held
        and night.price > 0
        and not any(s <= night.date < e for s, e in pending)
        and held[night.date] != channel_price(rule, night.price, currency)
    ]


def _max_stays_differ(connection: ChannelConnection, start: dt.date, end: dt.date) -> list[str]:
    """Nights of ``[start, end)`` whose maximum stay on the platform is not what our push sends (ours, or
    the platform's ceiling where ours is longer or unset). Nights still waiting for an availability push
    are left out (counted as not yet pushed), and so are nights the platform holds none for."""
    held = _politely(connection, lambda adapter: adapter.fetch_max_stays(start=start, end=end))
    ceiling = adapter_class(connection.platform_type).max_stay_ceiling
    waiting = DirtyRange.objects.filter(connection=connection, kind=DirtyRange.Kind.AVAILABILITY)
    pending = list(waiting.filter(start__lt=end, end__gt=start).values_list("start", "end"))
    return [
        night.date.isoformat()
        for night in calendar_nights(unit=connection.unit, start=start, end=end)
        if night.date in held
        and not any(s <= night.date < e for s, e in pending)
        and held[night.date] != min(night.max_stay or ceiling, ceiling)
    ]


def _platform_bookings(connection: ChannelConnection) -> tuple[list, list[str]]:
    """What the platform holds: the bookings it could read, and a description of each it could not."""
    bookings, unreadable, cursor = [], [], None
    for _ in range(MAX_PAGES):
        page = _read_page(connection, cursor)
        bookings.extend(page.bookings)
        unreadable.extend(page.unreadable)
        cursor = page.cursor
        if not cursor:
            break
    return bookings, unreadable


def reconcile_connection(*, connection: ChannelConnection, days: int, fix: bool) -> Drift:
    """Compare one connection; with ``fix``, import what is missing and mark its window dirty."""
    from adapters.base import PlatformAPIError

    drift = Drift(connection.pk, connection.platform_type)
    start, _end = sync_window(connection)
    end = start + dt.timedelta(days=days)
    try:
        remote, drift.unreadable = _platform_bookings(connection)
        remote = [b for b in remote if b.check_out > start and b.check_in < end]
    except PlatformAPIError as exc:
        drift.error = safe_message(connection, exc)
        return _remember(connection, drift)
    except Backpressure as exc:
        drift.error = f"platform busy ({exc.reason}); try again in {exc.delay_seconds:.0f}s"
        return _remember(connection, drift)
    # Held to close-outs, a connection is sent no prices and no restrictions until a person resumes it:
    # its values differ by design, and reporting them each day would bury the bookings' drift.
    values_sent = not connection.closeouts_only
    if values_sent and _reads_prices(connection):
        try:
            drift.prices_differ = _prices_differ(connection, start, min(end, _end))  # what we push
        except PlatformAPIError as exc:
            drift.error = f"could not read prices: {safe_message(connection, exc)}"
            return _remember(connection, drift)
        except Backpressure as exc:
            drift.error = f"platform busy ({exc.reason}); try again in {exc.delay_seconds:.0f}s"
            return _remember(connection, drift)
    if values_sent and _reads_max_stays(connection):
        try:
            drift.max_stays_differ = _max_stays_differ(connection, start, min(end, _end))
        except PlatformAPIError as exc:
            drift.error = f"could not read restrictions: {safe_message(connection, exc)}"
            return _remember(connection, drift)
        except Backpressure as exc:
            drift.error = f"platform busy ({exc.reason}); try again in {exc.delay_seconds:.0f}s"
            return _remember(connection, drift)
    # A hotel's queue holds every room's bookings: only this room's are compared (and fixed) here, routed
    # as a pull routes them; another room's are its own connection's, and an unmapped room's no unit's.
    routed = [(data, _held_by(connection, data)) for data in remote]
    drift.unmapped = [
        data.channel_booking_id for data, held in routed if held is None and data.status != BookingStatus.CANCELLED
    ]
    remote = [data for data, held in routed if held is not None and held.pk == connection.pk]
    source = booking_source(connection)
    for data in remote:
        # The id the importer stores: scoped by the connection where the platform's ids are unique
        # only within one (``BookingIdScope.CONNECTION``), so both name the same booking row.
        local = Booking.objects.filter(source=source, channel_booking_id=booking_channel_id(connection, data)).first()
        cancelled_there = data.status == BookingStatus.CANCELLED
        if local is None:
            if not cancelled_there:
                drift.missing_in_pms.append(data.channel_booking_id)
        elif cancelled_there and local.is_active:
            drift.differs.append(data.channel_booking_id)  # cancelled there, still holding nights here
        elif not cancelled_there and (
            not local.is_active
            or (local.check_in, local.check_out) != (data.check_in, data.check_out)
            or moved_by_platform(local, data, connection=connection)  # the guest is in this room now
        ):
            # Held there but not here (or other nights): an overbooked stay is active, so it holds too.
            drift.differs.append(data.channel_booking_id)
    # What a push would send: a held connection's prices wait for the resume, which pushes everything.
    for dirty in DirtyRange.objects.filter(DirtyRange.pushed(), connection=connection, start__lt=end, end__gt=start):
        drift.unpushed_nights += (min(dirty.end, end) - max(dirty.start, start)).days
    _remember(connection, drift)
    if drift.total:
        drift_detected.send(sender=ChannelConnection, connection=connection, drift=drift)
    if fix and drift.total:
        drift.refused = _fix(connection, remote, start, end)
        if drift.refused:
            _remember(connection, drift)
    return drift


def _held_by(connection: ChannelConnection, data) -> ChannelConnection | None:
    """The connection that holds a booking the platform listed for ``connection``, as a pull routes it
    (``polling._import_page``): on a hotel whose units are its room types, the connection of the room
    the booking names, or the hotel's; never a sibling room's, and None for a room no unit holds."""
    platform = adapter_class(connection.platform_type)
    if not issubclass(platform, HotelRoomTypes) or platform.booking_listing_key(data) == connection.listing_key:
        return connection
    return connection_for_listing(platform=connection.platform_type, listing_id=data.listing_id, booking=data)


def _remember(connection: ChannelConnection, drift: Drift) -> Drift:
    """Keep what this reconcile found on the connection: the staff home shows the last one."""
    ChannelConnection.objects.filter(pk=connection.pk).update(
        last_reconcile_at=timezone.now(),
        last_reconcile={"total": drift.total, "error": drift.error, "describe": drift.describe()},
    )
    return drift


def _reads_prices(connection: ChannelConnection) -> bool:
    capabilities = adapter_class(connection.platform_type).capabilities
    return Capability.READ_PRICES in capabilities and Capability.PUSH_PRICING in capabilities


def _reads_max_stays(connection: ChannelConnection) -> bool:
    capabilities = adapter_class(connection.platform_type).capabilities
    return Capability.READ_RESTRICTIONS in capabilities and Capability.PUSH_MAX_STAY in capabilities


def _fix(connection, remote, start, end) -> list[str]:
    """Import what the platform holds and push the window again; returns the bookings the PMS refused.
    A refused booking is that booking's problem, as in a pull: the others, the re-push and the later
    connections are still repaired."""
    refused = []
    for data in remote:
        try:
            with transaction.atomic():  # a savepoint: a refused booking rolls back alone
                booking_import(connection=connection, data=data)
        except (ValidationError, DomainError, DataError, IntegrityError) as exc:
            log.warning(
                "reconcile of connection %s: booking %s refused: %s", connection.pk, data.channel_booking_id, exc
            )
            refused.append(f"{data.channel_booking_id}: {exc}"[:300])
    kinds = [kind for kind in (DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING) if connection.receives(kind)]
    mark_dirty(connection=connection, kinds=kinds, start=start, end=end)
    return refused
