"""Bookings a platform wants acknowledged (``Capability.ACKNOWLEDGE``: Booking.com, Expedia), and which of
them still are not.

An unacknowledged reservation is offered again on every pull, and Booking.com falls back to e-mailing
the property after 30 minutes: staff see the pending ones on the staff home and are alerted about old
ones. The importer records each delivery as pending (``acknowledgement_expect``); a successful
acknowledgement request marks them done (``acknowledgement_done``); a refused one keeps its error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from adapters.base import Capability
from adapters.registry import adapter_class
from channelmgr.models import BookingAcknowledgement, ChannelConnection

# Booking.com e-mails the property when a reservation is not acknowledged within this time.
FALLBACK_AFTER = dt.timedelta(minutes=30)


def acknowledges(connection: ChannelConnection) -> bool:
    return Capability.ACKNOWLEDGE in adapter_class(connection.platform_type).capabilities


def acknowledgement_expect(*, connection: ChannelConnection, booking_id: int) -> None:
    """Record that the platform now waits for an acknowledgement of this booking (a new delivery of a
    booking already acknowledged makes it pending again). No-op for platforms that want none."""
    if not acknowledges(connection):
        return
    BookingAcknowledgement.objects.update_or_create(
        connection=connection,
        booking_id=booking_id,
        defaults={"received_at": timezone.now(), "acknowledged_at": None, "last_error": ""},
    )


def acknowledgement_done(*, booking_ids: Iterable[int]) -> int:
    """The platform accepted the acknowledgement of these bookings; returns how many were pending.
    (An account-wide pull acknowledges the bookings of several connections in one request.)"""
    return BookingAcknowledgement.objects.filter(booking_id__in=list(booking_ids), acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), last_error=""
    )


def acknowledgement_failed(*, booking_ids: Iterable[int], error: str) -> None:
    """The acknowledgement was refused or could not be sent: keep them pending, with why."""
    BookingAcknowledgement.objects.filter(booking_id__in=list(booking_ids), acknowledged_at__isnull=True).update(
        last_error=error[:2000]
    )


def unacknowledged_bookings(
    *, organization_id: int | None = None, older_than: dt.timedelta | None = None
) -> QuerySet[BookingAcknowledgement]:
    """Pending acknowledgements, oldest first, with their booking and connection loaded.

    ``organization_id`` scopes them to one tenant (None: every tenant); ``older_than`` keeps only those
    waiting at least that long (e.g. ``FALLBACK_AFTER`` for the alert). Deleted connections are left out.
    """
    pending = (
        BookingAcknowledgement.objects.filter(acknowledged_at__isnull=True)
        .exclude(connection__status=ChannelConnection.Status.DELETED)
        .select_related("booking__unit__property", "connection")
        .order_by("received_at", "pk")
    )
    if organization_id is not None:
        pending = pending.filter(connection__organization_id=organization_id)
    if older_than is not None:
        pending = pending.filter(received_at__lte=timezone.now() - older_than)
    return pending
