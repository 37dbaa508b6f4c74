"""Validation and clash detection shared by the booking and calendar services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from pms_core import metrics
from pms_core.models import Booking, BookingTransition, Unit

# SQLSTATE of an exclusion-constraint violation on Postgres.
EXCLUSION_VIOLATION = "23P01"

# The dates a stay can have: a PMS may hold history, and no platform keeps a calendar further ahead than the
# sync window may reach (SYNC_WINDOW_DAYS' ceiling in config/settings.py). Outside them is a platform's empty
# date (year 1 or 9999) or a typo: stored, it would hold nights no window ever shows, the real ones open.
EARLIEST_CHECK_IN = dt.date(2000, 1, 1)
HORIZON_DAYS = 1100


def validate_range(start: dt.date, end: dt.date, *, start_field="check_in", end_field="check_out", max_nights=None):
    """Raise ``ValidationError`` unless ``[start, end)`` is a non-empty range of at most ``max_nights``.
    Without ``max_nights`` the range is a stay (a booking or a block, imported or direct), of at most
    ``MAX_STAY_NIGHTS`` nights and on dates a stay can have (``validate_stay_dates``)."""
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise ValidationError({start_field: "dates are required"})
    if end <= start:
        raise ValidationError({end_field: f"{end_field} must be after {start_field}"})
    limit = max_nights or settings.MAX_STAY_NIGHTS
    if (end - start).days > limit:
        raise ValidationError({end_field: f"a range may span at most {limit} nights"})
    if max_nights is None:
        validate_stay_dates(start, end, start_field=start_field, end_field=end_field)


def validate_stay_dates(check_in: dt.date, check_out: dt.date, *, start_field="check_in", end_field="check_out"):
    """Refuse a stay from before ``EARLIEST_CHECK_IN`` or ending over ``HORIZON_DAYS`` ahead (a calendar
    range, prices and restrictions, is no stay and may go further)."""
    if check_in < EARLIEST_CHECK_IN:
        raise ValidationError({start_field: f"{start_field} must be on or after {EARLIEST_CHECK_IN}"})
    # A day's slack: a property's today (up to UTC+14) is a day ahead of the server's at most.
    latest = timezone.now().date() + dt.timedelta(days=HORIZON_DAYS + 1)
    if check_out > latest:
        why = f"today + {HORIZON_DAYS} days, the furthest the sync window reaches"
        raise ValidationError({end_field: f"{end_field} must be on or before {latest} ({why})"})


def validate_amount(value: Decimal | None, *, field: str) -> None:
    if value is not None and Decimal(value) < 0:
        raise ValidationError({field: "must not be negative"})


def lock_unit(unit: Unit) -> Unit:
    """Serialize writers of one unit's calendar (a row lock on Postgres; IMMEDIATE covers SQLite)."""
    return Unit.objects.select_for_update().get(pk=unit.pk)


def find_clash(*, unit_id: int, check_in: dt.date, check_out: dt.date, exclude_pk: int | None = None) -> Booking | None:
    """The first active stay or block (confirmed or overbooked) that holds a night of ``[check_in, check_out)``.

    Confirmed stays are named first: they are what a guest or staff member most needs to see.
    """
    qs = Booking.objects.active().overlapping(check_in, check_out).filter(unit_id=unit_id)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("status", "check_in", "pk").first()


def find_blocker(*, unit_id: int, check_in: dt.date, check_out: dt.date, stay: Booking | None = None) -> Booking | None:
    """What keeps ``stay`` (on ``[check_in, check_out)``) from being confirmed: a confirmed stay on those
    nights, or an overbooked one that started waiting before it (``overbooked_at``, then id). The earlier
    claim gets free nights first, so two overbookings that clash only with each other never wait for
    one another: the older one is confirmed and the newer one waits for it.

    A stay that is not waiting (``stay`` None, new, or without ``overbooked_at``) claims the nights now:
    every active stay on them came before it.
    """
    qs = Booking.objects.active().overlapping(check_in, check_out).filter(unit_id=unit_id)
    if stay is not None and stay.pk is not None:
        qs = qs.exclude(pk=stay.pk)
    if stay is not None and stay.overbooked_at is not None:
        earlier = Q(overbooked_at__lt=stay.overbooked_at) | Q(overbooked_at=stay.overbooked_at, pk__lt=stay.pk)
        qs = qs.filter(Q(status=Booking.Status.CONFIRMED) | earlier)
    return qs.order_by("status", "check_in", "pk").first()


def transition_record(
    *, booking: Booking, action: str, from_status: str, actor: str, reason: str = "", moved_from: Unit | None = None
) -> None:
    """Record who changed a booking's status (or decided on its overbooking), when and why, and count it.
    ``moved_from``: a move's unit of departure."""
    BookingTransition.objects.create(
        booking=booking,
        action=action,
        from_status=from_status or "",
        to_status=booking.status,
        actor=(actor or "system")[:150],
        reason=reason[:500],
        moved_from=moved_from,
    )
    metrics.BOOKING_TRANSITIONS.labels(action, booking.status).inc()


def is_exclusion_violation(exc: IntegrityError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == EXCLUSION_VIOLATION or "booking_no_overlapping_stays" in str(exc)
