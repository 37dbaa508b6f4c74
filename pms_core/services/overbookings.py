"""Deciding on an overbooking: cancel either side, move the stay to a free unit, or accept it knowingly.

An overbooked stay holds its nights until it is confirmed (``overbookings_settle`` does that as soon as
its nights are free) or decided on here. Staff decide in the admin, integrators through
``POST /bookings/{id}/resolve``; both call ``overbooking_resolve``. Every decision is recorded (who,
when, why) as a ``BookingTransition`` and counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone

from pms_core.errors import BookingClash, DomainError
from pms_core.models import Booking, BookingTransition, OutboxEvent, Unit
from pms_core.services.bookings import booking_cancel, outbox_record_move, overbookings_settle
from pms_core.services.stays import find_clash, transition_record
from pms_core.signals import MODIFIED, RESOLVED, booking_announce


class Resolution(models.TextChoices):
    CANCEL = "cancel", "Cancel the overbooked stay"
    CANCEL_OTHER = "cancel_other", "Cancel the stay it clashes with"
    MOVE = "move", "Move it to a free unit of the same property"
    ACCEPT = "accept", "Accept the overbooking knowingly"


class NotOverbooked(DomainError):
    """Only an overbooked stay can be resolved."""


class ChangedSinceShown(DomainError):
    """The overbooking is no longer what the decision was made on (a platform moved the stay, another
    person decided): deciding again on what it is now is the person's call, not ours."""


NOT_SHOWN = object()  # ``shown_clash_id`` not given (None is "clashing with no stay we hold")


@dataclass(frozen=True)
class Shown:
    """What a page showed of an overbooking when a person decided on it (``overbooking_resolve``)."""

    updated_at: dt.datetime
    clash_id: int | None
    unit: Unit | None  # the unit a move goes to, as named on the page


def shown_read(*, booking: Booking, resolution: str, updated_at: str, clashes_with: str, unit: str) -> Shown:
    """``Shown`` from a form's text fields (the staff home's buttons, the booking list's confirmation page).
    Raises ``ValueError`` for a field that is not what a page would send."""
    clash_id = int(clashes_with) if clashes_with else None
    target = None
    if resolution == Resolution.MOVE and unit:
        target = Unit.objects.filter(pk=int(unit), property_id=booking.unit.property_id).first()
        if target is None:
            raise ValueError(f"unit {unit} is not a unit of this property")
    return Shown(dt.datetime.fromisoformat(updated_at), clash_id, target)


@dataclass(frozen=True)
class ResolveOutcome:
    booking: Booking  # the overbooked stay, as it is now
    cancelled: Booking | None  # the stay that was cancelled, if any
    # What staff still have to do on a platform: the PMS cannot cancel a platform's reservation there.
    platform_notice: str


