"""Record a connection's health after a platform answered, without ever storing a secret."""

from __future__ import annotations

import logging

from django.db.models import Case, F, TextField, Value, When
from django.utils import timezone

from adapters.base import BookingNotFoundError, PlatformAPIError
from channelmgr.accounts import redact, secrets_of
from channelmgr.models import ChannelConnection
from channelmgr.signals import connection_needs_attention, connection_recovered

log = logging.getLogger(__name__)


def safe_message(connection: ChannelConnection, exc: BaseException | str) -> str:
    """The error text with every credential of the connection blanked out (for rows and logs)."""
    return redact(str(exc), secrets_of(connection))[:2000]


def connection_mark_needs_attention(
    *, connection_id: int, error: BaseException | str, unhealthy: bool = True, closeouts_only: bool = False
) -> bool:
    """Flag a connection a person must look at (a permanent platform error); False if it is gone or deleted.

    ``closeouts_only``: the platform refused one of our values for good (a price, a restriction), not the
    connection: it still gets close-outs (``ChannelConnection.closeouts_only``). It never narrows a
    connection already stopped whole; a refusal of a close-out itself widens a held one to whole, and
    that is told again: its close-outs have stopped.
    ``unhealthy=False`` for a decision that is not a failure (an iCal feed's held mass removal).
    One queryset ``update()`` a step: no read, no ``save()`` racing the sync engine's own updates.
    """
    reason = str(error)[:2000]
    health = {"healthy": False} if unhealthy else {}
    attention = ChannelConnection.Status.NEEDS_ATTENTION
    live = ChannelConnection.objects.filter(pk=connection_id).exclude(status=ChannelConnection.Status.DELETED)
    # Separate updates, so each transition is told once, however often the error repeats.
    entered = live.exclude(status=attention).update(
        status=attention, last_error=reason, closeouts_only=closeouts_only, **health
    )
    if not entered and not closeouts_only:
        entered = live.filter(status=attention, closeouts_only=True).update(
            closeouts_only=False, last_error=reason, **health
        )
    if entered:
        connection = ChannelConnection.objects.get(pk=connection_id)
        connection_needs_attention.send(sender=ChannelConnection, connection=connection, reason=reason)
        return True
    return live.update(last_error=reason, **health) == 1


def connection_recover(*, connection_id: int, whole_only: bool = False) -> bool:
    """Put a connection that needed attention back to active (a person fixed the cause, or the platform
    answered a test again) and tell the listeners; False if it did not need attention. ``whole_only``:
    only one stopped whole, not one held to close-outs (what fixed its credentials did not fix a value).

    Every transition out of "needs attention" goes through here, so ``connection_recovered`` is sent
    exactly once per recovery, however many callers race.
    """
    needing = ChannelConnection.objects.filter(pk=connection_id, status=ChannelConnection.Status.NEEDS_ATTENTION)
    if whole_only:
        needing = needing.filter(closeouts_only=False)
    now = timezone.now()
    left = needing.update(
        status=ChannelConnection.Status.ACTIVE, last_error="", closeouts_only=False, updated_at=now, resumed_at=now
    )
    if left:
        connection = ChannelConnection.objects.get(pk=connection_id)
        log.info("connection %s recovered", connection_id)
        connection_recovered.send(sender=ChannelConnection, connection=connection)
    return bool(left)


def connection_record_success(*, connection_id: int, **fields) -> None:
    """A push or poll the platform accepted: the connection works, so it reads as healthy. ``fields``
    are the bookkeeping columns the caller records with it (``last_push_at`` ...).

    A connection that needs attention stays unhealthy: a pull that works says nothing of the refused
    push that flagged it. It recovers through ``connection_recover`` (a re-test, a resume)."""
    connections_record_success(connection_ids=[connection_id], **fields)


def connections_record_success(*, connection_ids: list[int], **fields) -> None:
    """``connection_record_success`` of several connections, in one statement."""
    ChannelConnection.objects.filter(pk__in=connection_ids).exclude(
        status__in=[ChannelConnection.Status.DELETED, ChannelConnection.Status.NEEDS_ATTENTION]
    ).update(healthy=True, **fields)


def _last_error(message: str) -> Case:
    """``last_error`` becomes ``message``, except on a connection that needs attention: that one keeps the
    reason a person must act on (a refused value, bad credentials)."""
    attention = ChannelConnection.Status.NEEDS_ATTENTION
    return Case(When(status=attention, then=F("last_error")), default=Value(message), output_field=TextField())


def connections_record_pushed(*, connection_ids: list[int], now) -> None:
    """Pushes that went through: when, and no error left, except on a connection held to close-outs,
    which keeps the refusal that explains why (``closeouts_only``)."""
    ChannelConnection.objects.filter(pk__in=connection_ids).update(
        last_push_at=now, last_sync_at=now, last_error=_last_error("")
    )


def connection_record_failure(
    *, connection: ChannelConnection, exc: PlatformAPIError, closeouts_only: bool = False
) -> None:
    """A permanent error means a person must fix the connection: mark it as needing attention
    (``closeouts_only``: only our values were refused; see ``connection_mark_needs_attention``).

    A booking the platform does not know is not the connection's fault: it only sets ``last_error``. A
    transient error heals by itself: it sets ``last_error`` and reads as unhealthy until a success.
    """
    message = safe_message(connection, exc)
    if exc.permanent and not isinstance(exc, BookingNotFoundError):
        log.warning("connection %s needs attention: %s", connection.pk, message)
        connection_mark_needs_attention(connection_id=connection.pk, error=message, closeouts_only=closeouts_only)
        return
    # A transient failure heals by itself, but until then the connection does not work: unhealthy, with why.
    # One that needs attention keeps the error a person must act on (``_last_error``).
    unhealthy = {} if isinstance(exc, BookingNotFoundError) else {"healthy": False}
    ChannelConnection.objects.filter(pk=connection.pk).exclude(status=ChannelConnection.Status.DELETED).update(
        last_error=_last_error(message), **unhealthy
    )
