"""Create, modify and cancel stays and blocks. No two confirmed stays on a unit share a night."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from pms_core.errors import BookingClash
from pms_core.models import Booking, OutboxEvent, Unit
from pms_core.outbox import outbox_record
from pms_core.services.stays import find_clash, is_exclusion_violation, lock_unit, validate_amount, validate_range

_UNSET = object()


def booking_create(
    *,
    unit: Unit,
    check_in: dt.date,
    check_out: dt.date,
    kind: str = Booking.Kind.RESERVATION,
    guest_name: str = "",
    guest_email: str = "",
    guest_phone: str = "",
    guests_count: int = 1,
    total_amount: Decimal | None = None,
    currency: str = "",
    note: str = "",
    source: str = Booking.DIRECT,
    channel_booking_id: str | None = None,
    source_version: str = "",
    overbook_on_clash: bool = False,
) -> Booking:
    """Book ``[check_in, check_out)`` on ``unit``.

    Raises ``BookingClash`` if the nights are taken, unless ``overbook_on_clash`` (an import from a
    platform that already sold them): then the booking is stored as ``overbooked`` so staff see it.
    Raises ``ValidationError`` for bad input. Back-to-back stays are allowed.
    """
    validate_range(check_in, check_out)
    validate_amount(total_amount, field="total_amount")
    if guests_count < 1:
        raise ValidationError({"guests_count": "must be at least 1"})
    with transaction.atomic():
        lock_unit(unit)
        clash = find_clash(unit_id=unit.pk, check_in=check_in, check_out=check_out)
        if clash and not overbook_on_clash:
            raise BookingClash(unit_id=unit.pk, check_in=check_in, check_out=check_out, clash=clash)
        status = Booking.Status.OVERBOOKED if clash else Booking.Status.CONFIRMED
        booking = _insert(
            Booking(
                unit=unit,
                kind=kind,
                status=status,
                check_in=check_in,
                check_out=check_out,
                guest_name=guest_name,
                guest_email=guest_email,
                guest_phone=guest_phone,
                guests_count=guests_count,
                total_amount=total_amount,
                currency=currency or unit.property.currency,
                note=note,
                source=source,
                channel_booking_id=channel_booking_id,
                source_version=source_version,
                clashes_with=clash,
            )
        )
        if status == Booking.Status.CONFIRMED:
            outbox_record(
                event_type=OutboxEvent.Type.BOOKING_CONFIRMED,
                unit=unit,
                start=check_in,
                end=check_out,
                booking=booking,
                source=source,
            )
    return booking


def _insert(booking: Booking) -> Booking:
    try:
        with transaction.atomic():
            booking.save(force_insert=True)
    except IntegrityError as exc:
        # The database is the last word: the exclusion constraint caught a race the check missed.
        if is_exclusion_violation(exc):
            raise BookingClash(unit_id=booking.unit_id, check_in=booking.check_in, check_out=booking.check_out) from exc
        raise
    return booking


def booking_modify(
    *,
    booking: Booking,
    check_in: dt.date | None = None,
    check_out: dt.date | None = None,
    guest_name=_UNSET,
    guest_email=_UNSET,
    guest_phone=_UNSET,
    guests_count=_UNSET,
    total_amount=_UNSET,
    note=_UNSET,
    source_version: str | None = None,
    overbook_on_clash: bool = False,
) -> Booking:
    """Change a booking's dates or details. Moving onto taken nights raises ``BookingClash``, unless
    ``overbook_on_clash`` (a platform already moved its guest there): then it becomes ``overbooked``.

    An overbooked booking whose new dates are free becomes confirmed; one that still clashes stays
    overbooked (it came from a platform that sold those nights).
    """
    new_in = check_in or booking.check_in
    new_out = check_out or booking.check_out
    validate_range(new_in, new_out)
    if total_amount is not _UNSET:
        validate_amount(total_amount, field="total_amount")
    with transaction.atomic():
        lock_unit(booking.unit)
        current = Booking.objects.select_for_update().get(pk=booking.pk)
        if current.status == Booking.Status.CANCELLED:
            raise ValidationError({"status": "a cancelled booking cannot be modified"})
        old_in, old_out, old_status = current.check_in, current.check_out, current.status
        clash = find_clash(unit_id=current.unit_id, check_in=new_in, check_out=new_out, exclude_pk=current.pk)
        if clash and old_status == Booking.Status.CONFIRMED and not overbook_on_clash:
            raise BookingClash(unit_id=current.unit_id, check_in=new_in, check_out=new_out, clash=clash)
        current.check_in, current.check_out = new_in, new_out
        current.status = Booking.Status.OVERBOOKED if clash else Booking.Status.CONFIRMED
        current.clashes_with = clash
        for field, value in (
            ("guest_name", guest_name),
            ("guest_email", guest_email),
            ("guest_phone", guest_phone),
            ("guests_count", guests_count),
            ("total_amount", total_amount),
            ("note", note),
        ):
            if value is not _UNSET:
                setattr(current, field, value)
        if source_version is not None:
            current.source_version = source_version
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError as exc:
            if is_exclusion_violation(exc):
                raise BookingClash(unit_id=current.unit_id, check_in=new_in, check_out=new_out) from exc
            raise
        if current.status == Booking.Status.CONFIRMED or old_status == Booking.Status.CONFIRMED:
            outbox_record(
                event_type=OutboxEvent.Type.BOOKING_MODIFIED,
                unit=current.unit,
                start=min(old_in, new_in),
                end=max(old_out, new_out),
                booking=current,
                source=current.source,
                payload={
                    "ranges": [[old_in.isoformat(), old_out.isoformat()], [new_in.isoformat(), new_out.isoformat()]]
                },
            )
    return current


def booking_cancel(*, booking: Booking, source_version: str | None = None) -> Booking:
    """Cancel a booking and release its nights. Cancelling twice changes nothing."""
    with transaction.atomic():
        current = Booking.objects.select_for_update().get(pk=booking.pk)
        if current.status == Booking.Status.CANCELLED:
            return current
        was_confirmed = current.status == Booking.Status.CONFIRMED
        current.status = Booking.Status.CANCELLED
        if source_version is not None:
            current.source_version = source_version
        current.save(update_fields=["status", "source_version", "updated_at"])
        if was_confirmed:
            outbox_record(
                event_type=OutboxEvent.Type.BOOKING_CANCELLED,
                unit=current.unit,
                start=current.check_in,
                end=current.check_out,
                booking=current,
                source=current.source,
            )
    return current
