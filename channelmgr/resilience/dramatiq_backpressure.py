"""Dramatiq's Retries middleware, except that ``Backpressure`` reschedules without spending a retry.

dramatiq issue #257: a ``Retry`` counts towards ``max_retries``, so a busy platform would dead-letter
updates. This middleware takes the place of ``dramatiq.middleware.Retries`` in the broker's list:
a message that raised ``Backpressure`` goes back on its queue after the exception's delay with its
options (and so its ``retries`` count) unchanged, and can never be dead-lettered that way. Every other
exception goes through dramatiq's own exponential backoff, capped by ``max_backoff``.

An actor with ``max_age`` (the AgeLimit middleware) still ages while it waits: our actors set none.
"""

from __future__ import annotations

from dramatiq.middleware import Retries

from channelmgr.resilience.errors import Backpressure

# Real failures: 1 s, 2 s, 4 s ... capped at 5 minutes, unless an actor sets its own.
DEFAULT_MIN_BACKOFF_MS = 1_000
DEFAULT_MAX_BACKOFF_MS = 300_000


class BackpressureRetries(Retries):
    def __init__(
        self, *, max_retries: int = 20, min_backoff=DEFAULT_MIN_BACKOFF_MS, max_backoff=DEFAULT_MAX_BACKOFF_MS, **kw
    ):
        super().__init__(max_retries=max_retries, min_backoff=min_backoff, max_backoff=max_backoff, **kw)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if isinstance(exception, Backpressure):
            self.logger.debug("Rescheduling message %r in %d ms: %s.", message.message_id, exception.delay, exception)
            broker.enqueue(message, delay=exception.delay)
            return
        super().after_process_message(broker, message, result=result, exception=exception)
