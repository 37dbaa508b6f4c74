"""A correlation id that follows one change from the webhook through the import to every push."""

from __future__ import annotations

import contextvars
import logging
import uuid
from contextlib import contextmanager

_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")


def get_correlation_id() -> str:
    """The id of the change being handled; "" outside any (a scheduler pass, a shell)."""
    return _correlation_id.get()


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def correlation(correlation_id: str | None):
    """Run a block under ``correlation_id`` (a new one when None or empty)."""
    token = _correlation_id.set(correlation_id or new_correlation_id())
    try:
        yield _correlation_id.get()
    finally:
        _correlation_id.reset(token)


class CorrelationIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _correlation_id.get() or "-"  # a log line always shows the field
        return True
