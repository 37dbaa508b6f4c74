"""Processing one stored ``InboundEvent``: fetch the booking (unless the webhook carried it), apply
it, acknowledge it where the platform wants that, and record the outcome on the event."""

from __future__ import annotations

import logging
import time
from functools import partial

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone

from adapters.base import BookingData, Capability, NotificationKind, PlatformAPIError
from adapters.registry import adapter_class
from channelmgr import metrics
from channelmgr.inbound.acknowledgements import acknowledgement_done, acknowledgement_expect, acknowledgement_failed
from channelmgr.inbound.events import connection_for_listing
from channelmgr.inbound.importer import ACKNOWLEDGEABLE, booking_import, versions_comparable
from channelmgr.inbound.payloads import notification_from_json
from channelmgr.inbound.polling import connection_poll, pull_covers
from channelmgr.models import ChannelConnection, InboundEvent, SyncLog
from channelmgr.resilience.guard import Backpressure, Purpose
from channelmgr.resilience.platform_calls import platform_call
from channelmgr.services.connections_health import connection_record_failure, safe_message
from channelmgr.services.sync_logs import sync_log_finish
from config.logging import correlation
from pms_core.errors import DomainError

log = logging.getLogger(__name__)

DONE = {InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED}


def inbound_event_mark(*, event_id: int, status: str, error: str = "") -> None:
    InboundEvent.objects.filter(pk=event_id).update(
        status=status, error=error[:2000], processed_at=timezone.now() if status in DONE else None
    )


def inbound_event_process(*, event_id: int) -> str:
    """Process one event; returns its final status. A processed or ignored event is left alone.

    Raises ``Backpressure`` and transient ``PlatformAPIError`` (the event stays ``received`` for the
    retry). Permanent errors and bookings the PMS refuses mark the event ``failed`` with the reason.
    """
    event = InboundEvent.objects.select_related("connection__unit__property").filter(pk=event_id).first()
    if event is None or event.status in DONE:
        return event.status if event else "missing"
    InboundEvent.objects.filter(pk=event_id).update(attempts=F("attempts") + 1)
    with correlation(event.correlation_id or None):
        notification = notification_from_json(event.payload)
        connection = event.connection
        if connection is None or connection.status == ChannelConnection.Status.DELETED:
            # Stored for a connection deleted since (and perhaps connected again): the listing's live one.
            connection = connection_for_listing(
                platform=event.platform,
                listing_id=notification.listing_id,
                booking=notification.booking,
                channel_booking_id=notification.channel_booking_id,
            )
        if connection is None:
            if event.connection_id is None:
                inbound_event_mark(event_id=event_id, status=InboundEvent.Status.IGNORED, error="no live connection")
                return InboundEvent.Status.IGNORED
            # It was ours when the platform sent it (and got its 2xx: it will not send it again): a booking
            # must not vanish with a deleted connection. Failed, staff see it, and a replay imports it once
            # the listing is connected again.
            inbound_event_mark(
                event_id=event_id,
                status=InboundEvent.Status.FAILED,
                error="its connection was deleted and no live connection holds the listing: connect it, then replay",
            )
            return InboundEvent.Status.FAILED
        if event.connection_id != connection.pk:
            InboundEvent.objects.filter(pk=event_id).update(connection=connection)
        if notification.kind == NotificationKind.IGNORED:
            inbound_event_mark(event_id=event_id, status=InboundEvent.Status.IGNORED, error="event type not handled")
            return InboundEvent.Status.IGNORED
        if notification.kind == NotificationKind.PULL_NOW:
            return _poll(event, connection)
        return _import(event, connection, notification)


def _poll(event: InboundEvent, connection: ChannelConnection) -> str:
    if pull_covers(connection=connection, since=event.received_at):
        inbound_event_mark(event_id=event.pk, status=InboundEvent.Status.PROCESSED, error="covered by a later pull")
        return InboundEvent.Status.PROCESSED
    result = connection_poll(connection=connection)
    if result.status == "failed":
        inbound_event_mark(event_id=event.pk, status=InboundEvent.Status.FAILED, error="poll failed (see sync log)")
        return InboundEvent.Status.FAILED
    inbound_event_mark(event_id=event.pk, status=InboundEvent.Status.PROCESSED)
    return InboundEvent.Status.PROCESSED


