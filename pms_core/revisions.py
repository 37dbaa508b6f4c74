"""The booking revision feed: every change of a booking, recorded with the change, read in order and
acknowledged one by one by a polling integrator (``GET /booking-revisions``, ``POST .../{id}/ack``).

A revision still unacknowledged ``OVERDUE_AFTER`` the change is overdue: counted in
``channel_manager_booking_revisions_unacknowledged`` (and ``booking_revisions_overdue`` lists them for
whoever alerts on them).
"""

from __future__ import annotations

import datetime as dt
import json

from django.db.models import QuerySet
from django.utils import timezone

from pms_core import metrics
from pms_core.models import Booking, BookingRevision

OVERDUE_AFTER = dt.timedelta(minutes=30)


def booking_snapshot(booking: Booking) -> dict:
    """The booking as the API shows it, as plain JSON (decimals and dates as the API renders them)."""
    from rest_framework.renderers import JSONRenderer

    from pms_core.api.bookings import BookingOutputSerializer  # the API's own shape, not a copy of it

    return json.loads(JSONRenderer().render(BookingOutputSerializer(booking).data))


def booking_revision_record(*, booking: Booking, change: str, actor: str) -> BookingRevision:
    """Record one change; call inside the change's transaction (it commits or rolls back with it)."""
    current = Booking.objects.select_related("unit__property").get(pk=booking.pk)  # as stored, not as held
    return BookingRevision.objects.create(
        organization_id=current.unit.property.organization_id,
        booking=current,
        change=change,
        actor=actor[:150],
        snapshot=booking_snapshot(current),
    )


def on_booking_changed(sender, *, booking, change: str, actor: str = "system", **kwargs) -> None:
    """Receiver of ``pms_core.signals.booking_changed`` (connected in ``PmsCoreConfig.ready``)."""
    booking_revision_record(booking=booking, change=change, actor=actor)


def booking_revision_acknowledge(*, revision: BookingRevision, actor: str) -> BookingRevision:
    """Acknowledge ``revision``; acknowledging it again changes nothing (the first time stays)."""
    BookingRevision.objects.filter(pk=revision.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=actor[:150]
    )
    revision.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    return revision


def booking_revisions_overdue(*, now: dt.datetime | None = None) -> QuerySet[BookingRevision]:
    """Revisions still unacknowledged ``OVERDUE_AFTER`` after their change, oldest first."""
    cutoff = (now or timezone.now()) - OVERDUE_AFTER
    return BookingRevision.objects.filter(acknowledged_at__isnull=True, created_at__lte=cutoff).order_by("id")


def revisions_overdue_gauge_update(*, now: dt.datetime | None = None) -> int:
    """Set the overdue gauge (the scheduler's gauge job calls this); returns the count."""
    count = booking_revisions_overdue(now=now).count()
    metrics.BOOKING_REVISIONS_UNACKNOWLEDGED.set(count)
    return count
