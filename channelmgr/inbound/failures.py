"""Recording a failed platform call on the connection, without secrets."""

from __future__ import annotations

import logging

from adapters.base import BookingNotFoundError, PlatformAPIError
from channelmgr.accounts import redact, secrets_of
from channelmgr.models import ChannelConnection

log = logging.getLogger(__name__)


def safe_message(connection: ChannelConnection, exc: BaseException) -> str:
    """The error text with every credential of the connection blanked out (for rows and logs)."""
    return redact(str(exc), secrets_of(connection))[:2000]


def connection_record_failure(*, connection: ChannelConnection, exc: PlatformAPIError) -> None:
    """A permanent error means a person must fix the connection: mark it as needing attention.

    A booking the platform does not know is not the connection's fault, so it only sets ``last_error``.
    """
    fields: dict = {"last_error": safe_message(connection, exc)}
    if exc.permanent and not isinstance(exc, BookingNotFoundError):
        fields["status"] = ChannelConnection.Status.NEEDS_ATTENTION
        log.warning("connection %s needs attention: %s", connection.pk, fields["last_error"])
    ChannelConnection.objects.filter(pk=connection.pk).exclude(status=ChannelConnection.Status.DELETED).update(**fields)
