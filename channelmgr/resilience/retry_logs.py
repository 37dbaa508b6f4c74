"""One WARNING line, not an ERROR with a traceback, for a message that failed transiently and will be retried.

Dramatiq's worker logs every exception other than ``Retry`` as "Failed to process message ... with
unhandled exception" at ERROR with its traceback, before the retry middleware decides anything. For a
platform's 503 or a timeout that is routine: the message is retried with backoff and nobody needs to act.
This filter sits on the worker's logger (settings.LOGGING) and rewrites such a record into one WARNING line
naming the retry to come. The last try, and every other exception, keep dramatiq's ERROR and traceback.
"""

from __future__ import annotations

import logging

from adapters.base import PlatformAPIError

# The logger dramatiq's worker threads log processing failures on.
WORKER_LOGGER = "dramatiq.worker.WorkerThread"


def _retry_ahead(message) -> tuple[int, int] | None:
    """(the retry that follows, the message's retry limit), or None when none follows."""
    import dramatiq
    from dramatiq.middleware import Retries

    try:
        broker = dramatiq.get_broker()
        actor = broker.get_actor(message.actor_name)
        default = next((m.max_retries for m in broker.middleware if isinstance(m, Retries)), None)
        limit = message.options.get("max_retries", actor.options.get("max_retries", default))
        done = message.options.get("retries", 0)  # not yet counted up for this failure
    except Exception:  # an odd record (no actor, no options) keeps dramatiq's own line
        return None
    if limit is not None and done >= limit:
        return None
    return done + 1, limit


class TransientRetryLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.levelno < logging.ERROR or not isinstance(error, PlatformAPIError) or error.permanent:
            return True
        message = record.args[0] if isinstance(record.args, tuple) and record.args else None
        ahead = _retry_ahead(message) if message is not None else None
        if ahead is None:
            return True
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.msg = "%s failed with a transient platform error, retry %s of %s follows: %s"
        record.args = (message, *ahead, error)
        record.exc_info = record.exc_text = None
        return True
