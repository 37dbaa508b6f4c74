"""An attempt counter per message, kept in the database.

Dramatiq counts retries in the message itself, so a worker killed mid-task gets its message redelivered
with the count unchanged (dramatiq #213) and a poison message could loop for ever. This counter sees
every delivery, whatever its route, and caps it at ``TASK_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from dramatiq.middleware import CurrentMessage

from channelmgr import metrics
from channelmgr.models import TaskAttempt

log = logging.getLogger(__name__)

# The actors whose deliveries are counted (their ``attempt_begin`` calls): their "given up" series exist
# at 0 from the start (``metrics.series_at_zero``), so the first one given up is seen by ``increase()``.
COUNTED_ACTORS = (
    "drain_channel_pushes",
    "import_platform_booking",
    "poll_connection",
    "refresh_connection_token",
    "run_sync_request",
)


def attempt_begin(*, actor_name: str, message_id: str | None = None) -> bool:
    """Count one delivery of the current message; False once it has used up its attempts."""
    if message_id is None:
        message = CurrentMessage.get_current_message()
        if message is None:  # called directly, not from a worker: nothing to cap
            return True
        message_id = message.message_id
    try:
        with transaction.atomic():
            TaskAttempt.objects.create(message_id=message_id, actor_name=actor_name, attempts=1)
        return True
    except IntegrityError:
        TaskAttempt.objects.filter(message_id=message_id).update(attempts=F("attempts") + 1)
    attempts = TaskAttempt.objects.filter(message_id=message_id).values_list("attempts", flat=True).first() or 0
    if attempts > settings.TASK_MAX_ATTEMPTS:
        log.error("%s message %s gave up after %s attempts", actor_name, message_id, attempts - 1)
        metrics.TASK_FAILURES.labels(actor_name, "attempts_exhausted").inc()
        return False
    return True


def attempt_failed(*, message_id: str | None, error: str) -> None:
    if message_id:
        TaskAttempt.objects.filter(message_id=message_id).update(last_error=error[:2000])


def attempt_refund() -> None:
    """A delivery that only met backpressure (limiter full, breaker open) is no failed attempt: give
    it back, so a long outage cannot use up a message's ``TASK_MAX_ATTEMPTS``."""
    message = CurrentMessage.get_current_message()
    if message is not None:
        TaskAttempt.objects.filter(message_id=message.message_id, attempts__gt=0).update(attempts=F("attempts") - 1)
