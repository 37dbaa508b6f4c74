"""Record a connection's health after a platform answered, without ever storing a secret."""

from __future__ import annotations

import logging

from adapters.base import BookingNotFoundError, PlatformAPIError
from channelmgr.accounts import redact, secrets_of
from channelmgr.models import ChannelConnection
from channelmgr.signals import connection_needs_attention

log = logging.getLogger(__name__)


def safe_message(connection: ChannelConnection, exc: BaseException | str) -> str:
    """The error text with every credential of the connection blanked out (for rows and logs)."""
    return redact(str(exc), secrets_of(connection))[:2000]


def connection_mark_needs_attention(*, connection_id: int, error: BaseException | str) -> bool:
    """Flag a connection a person must look at (a permanent platform error); False if it is gone or deleted.

    One queryset ``update()``: no read, no ``save()`` racing the sync engine's own updates.
    """
    reason = str(error)[:2000]
    live = ChannelConnection.objects.filter(pk=connection_id).exclude(status=ChannelConnection.Status.DELETED)
    # Two updates, so the transition into "needs attention" is told once, however often the error repeats.
    entered = live.exclude(status=ChannelConnection.Status.NEEDS_ATTENTION).update(
        status=ChannelConnection.Status.NEEDS_ATTENTION, last_error=reason, healthy=False
    )
    if entered:
        connection = ChannelConnection.objects.get(pk=connection_id)
        connection_needs_attention.send(sender=ChannelConnection, connection=connection, reason=reason)
        return True
    return live.update(last_error=reason, healthy=False) == 1


def connection_record_failure(*, connection: ChannelConnection, exc: PlatformAPIError) -> None:
    """A permanent error means a person must fix the connection: mark it as needing attention.

    A booking the platform does not know is not the connection's fault, and a transient error heals
    by itself: both only set ``last_error``.
    """
    message = safe_message(connection, exc)
    if exc.permanent and not isinstance(exc, BookingNotFoundError):
        log.warning("connection %s needs attention: %s", connection.pk, message)
        connection_mark_needs_attention(connection_id=connection.pk, error=message)
        return
    ChannelConnection.objects.filter(pk=connection.pk).exclude(status=ChannelConnection.Status.DELETED).update(
        last_error=message
    )
