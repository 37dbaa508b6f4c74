"""One platform request through the platform's circuit breaker and the account's rate limiter."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from adapters.base import PlatformAPIError
from channelmgr.resilience.breaker import breaker_for
from channelmgr.resilience.errors import Backpressure, CircuitOpenError
from channelmgr.resilience.limiter import limiter_for

__all__ = ["Backpressure", "guarded_call"]

T = TypeVar("T")
TOO_MANY_REQUESTS = 429


def guarded_call(
    *,
    platform: str,
    account: str,
    connection=None,
    fn: Callable[[], T],
    clock: Callable[[], float] = time.time,
    cache=None,
) -> T:
    """Run ``fn()`` (one platform request) if the breaker and the limiter allow it now.

    Raises ``Backpressure`` (never a failure: reschedule after ``delay_seconds``) when the breaker is
    open (delay: its remaining open time) or the limiter is full (delay: ``time_until_available()``).
    A ``PlatformAPIError`` from ``fn`` is counted by the breaker if transient and re-raised; a 429 also
    pauses the account's limiter in every process for its ``retry_after``, which the error always
    carries (the window when the platform gave none). Permanent errors are the caller's to record
    (``connection_mark_needs_attention``): a token the caller can refresh is permanent too.
    """
    breaker = breaker_for(platform, cache=cache, clock=clock)
    limiter = limiter_for(platform=platform, account=account, connection=connection, cache=cache, clock=clock)
    # The breaker goes first: an open breaker must not spend the limiter's capacity.
    try:
        admission = breaker.admit()
    except CircuitOpenError as exc:
        raise Backpressure(exc.retry_after, f"circuit_{exc.state}") from exc
    if not limiter.acquire(blocking=False):
        breaker.release(admission)
        raise Backpressure(limiter.time_until_available(), "rate_limited")
    try:
        result = fn()
    except PlatformAPIError as exc:
        if exc.status == TOO_MANY_REQUESTS:
            if exc.retry_after is None:
                exc.retry_after = limiter.window
            limiter.pause(exc.retry_after)
        breaker.record_failure(admission, exc)
        raise
    except BaseException as exc:
        breaker.record_failure(admission, exc)
        raise
    breaker.record_success(admission)
    return result
