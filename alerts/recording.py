"""Recording an alert: one row, in the transaction of the change that caused it.

Signal receivers run inside the booking's or the connection's transaction, with the unit's lock held:
recording is one INSERT in a savepoint, so an alert that cannot be recorded is logged and the import goes
on. The mail is sent after commit (``alerts.tasks``): nothing is mailed for a change that rolled back,
and no network call happens inside the transaction.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from alerts.models import Alert, AlertKind
from alerts.tasks import alert_mail_enqueue

log = logging.getLogger(__name__)


def alert_record(
    *, organization_id: int, kind: str, summary: str, details: str = "", link: str = "", key: str = ""
) -> Alert | None:
    """Record an alert; its mail goes out once the caller's transaction commits. Never raises.

    Returns None when it was not recorded: ``key`` was alerted before, or the insert failed (logged)."""
    try:
        with transaction.atomic():  # a savepoint: a failed insert leaves the caller's transaction usable
            if key and Alert.objects.filter(organization_id=organization_id, kind=kind, key=key).exists():
                return None
            alert = Alert.objects.create(
                organization_id=organization_id,
                kind=kind,
                key=key,
                summary=summary[:300],
                details=details,
                link=link[:300],
                created_at=timezone.now(),
            )
    except Exception:  # an alert must never break the change it reports
        log.exception("could not record a %s alert for organization %s: %s", kind, organization_id, summary)
        return None
    transaction.on_commit(lambda: alert_mail_enqueue(organization_id=organization_id, kind=kind))
    return alert


def _admin_path(name: str, pk: int) -> str:
    try:
        return reverse(f"admin:{name}_change", args=[pk])
    except NoReverseMatch:
        return ""


def _local(moment, tz: str) -> str:
    """A time in the property's timezone, with the zone named."""
    return timezone.localtime(moment, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def _stay(booking) -> str:
    unit = booking.unit
    return f"{unit.property.name} / {unit.name}, {booking.check_in:%a %d %b %Y} to {booking.check_out:%a %d %b %Y}"


def overbooking_alert_record(*, booking) -> Alert | None:
    guest = booking.guest_name or "no guest name"
    clash = f"#{booking.clashes_with_id}" if booking.clashes_with_id else "another stay"
    return alert_record(
        organization_id=booking.unit.property.organization_id,
        kind=AlertKind.OVERBOOKING,
        summary=f"Overbooking: #{booking.pk} {_stay(booking)}",
        details=(
            f"Booking #{booking.pk} from {booking.source} ({booking.channel_booking_id or 'direct'}, {guest}) holds "
            f"nights that {clash} holds too. Decide: cancel one side, move it to a free unit, or accept it."
        ),
        link=_admin_path("pms_core_booking", booking.pk),
    )


def connection_alert_record(*, connection, reason: str) -> Alert | None:
    unit = connection.unit
    platform = connection.get_platform_type_display()
    return alert_record(
        organization_id=connection.organization_id,
        kind=AlertKind.CONNECTION,
        summary=f"Connection needs attention: {platform} for {unit.property.name} / {unit.name}",
        details=(
            (
                f"The platform refused one of our values: {reason or 'no reason given'}. Nights booked elsewhere "
                "still close there; nothing else is sent (no prices, no nights opened). Fix the value, then resume "
                "the connection."
            )
            if connection.closeouts_only
            else (
                f"It stopped syncing: {reason or 'no reason given'}. Fix the cause (reconnect, correct the listing "
                "or the credentials), then test the connection and resume it."
            )
        ),
        link=_admin_path("channelmgr_channelconnection", connection.pk),
    )


def unacknowledged_key(acknowledgement) -> str:
    """Names one delivery still waiting: a new delivery of the booking is a new key, so it alerts again."""
    return f"acknowledgement:{acknowledgement.pk}:{acknowledgement.received_at.timestamp():.6f}"


def unacknowledged_alert_record(*, acknowledgement) -> Alert | None:
    """One alert per delivery a platform still waits to have acknowledged (a new delivery alerts again)."""
    booking, connection = acknowledgement.booking, acknowledgement.connection
    tz = booking.unit.property.timezone
    why = f" The last attempt failed: {acknowledgement.last_error}" if acknowledgement.last_error else ""
    return alert_record(
        organization_id=connection.organization_id,
        kind=AlertKind.UNACKNOWLEDGED,
        key=unacknowledged_key(acknowledgement),
        summary=f"Not acknowledged to {connection.get_platform_type_display()}: #{booking.pk} {_stay(booking)}",
        details=(
            f"Received {_local(acknowledgement.received_at, tz)} ({booking.channel_booking_id}) and not yet "
            f"acknowledged; the platform may fall back to e-mailing the property.{why}"
        ),
        link=_admin_path("pms_core_booking", booking.pk),
    )
