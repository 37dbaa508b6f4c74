"""Validation and clash detection shared by the booking and calendar services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from pms_core.models import Booking, Unit

# SQLSTATE of an exclusion-constraint violation on Postgres.
EXCLUSION_VIOLATION = "23P01"


def validate_range(start: dt.date, end: dt.date, *, start_field="check_in", end_field="check_out", max_nights=None):
    """Raise ``ValidationError`` unless ``[start, end)`` is a non-empty range of at most ``max_nights``."""
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise ValidationError({start_field: "dates are required"})
    if end <= start:
        raise ValidationError({end_field: f"{end_field} must be after {start_field}"})
    limit = max_nights or settings.MAX_STAY_NIGHTS
    if (end - start).days > limit:
        raise ValidationError({end_field: f"a range may span at most {limit} nights"})


def validate_amount(value: Decimal | None, *, field: str) -> None:
    if value is not None and Decimal(value) < 0:
        raise ValidationError({field: "must not be negative"})


def lock_unit(unit: Unit) -> Unit:
    """Serialize writers of one unit's calendar (a row lock on Postgres; IMMEDIATE covers SQLite)."""
    return Unit.objects.select_for_update().get(pk=unit.pk)


def find_clash(*, unit_id: int, check_in: dt.date, check_out: dt.date, exclude_pk: int | None = None) -> Booking | None:
    """The first confirmed stay or block that shares a night with ``[check_in, check_out)``."""
    qs = Booking.objects.filter(
        unit_id=unit_id, status=Booking.Status.CONFIRMED, check_in__lt=check_out, check_out__gt=check_in
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("check_in").first()


def is_exclusion_violation(exc: IntegrityError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == EXCLUSION_VIOLATION or "booking_no_overlapping_stays" in str(exc)