def _import(event: InboundEvent, connection: ChannelConnection, notification) -> str:
    sync_log = SyncLog.objects.create(
        connection=connection,
        direction=SyncLog.Direction.INBOUND,
        kind=SyncLog.Kind.BOOKINGS,
        correlation_id=event.correlation_id,
        details={"inbound_event": event.pk, "channel_booking_id": notification.channel_booking_id},
    )
    finish = partial(sync_log_finish, sync_log=sync_log, started=time.monotonic())
    requests = 0
    try:
        with metrics.track_sync_operation("import_booking", connection.platform_type):
            data = notification.booking
            if data is None:
                # Outside any transaction: the network must never hold database locks.
                data = platform_call(
                    connection, lambda a: a.fetch_booking(notification.channel_booking_id), purpose=Purpose.PULL
                )
                requests += 1
                _check_current(notification, data)
            booking, action = booking_import(connection=connection, data=data)
    except Backpressure as exc:
        finish(
            status=SyncLog.Status.SKIPPED, requests=requests, error=f"deferred {exc.delay_seconds:.1f}s: {exc.reason}"
        )
        raise
    except PlatformAPIError as exc:
        message = safe_message(connection, exc)
        finish(status=SyncLog.Status.FAILED, requests=requests, error=message)
        if not isinstance(exc, OlderCopyError):  # the platform answered: nothing is wrong with the connection
            connection_record_failure(connection=connection, exc=exc)
        if not exc.permanent:
            InboundEvent.objects.filter(pk=event.pk).update(error=message)
            raise
        inbound_event_mark(event_id=event.pk, status=InboundEvent.Status.FAILED, error=message)
        return InboundEvent.Status.FAILED
    except (ValidationError, DomainError) as exc:
        finish(status=SyncLog.Status.FAILED, requests=requests, error=str(exc))
        inbound_event_mark(event_id=event.pk, status=InboundEvent.Status.FAILED, error=f"refused by the PMS: {exc}")
        return InboundEvent.Status.FAILED
    except Exception as exc:
        finish(status=SyncLog.Status.FAILED, requests=requests, error=f"{type(exc).__name__}: {exc}")
        raise
    if action in ACKNOWLEDGEABLE and booking is not None:
        requests += _acknowledge(connection, data, booking.pk)
    finish(status=SyncLog.Status.SUCCESS, requests=requests, details={"action": action, "booking": booking.pk})
    inbound_event_mark(event_id=event.pk, status=InboundEvent.Status.PROCESSED)
    return InboundEvent.Status.PROCESSED


class OlderCopyError(PlatformAPIError):
    """The platform's read API answered an older copy of the booking than its webhook announced."""


def _check_current(notification, data: BookingData) -> None:
    """A platform's read API can lag behind its own webhook: asked for the booking a webhook announced at
    version 2 (a cancellation), it may still answer version 1. Applying that copy and marking the event
    processed would lose the change for good (nothing retries a processed event), so the import is
    retried, with the actor's backoff, until the copy is as new as the webhook said. A copy newer than
    announced is applied (the booking changed again meanwhile). Versions of one platform sort as strings
    (``BookingData.version``); a copy without one, or with another kind of version, cannot be compared
    and is applied."""
    if versions_comparable(data.version, notification.version) and data.version < notification.version:
        raise OlderCopyError(
            f"{notification.platform} answered version {data.version} of booking {notification.channel_booking_id}, "
            f"older than the {notification.version} its webhook announced: retried",
            permanent=False,
            code="older_copy",
        )


def _acknowledge(connection: ChannelConnection, data: BookingData, booking_id: int) -> int:
    """Confirm to a platform that wants it (Expedia BC). Best effort: the booking is already in, and
    the scheduled poll acknowledges whatever is still pending."""
    if Capability.ACKNOWLEDGE not in adapter_class(connection.platform_type).capabilities:
        return 0
    acknowledgement_expect(connection=connection, booking_id=booking_id)
    try:
        platform_call(connection, lambda a: a.acknowledge_bookings([(data, str(booking_id))]), purpose=Purpose.PULL)
    except (PlatformAPIError, Backpressure) as exc:
        log.warning("acknowledging %s booking %s deferred to the poll: %s", data.platform, data.channel_booking_id, exc)
        acknowledgement_failed(booking_ids=[booking_id], error=safe_message(connection, exc))
        return 1
    acknowledgement_done(booking_ids=[booking_id])
    return 1
