"""Record a connection's health after a platform answered, without ever storing a secret."""

from __future__ import annotations

import logging

from adapters.base import BookingNotFoundError, PlatformAPIError
from channelmgr.accounts import redact, secrets_of
from channelmgr.models import ChannelConnection

log = logging.getLogger(__name__)


def safe_message(connection: ChannelConnection, exc: BaseException | str) -> str:
    """The error text with every credential of the connection blanked out (for rows and logs)."""
    return redact(str(exc), secrets_of(connection))[:2000]


def connection_mark_needs_attention(*, connection_id: int, error: BaseException | str) -> bool:
    """Flag a connection a person must look at (a permanent platform error); False if it is gone or deleted.

    One queryset ``update()``: no read, no ``save()`` racing the sync engine's own updates.
    """
    updated = (
        ChannelConnection.objects.filter(pk=connection_id)
        .exclude(status=ChannelConnection.Status.DELETED)
        .update(status=ChannelConnection.Status.NEEDS_ATTENTION, last_error=str(error)[:2000], healthy=False)
    )
    return updated == 1


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
