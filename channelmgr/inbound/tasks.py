"""Inbound actors: import a webhook's booking, poll a connection (and acknowledge what a busy account's
pulls left), refresh an access token.

Thin and idempotent: each takes an id, counts the delivery with ``attempt_begin`` (a worker killed
mid-task gets its message redelivered outside dramatiq's retry count), and calls a service. A
redelivered import finds the booking row already committed and changes nothing.
"""

from __future__ import annotations

import logging
import time

import dramatiq
from django.conf import settings
from dramatiq.middleware import CurrentMessage

from adapters.base import PlatformAPIError, TokenRefreshError
from channelmgr.inbound.polling import acknowledgements_pending, connection_poll, token_refresh_due
from channelmgr.inbound.processing import inbound_event_mark, inbound_event_process
from channelmgr.models import ChannelConnection, InboundEvent, SyncLog
from channelmgr.resilience.attempts import attempt_begin, attempt_failed, attempt_refund
from channelmgr.resilience.guard import Backpressure
from channelmgr.resilience.platform_calls import token_refresh
from channelmgr.services.sync_logs import sync_log_finish
from config.logging import correlation

log = logging.getLogger(__name__)

IMPORT_RETRIES = 10


def _message_id() -> str | None:
    message = CurrentMessage.get_current_message()
    return message.message_id if message else None


def _last_try(max_retries: int) -> bool:
    """True when dramatiq will not retry this message again after a failure."""
    message = CurrentMessage.get_current_message()
    return message is not None and message.options.get("retries", 0) >= max_retries


@dramatiq.actor(queue_name="inbound", max_retries=IMPORT_RETRIES, min_backoff=1_000, max_backoff=300_000)
def import_platform_booking(inbound_event_id: int) -> None:
    """Apply the booking behind one stored webhook event (create, modify or cancel)."""
    if not attempt_begin(actor_name="import_platform_booking"):
        inbound_event_mark(
            event_id=inbound_event_id,
            status=InboundEvent.Status.FAILED,
            error=f"gave up after {settings.TASK_MAX_ATTEMPTS} attempts",
        )
        return
    try:
        inbound_event_process(event_id=inbound_event_id)
    except Backpressure:
        attempt_refund()
        raise  # re-enqueued after its delay by BackpressureRetries, retries untouched
    except PlatformAPIError as exc:
        attempt_failed(message_id=_message_id(), error=str(exc))
        if _last_try(IMPORT_RETRIES):
            inbound_event_mark(event_id=inbound_event_id, status=InboundEvent.Status.FAILED, error=str(exc))
        raise


@dramatiq.actor(queue_name="inbound", max_retries=3, min_backoff=5_000, max_backoff=60_000)
def poll_connection(connection_id: int) -> None:
    """Read a connection's new bookings from the platform, import and acknowledge them."""
    if not attempt_begin(actor_name="poll_connection"):
        return  # the next scheduled poll starts afresh
    with correlation(None):
        try:
            poll_connection_now(connection_id=connection_id)
        except Backpressure:
            attempt_refund()
            raise


@dramatiq.actor(queue_name="inbound", max_retries=3, min_backoff=5_000, max_backoff=60_000)
def acknowledge_pending(connection_id: int) -> None:
    """The pull that acknowledges what earlier pulls of a busy account read (``ACK_BATCH_SECONDS``):
    the platform offers it again, and this pull acknowledges it all. Nothing to do if one already has."""
    connection = ChannelConnection.objects.filter(pk=connection_id).first()
    if connection is None or not acknowledgements_pending(connection):
        return
    poll_connection(connection_id)


def poll_connection_now(*, connection_id: int, sync_log: SyncLog | None = None):
    """Poll inline (``run_sync_request`` and ``manage.py`` use this); None when the connection is not live."""
    connection = ChannelConnection.objects.select_related("unit__property").filter(pk=connection_id).first()
    if connection is None or connection.status in (
        ChannelConnection.Status.DELETED,
        ChannelConnection.Status.PAUSED,
    ):
        if sync_log is not None:
            sync_log_finish(
                sync_log=sync_log, status=SyncLog.Status.SKIPPED, started=time.monotonic(), error="connection not live"
            )
        return None
    return connection_poll(connection=connection, sync_log=sync_log)


@dramatiq.actor(queue_name="inbound", max_retries=5, min_backoff=2_000, max_backoff=120_000)
def refresh_connection_token(connection_id: int) -> None:
    """Refresh an OAuth access token before it expires. A refused refresh marks the connection
    ``needs_attention`` (a person has to reconnect) and is not retried."""
    if not attempt_begin(actor_name="refresh_connection_token"):
        return
    connection = ChannelConnection.objects.filter(ChannelConnection.credentials_work(), pk=connection_id).first()
    if connection is None or not token_refresh_due(connection):
        return  # gone, paused, or another worker refreshed it already
    try:
        # The token it found due: if another message refreshed it meanwhile, there is nothing to do.
        token_refresh(connection=connection, expired_token=connection.access_token)
    except Backpressure:
        attempt_refund()
        raise
    except TokenRefreshError as exc:
        log.warning("connection %s: token refresh refused: %s", connection_id, exc)


__all__ = ["import_platform_booking", "poll_connection", "poll_connection_now", "refresh_connection_token"]