def overbooking_resolve(
    *,
    booking: Booking,
    resolution: str,
    actor: str,
    reason: str = "",
    unit: Unit | None = None,
    shown_updated_at=None,
    shown_clash_id: int | None | object = NOT_SHOWN,
) -> ResolveOutcome:
    """Apply one decision to the overbooked ``booking``.

    ``shown_updated_at`` / ``shown_clash_id``: the booking as the person deciding saw it (its
    ``updated_at``, the stay it clashed with). A decision is about that stay and that clash: if either
    changed since (the platform moved the guest onto other nights, so "cancel the other" would cancel a
    guest never shown), it raises ``ChangedSinceShown`` and changes nothing.

    Raises ``NotOverbooked`` if it is not overbooked (or, for ``cancel_other``, clashes with nothing
    active), ``BookingClash`` if ``move`` finds the target unit's nights held, and ``ValueError`` for a
    missing or foreign target unit.
    """
    if resolution not in Resolution.values:
        raise ValueError(f"unknown resolution {resolution!r}")
    with transaction.atomic():
        # Both units of a move, always in id order, so two moves between the same units never deadlock.
        moving = unit.pk if resolution == Resolution.MOVE and unit is not None else None
        for unit_id in sorted({booking.unit_id, moving} - {None}):
            Unit.objects.select_for_update().get(pk=unit_id)
        current = Booking.objects.select_for_update().get(pk=booking.pk)
        if current.status != Booking.Status.OVERBOOKED:
            raise NotOverbooked(f"booking {current.pk} is {current.status}, not overbooked")
        if (shown_updated_at is not None and current.updated_at != shown_updated_at) or (
            shown_clash_id is not NOT_SHOWN and current.clashes_with_id != shown_clash_id
        ):
            clash = f"#{current.clashes_with_id}" if current.clashes_with_id else "an earlier stay"
            raise ChangedSinceShown(
                f"booking {current.pk} changed since it was shown (now {current.check_in}..{current.check_out}, "
                f"clashing with {clash}): look again and decide"
            )
        why = reason or Resolution(resolution).label
        if resolution == Resolution.CANCEL:
            cancelled = booking_cancel(booking=current, actor=actor, reason=f"overbooking resolved: {why}")
            return ResolveOutcome(cancelled, cancelled, _platform_notice(cancelled))
        if resolution == Resolution.CANCEL_OTHER:
            other = current.clashes_with
            if other is None or not other.is_active:
                raise NotOverbooked(f"booking {current.pk} clashes with no active stay to cancel")
            cancelled = booking_cancel(booking=other, actor=actor, reason=f"overbooking #{current.pk} resolved: {why}")
            current.refresh_from_db()
            return ResolveOutcome(current, cancelled, _platform_notice(cancelled))
        if resolution == Resolution.MOVE:
            moved = _move(current, unit, actor=actor, reason=why)
            notice = (
                f"Move reservation {moved.channel_booking_id} to {moved.unit.name} on {moved.source} too, if the "
                "platform lists that unit: the guest's booking there still names the old one."
                if moved.source != Booking.DIRECT
                else ""
            )
            return ResolveOutcome(moved, None, notice)
        current.overbooking_accepted_at = timezone.now()
        current.save(update_fields=["overbooking_accepted_at", "updated_at"])
        transition_record(
            booking=current,
            action=BookingTransition.Action.ACCEPTED,
            from_status=current.status,
            actor=actor,
            reason=why,
        )
        booking_announce(booking=current, change=RESOLVED, actor=actor)
        return ResolveOutcome(current, None, "")


def _move(current: Booking, target: Unit | None, *, actor: str, reason: str) -> Booking:
    if target is None:
        raise ValueError("a move needs the unit to move to")
    if target.property_id != current.unit.property_id or target.pk == current.unit_id:
        raise ValueError("the unit must be another unit of the same property")
    old_unit = current.unit
    clash = find_clash(unit_id=target.pk, check_in=current.check_in, check_out=current.check_out)
    if clash is not None:
        raise BookingClash(unit_id=target.pk, check_in=current.check_in, check_out=current.check_out, clash=clash)
    current.unit = target
    current.status = Booking.Status.CONFIRMED
    current.clashes_with = None
    current.overbooked_at = current.overbooking_accepted_at = None
    current.save(
        update_fields=["unit", "status", "clashes_with", "overbooked_at", "overbooking_accepted_at", "updated_at"]
    )
    transition_record(
        booking=current,
        action=BookingTransition.Action.MOVED,
        from_status=Booking.Status.OVERBOOKED,
        actor=actor,
        reason=f"moved from {old_unit.name} to {target.name}: {reason}",
        moved_from=old_unit,
    )
    # Staff made this change, so no platform already knows it: both units' channels are told.
    outbox_record_move(
        booking=current, old_unit=old_unit, taken=OutboxEvent.Type.BOOKING_CONFIRMED, source=Booking.DIRECT
    )
    booking_announce(booking=current, change=MODIFIED, actor=actor)  # another unit
    booking_announce(booking=current, change=RESOLVED, actor=actor)
    overbookings_settle(unit=old_unit, actor=actor, reason=f"booking #{current.pk} moved to another unit")
    return current


def _platform_notice(cancelled: Booking) -> str:
    if cancelled.source == Booking.DIRECT:
        return ""
    return (
        f"Cancel reservation {cancelled.channel_booking_id} on {cancelled.source} too: the platform still "
        "holds it, and it does not take cancellations from a channel manager."
    )
