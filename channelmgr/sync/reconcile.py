"""Reconciliation: compare what each platform holds with the PMS, report drift, optionally fix it."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.utils import timezone

from adapters.base import BookingStatus
from channelmgr.accounts import sync_window
from channelmgr.inbound.importer import booking_channel_id, booking_import, booking_source
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.resilience.guard import Backpressure
from channelmgr.resilience.platform_calls import platform_call
from channelmgr.services.connections_health import safe_message
from channelmgr.signals import drift_detected
from channelmgr.sync.outbound import mark_dirty
from pms_core.models import Booking

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
    error: str = ""

    @property
    def total(self) -> int:
        return len(self.missing_in_pms) + len(self.differs) + self.unpushed_nights

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
        return "; ".join(parts) or "in step"


def _read_page(connection: ChannelConnection, cursor):
    """One page, waiting politely when the limiter is full (reconcile runs rarely; a short wait is
    better than a gap in the report). A long wait (an open breaker) is reported instead."""
    for _ in range(BUSY_RETRIES):
        try:
            return platform_call(connection, lambda adapter: adapter.fetch_bookings(cursor=cursor))
        except Backpressure as exc:
            if exc.delay_seconds > MAX_BUSY_WAIT_SECONDS:
                raise
            time.sleep(exc.delay_seconds)
    return platform_call(connection, lambda adapter: adapter.fetch_bookings(cursor=cursor))


def _platform_bookings(connection: ChannelConnection):
    bookings, cursor = [], None
    for _ in range(MAX_PAGES):
        page = _read_page(connection, cursor)
        bookings.extend(page.bookings)
        cursor = page.cursor
        if not cursor:
            break
    return bookings


def reconcile_connection(*, connection: ChannelConnection, days: int, fix: bool) -> Drift:
    """Compare one connection; with ``fix``, import what is missing and mark its window dirty."""
    from adapters.base import PlatformAPIError

    drift = Drift(connection.pk, connection.platform_type)
    start, _end = sync_window(connection)
    end = start + dt.timedelta(days=days)
    try:
        remote = [b for b in _platform_bookings(connection) if b.check_out > start and b.check_in < end]
    except PlatformAPIError as exc:
        drift.error = safe_message(connection, exc)
        return _remember(connection, drift)
    except Backpressure as exc:
        drift.error = f"platform busy ({exc.reason}); try again in {exc.delay_seconds:.0f}s"
        return _remember(connection, drift)
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
            not local.is_active or (local.check_in, local.check_out) != (data.check_in, data.check_out)
        ):
            # Held there but not here (or other nights): an overbooked stay is active, so it holds too.
            drift.differs.append(data.channel_booking_id)
    for dirty in DirtyRange.objects.filter(connection=connection, start__lt=end, end__gt=start):
        drift.unpushed_nights += (min(dirty.end, end) - max(dirty.start, start)).days
    _remember(connection, drift)
    if drift.total:
        drift_detected.send(sender=ChannelConnection, connection=connection, drift=drift)
    if fix and drift.total:
        _fix(connection, remote, start, end)
    return drift


def _remember(connection: ChannelConnection, drift: Drift) -> Drift:
    """Keep what this reconcile found on the connection: the staff home shows the last one."""
    ChannelConnection.objects.filter(pk=connection.pk).update(
        last_reconcile_at=timezone.now(),
        last_reconcile={"total": drift.total, "error": drift.error, "describe": drift.describe()},
    )
    return drift


def _fix(connection, remote, start, end) -> None:
    for data in remote:
        booking_import(connection=connection, data=data)
    mark_dirty(
        connection=connection, kinds=[DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING], start=start, end=end
    )
