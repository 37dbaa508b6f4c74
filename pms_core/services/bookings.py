"""Create, modify and cancel stays and blocks. No two confirmed stays on a unit share a night."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from pms_core.booking_details import PlatformDetails
from pms_core.errors import BookingClash
from pms_core.models import Booking, BookingTransition, OutboxEvent, Unit
from pms_core.outbox import outbox_record
from pms_core.services.stays import (
    find_blocker,
    find_clash,
    is_exclusion_violation,
    lock_unit,
    transition_record,
    validate_amount,
    validate_range,
)
from pms_core.signals import CANCELLED, CREATED, MODIFIED, OVERBOOKED, RESOLVED, booking_announce

Action = BookingTransition.Action

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
    actor: str = "system",
    platform_details: PlatformDetails | None = None,
) -> Booking:
    """Book ``[check_in, check_out)`` on ``unit``.

    Raises ``BookingClash`` if any active stay (confirmed or overbooked) holds one of the nights, unless
    ``overbook_on_clash`` (an import from a platform that already sold them): then the booking is stored
    as ``overbooked``. It holds its nights all the same, and staff see it until it is confirmed or resolved.
    Raises ``ValidationError`` for bad input. Back-to-back stays are allowed.
    """
    validate_range(check_in, check_out)
    validate_amount(total_amount, field="total_amount")
    if guests_count < 1:
        raise ValidationError({"guests_count": "must be at least 1"})
    details = platform_details.model_fields() if platform_details else {}
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
                overbooked_at=timezone.now() if clash else None,
                **details,
            )
        )
        confirmed = status == Booking.Status.CONFIRMED
        transition_record(
            booking=booking,
            action=Action.CREATED if confirmed else Action.OVERBOOKED,
            from_status="",
            actor=actor,
            reason="" if confirmed else _clash_reason(clash),
        )
        outbox_record(
            event_type=OutboxEvent.Type.BOOKING_CONFIRMED if confirmed else OutboxEvent.Type.BOOKING_OVERBOOKED,
            unit=unit,
            start=check_in,
            end=check_out,
            booking=booking,
            source=source,
        )
        booking_announce(booking=booking, change=CREATED if confirmed else OVERBOOKED, actor=actor)
    return booking


def _clash_reason(clash: Booking) -> str:
    return f"its nights are held by booking #{clash.pk} ({clash.source}, {clash.check_in}..{clash.check_out})"


def _added(old_in: dt.date, old_out: dt.date, new_in: dt.date, new_out: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The parts of ``[new_in, new_out)`` outside ``[old_in, old_out)``."""
    if new_out <= old_in or old_out <= new_in:
        return [(new_in, new_out)]
    return [(a, b) for a, b in ((new_in, min(new_out, old_in)), (max(new_in, old_out), new_out)) if a < b]


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
    actor: str = "system",
    platform_details: PlatformDetails | None = None,
) -> Booking:
    """Change a booking's dates or details (``platform_details``: None keeps what is stored). Moving a
    confirmed stay onto held nights raises ``BookingClash``, unless ``overbook_on_clash`` (a platform
    already moved its guest there): then it becomes ``overbooked``.

    An overbooked booking whose new dates are free becomes confirmed; one that still clashes stays
    overbooked (it came from a platform that sold those nights). Nights it releases may confirm other
    overbookings (``overbookings_settle``).
    """
    if total_amount is not _UNSET:
        validate_amount(total_amount, field="total_amount")
    details = platform_details.model_fields() if platform_details else {}
    with transaction.atomic():
        lock_unit(booking.unit)
        current = Booking.objects.select_for_update().get(pk=booking.pk)
        if current.status == Booking.Status.CANCELLED:
            raise ValidationError({"status": "a cancelled booking cannot be modified"})
        # The dates left out are the ones that hold under the lock, not the caller's (maybe stale) copy.
        new_in, new_out = check_in or current.check_in, check_out or current.check_out
        validate_range(new_in, new_out)
        old_in, old_out, old_status = current.check_in, current.check_out, current.status
        # Only nights the stay does not hold yet can clash: shortening never does.
        clash = next(
            filter(
                None,
                (
                    find_clash(unit_id=current.unit_id, check_in=start, check_out=end, exclude_pk=current.pk)
                    for start, end in _added(old_in, old_out, new_in, new_out)
                ),
            ),
            None,
        )
        if clash and old_status == Booking.Status.CONFIRMED and not overbook_on_clash:
            raise BookingClash(unit_id=current.unit_id, check_in=new_in, check_out=new_out, clash=clash)
        current.check_in, current.check_out = new_in, new_out
        if clash:
            # A claim on nights someone holds already: it waits behind every stay there.
            current.overbooked_at = timezone.now()
        blocker = (
            None
            if old_status == Booking.Status.CONFIRMED and not clash
            else find_blocker(unit_id=current.unit_id, check_in=new_in, check_out=new_out, stay=current)
        )
        current.status = Booking.Status.OVERBOOKED if blocker else Booking.Status.CONFIRMED
        current.clashes_with = blocker
        if blocker is None:
            current.overbooked_at = None
        if blocker is None or (old_in, old_out) != (new_in, new_out):
            current.overbooking_accepted_at = None  # what staff accepted was another clash
        for field, value in (
            ("guest_name", guest_name),
            ("guest_email", guest_email),
            ("guest_phone", guest_phone),
            ("guests_count", guests_count),
            ("total_amount", total_amount),
            ("note", note),
            *details.items(),
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
        if current.status != old_status:
            transition_record(
                booking=current,
                action=Action.OVERBOOKED if blocker else Action.REINSTATED,
                from_status=old_status,
                actor=actor,
                reason=_clash_reason(blocker) if blocker else f"moved to free nights {new_in}..{new_out}",
            )
        outbox_record(
            event_type=OutboxEvent.Type.BOOKING_MODIFIED,
            unit=current.unit,
            start=min(old_in, new_in),
            end=max(old_out, new_out),
            booking=current,
            source=current.source,
            payload={"ranges": [[old_in.isoformat(), old_out.isoformat()], [new_in.isoformat(), new_out.isoformat()]]},
        )
        booking_announce(booking=current, change=MODIFIED, actor=actor)
        if current.status != old_status:
            booking_announce(booking=current, change=OVERBOOKED if blocker else RESOLVED, actor=actor)
        if (old_in, old_out, old_status) != (new_in, new_out, current.status):
            overbookings_settle(unit=current.unit, actor=actor, reason=f"booking #{current.pk} was modified")
    return current


def booking_change_unit(*, booking: Booking, unit: Unit, actor: str, reason: str = "") -> Booking:
    """Put a live stay on ``unit``, on the same nights: its platform moved the guest there (a room change
    between a hotel's room types, each its own unit). The platform already sold those nights, so a clash
    there makes the stay overbooked (it waits for them, as any platform booking that clashes), never a
    refusal. The nights it leaves are released, and overbookings waiting for them may be confirmed.
    Both units' channels are told. Staff move a stay with ``overbooking_resolve`` (a move), not this."""
    with transaction.atomic():
        for unit_id in sorted({booking.unit_id, unit.pk}):  # id order, as every two-unit change locks
            lock_unit(Unit(pk=unit_id))
        current = Booking.objects.select_for_update().select_related("unit").get(pk=booking.pk)
        if not current.is_active:
            raise ValidationError({"status": f"a {current.status} booking cannot change units"})
        if current.unit_id == unit.pk:
            return current
        old_unit, old_status = current.unit, current.status
        current.unit = unit
        current.overbooked_at = None  # a claim on the new unit's nights starts now
        blocker = find_blocker(unit_id=unit.pk, check_in=current.check_in, check_out=current.check_out, stay=current)
        current.status = Booking.Status.OVERBOOKED if blocker else Booking.Status.CONFIRMED
        current.clashes_with = blocker
        current.overbooked_at = timezone.now() if blocker else None
        current.overbooking_accepted_at = None  # what staff accepted was a clash on the other unit
        current.save()
        transition_record(
            booking=current,
            action=Action.MOVED,
            from_status=old_status,
            actor=actor,
            reason=f"moved from {old_unit.name} to {unit.name}" + (f": {reason}" if reason else ""),
            moved_from=old_unit,
        )
        outbox_record_move(
            booking=current,
            old_unit=old_unit,
            taken=OutboxEvent.Type.BOOKING_OVERBOOKED if blocker else OutboxEvent.Type.BOOKING_CONFIRMED,
            source=current.source,
        )
        booking_announce(booking=current, change=MODIFIED, actor=actor)  # another unit
        if current.status != old_status:
            booking_announce(booking=current, change=OVERBOOKED if blocker else RESOLVED, actor=actor)
        overbookings_settle(unit=old_unit, actor=actor, reason=f"booking #{current.pk} moved to another unit")
    return current


def outbox_record_move(*, booking: Booking, old_unit: Unit, taken: str, source: str) -> None:
    """Tell both units' channels that ``booking`` moved off ``old_unit`` onto its unit: the old unit's
    nights are released (availability), the new unit's taken (``taken``: a confirmed or overbooked
    stay). ``source`` is who already knows the new unit's (the platform that moved its guest, or
    ``direct`` when staff moved it and no platform does)."""
    for unit, event_type in ((old_unit, OutboxEvent.Type.AVAILABILITY_UPDATED), (booking.unit, taken)):
        outbox_record(
            event_type=event_type,
            unit=unit,
            start=booking.check_in,
            end=booking.check_out,
            booking=booking,
            source=source,
            payload={"moved_from": old_unit.pk, "moved_to": booking.unit_id},
        )


def booking_split(*, booking: Booking, start: dt.date, end: dt.date, actor: str = "system") -> Booking:
    """Release ``[start, end)`` from the middle of a confirmed block: it keeps the nights before,
    and a new row (same kind, note and source) keeps the nights after. Returns that tail.

    The tail's nights were held all along, so it takes them over without a clash check: an overbooking
    that waited for the original waits for the tail now, rather than jumping the queue.
    """
    with transaction.atomic():
        lock_unit(booking.unit)
        current = Booking.objects.select_for_update().get(pk=booking.pk)
        if not (
            current.kind == Booking.Kind.BLOCK
            and current.status == Booking.Status.CONFIRMED
            and current.check_in < start < end < current.check_out
        ):
            raise ValidationError({"start": "must release nights strictly inside a confirmed block"})
        old_out = current.check_out
        current.check_out = start
        current.save(update_fields=["check_out", "updated_at"])
        tail = _insert(
            Booking(
                unit=current.unit,
                kind=current.kind,
                status=Booking.Status.CONFIRMED,
                check_in=end,
                check_out=old_out,
                note=current.note,
                currency=current.currency,
                source=current.source,
            )
        )
        transition_record(
            booking=tail, action=Action.CREATED, from_status="", actor=actor, reason=f"split from #{current.pk}"
        )
        outbox_record(
            event_type=OutboxEvent.Type.BOOKING_MODIFIED,
            unit=current.unit,
            start=start,
            end=end,
            booking=current,
            source=current.source,
        )
        booking_announce(booking=current, change=MODIFIED, actor=actor)
        booking_announce(booking=tail, change=CREATED, actor=actor)
        overbookings_settle(unit=current.unit, actor=actor, reason=f"#{current.pk} released {start}..{end}")
    return tail


def booking_cancel(
    *, booking: Booking, source_version: str | None = None, actor: str = "system", reason: str = ""
) -> Booking:
    """Cancel a booking and release its nights. Cancelling twice changes nothing.

    Overbookings waiting for the released nights are confirmed where they are free now.
    """
    with transaction.atomic():
        lock_unit(booking.unit)
        current = Booking.objects.select_for_update().get(pk=booking.pk)
        if current.status == Booking.Status.CANCELLED:
            return current
        old_status = current.status
        current.status = Booking.Status.CANCELLED
        if source_version is not None:
            current.source_version = source_version
        current.save(update_fields=["status", "source_version", "updated_at"])
        transition_record(booking=current, action=Action.CANCELLED, from_status=old_status, actor=actor, reason=reason)
        outbox_record(
            event_type=OutboxEvent.Type.BOOKING_CANCELLED,
            unit=current.unit,
            start=current.check_in,
            end=current.check_out,
            booking=current,
            source=current.source,
        )
        booking_announce(booking=current, change=CANCELLED, actor=actor)
        if old_status == Booking.Status.OVERBOOKED:
            booking_announce(booking=current, change=RESOLVED, actor=actor)
        overbookings_settle(unit=current.unit, actor=actor, reason=f"booking #{current.pk} was cancelled")
    return current


def overbookings_settle(*, unit: Unit, actor: str = "system", reason: str = "") -> list[Booking]:
    """Confirm every overbooking of ``unit`` whose nights are free now; returns those confirmed.

    Runs in the caller's transaction, under the unit's lock. Overbookings are taken in the order they
    started waiting, and one waits only for confirmed stays and earlier ones (``find_blocker``), so one pass
    reaches the fixed point: promoting one never frees or takes nights an older one waits for. One that
    still waits keeps pointing at what it waits for (``clashes_with``).
    """
    promoted = []
    waiting = Booking.objects.filter(unit=unit, status=Booking.Status.OVERBOOKED).order_by("overbooked_at", "pk")
    for stay in waiting.select_for_update():
        blocker = find_blocker(unit_id=unit.pk, check_in=stay.check_in, check_out=stay.check_out, stay=stay)
        if blocker is not None:
            if stay.clashes_with_id != blocker.pk:
                Booking.objects.filter(pk=stay.pk).update(clashes_with=blocker)
            continue
        stay.status = Booking.Status.CONFIRMED
        stay.clashes_with = None
        stay.overbooked_at = stay.overbooking_accepted_at = None
        try:
            with transaction.atomic():
                stay.save(
                    update_fields=["status", "clashes_with", "overbooked_at", "overbooking_accepted_at", "updated_at"]
                )
        except IntegrityError as exc:  # pragma: no cover - the blocker query above rules this out
            if is_exclusion_violation(exc):
                continue
            raise
        transition_record(
            booking=stay,
            action=Action.PROMOTED,
            from_status=Booking.Status.OVERBOOKED,
            actor=actor,
            reason=f"its nights are free: {reason}" if reason else "its nights are free",
        )
        outbox_record(
            event_type=OutboxEvent.Type.BOOKING_CONFIRMED,
            unit=unit,
            start=stay.check_in,
            end=stay.check_out,
            booking=stay,
            source=stay.source,
        )
        booking_announce(booking=stay, change=RESOLVED, actor=actor)
        promoted.append(stay)
    return promoted


# --- bookkeeping for imports from a platform ------------------------------------------------------
#
# A platform's copy of a booking can arrive cancelled, arrive again unchanged, or come back after it was
# cancelled. None of these changes which nights are held, so none records a transition or a domain event.


def booking_record_cancelled(
    *,
    unit: Unit,
    check_in: dt.date,
    check_out: dt.date,
    source: str,
    channel_booking_id: str,
    source_version: str = "",
    kind: str = Booking.Kind.RESERVATION,
    guest_name: str = "",
    guest_email: str = "",
    guest_phone: str = "",
    guests_count: int = 1,
    currency: str = "",
    platform_details: PlatformDetails | None = None,
) -> Booking:
    """Record a platform booking that was cancelled before we ever held it (or whose cancellation
    overtook its creation): a cancelled row that keeps the platform's version, so the older "created"
    copy arriving later is recognised as stale. It never held a night, so it records no transition and
    no domain event."""
    with transaction.atomic():
        lock_unit(unit)
        return Booking.objects.create(
            unit=unit,
            kind=kind,
            status=Booking.Status.CANCELLED,
            check_in=check_in,
            check_out=check_out,
            guest_name=guest_name,
            guest_email=guest_email,
            guest_phone=guest_phone,
            guests_count=guests_count,
            currency=currency or unit.property.currency,
            source=source,
            channel_booking_id=channel_booking_id,
            source_version=source_version,
            **(platform_details.model_fields() if platform_details else {}),
        )


def booking_retire_channel_id(*, booking: Booking) -> Booking:
    """Give up a cancelled booking's channel id, so a new booking of the same source can take it (the
    platform's booking is live again). The cancelled row keeps its history as ``<id>~retired-<pk>``.

    Raises ``ValidationError`` unless the booking is cancelled: a live one holds its id.
    """
    limit = Booking._meta.get_field("channel_booking_id").max_length
    with transaction.atomic():
        lock_unit(booking.unit)
        current = Booking.objects.select_for_update().get(pk=booking.pk)
        if current.status != Booking.Status.CANCELLED or not current.channel_booking_id:
            raise ValidationError({"channel_booking_id": "only a cancelled platform booking gives up its id"})
        # 24 characters leave room for the suffix whatever the id's length.
        current.channel_booking_id = f"{current.channel_booking_id[: limit - 24]}~retired-{current.pk}"
        Booking.objects.filter(pk=current.pk).update(channel_booking_id=current.channel_booking_id)
    return current


def booking_rename_channel_id(*, booking: Booking, channel_booking_id: str) -> Booking:
    """Give a platform booking another channel id of the same source (the channel manager re-keys a feed's
    blocks to the connection that now reads the feed). Bookkeeping only: no night changes, so no
    transition and no domain event. Raises ``ValidationError`` when the id is taken."""
    with transaction.atomic():
        if Booking.objects.filter(source=booking.source, channel_booking_id=channel_booking_id).exists():
            raise ValidationError({"channel_booking_id": "another booking of this source holds that id"})
        Booking.objects.filter(pk=booking.pk).update(channel_booking_id=channel_booking_id)
    booking.channel_booking_id = channel_booking_id
    return booking


def booking_record_version(*, booking: Booking, source_version: str) -> Booking:
    """Store the platform's newer version of a booking that did not otherwise change, so later copies
    are compared against it. Bookkeeping only: no night changes, so no transition and no domain event."""
    if source_version and source_version != booking.source_version:
        Booking.objects.filter(pk=booking.pk).update(source_version=source_version)
        booking.source_version = source_version
    return booking
