"""One platform request through the platform's circuit breaker and the account's rate limiter."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

from adapters.base import Capability, PlatformAPIError
from adapters.registry import adapter_class
from channelmgr.resilience.breaker import Admission, CircuitBreaker, breaker_for
from channelmgr.resilience.errors import Backpressure, CircuitOpenError
from channelmgr.resilience.limiter import CONTENDED_RETRIES, RateLimiter, limiter_for
from channelmgr.resilience.limiter_redis import admit_together, is_redis, shared_client
from channelmgr.resilience.pacer import Pacer

__all__ = ["Backpressure", "Purpose", "guarded_call"]

log = logging.getLogger(__name__)
T = TypeVar("T")
TOO_MANY_REQUESTS = 429


class Purpose(StrEnum):
    """What a request is for, where a platform's one budget serves both (it pulls and is pushed to)."""

    PUSH = "push"  # availability and prices going out
    PULL = "pull"  # reading (and acknowledging) bookings
    # A catch-up poll behind a platform's webhooks (``Polling.catch_up``): it may take at most
    # ``CATCH_UP_SHARE`` of the limit, so a round of them over a host's listings never holds back a close-out.
    CATCH_UP = "catch_up"


# The share of a platform's limit kept free for each purpose, so neither starves the other: on
# Booking.com's 20 a minute, pushes may take at most 15 (5 stay for pulls) and pulls at most 10 (10
# stay for pushes). A purpose alone leaves the rest of its reserve unused; that is the price of a pull
# always finding a slot within a window, whatever backlog of pushes waits.
RESERVED_SHARE = {Purpose.PULL: 0.25, Purpose.PUSH: 0.5}
# Pushes are paced where a platform's window is long (window / cap >= 1 s: Booking.com, one every 4 s of
# its 15 a minute), on top of their share. The share alone let fifteen pushes go in the first seconds of a
# busy minute and left every later close-out waiting out the window (bench (b): p99 20-30 s); paced, a
# change waits at most one interval, and the next push carries every change since (a hotel's rooms go
# in one request). ``PACE_BURST`` go at once after a quiet spell, so an isolated booking is not held back
# by the one a few seconds before it. Pulls keep their burst: a ping's pull is what imports the booking.
PACED = frozenset({Purpose.PUSH})
CATCH_UP_SHARE = 0.25
PACE_MIN_INTERVAL_SECONDS = 1.0
PACE_BURST = 2


def purpose_cap(limit: int, purpose: Purpose) -> int:
    """The most grants ``purpose`` may take in one window of a shared ``limit``."""
    others = [share for other, share in RESERVED_SHARE.items() if other != purpose]
    return max(1, limit - sum(math.ceil(share * limit) for share in others))


def _shares_budget(platform: str) -> bool:
    """Pulls and pushes keep shares of the limit where the pull imports bookings: not where it only
    catches a lost webhook now and then (``Polling.catch_up``)."""
    cls = adapter_class(platform)
    pulls = Capability.PULL_BOOKINGS in cls.capabilities and not cls.catches_up()
    return pulls and Capability.PUSH_AVAILABILITY in cls.capabilities


def _share_limiter(limiter: RateLimiter, purpose: Purpose | None) -> RateLimiter | None:
    if purpose == Purpose.CATCH_UP:
        cap = max(1, math.floor(CATCH_UP_SHARE * limiter.limit))  # a cap, not a reserve: the rest is the pushes'
    elif purpose is not None and _shares_budget(limiter.platform):
        cap = purpose_cap(limiter.limit, purpose)
    else:
        return None
    return RateLimiter(
        f"{limiter.key}:{purpose}",
        cap,
        limiter.window,
        cache=limiter.cache,
        clock=limiter.clock,
        platform=limiter.platform,
        account=limiter.account,
    )


def _pacer(limiter: RateLimiter, purpose: Purpose | None) -> Pacer | None:
    if purpose not in PACED or not _shares_budget(limiter.platform):
        return None
    interval = limiter.window / purpose_cap(limiter.limit, purpose)
    if interval < PACE_MIN_INTERVAL_SECONDS:
        return None
    return Pacer(f"{limiter.key}:{purpose}:pace", interval, burst=PACE_BURST, cache=limiter.cache, clock=limiter.clock)


def pushes_paced(connection) -> bool:
    """True where this connection's pushes are paced (its account's push share leaves at least
    ``PACE_MIN_INTERVAL_SECONDS`` between pushes: Booking.com), so a push is worth waiting for."""
    try:
        if adapter_class(connection.platform_type).rate_limit is None:
            return False
        limiter = limiter_for(platform=connection.platform_type, account="", connection=connection)
    except (KeyError, ImproperlyConfigured) as exc:
        # Asked while a booking's changes are marked dirty on every connection of its unit: one bad
        # override must not hold back the others. Its own push reports the error.
        log.warning("connection %s: cannot tell whether its pushes are paced: %s", connection.pk, exc)
        return False
    return _pacer(limiter, Purpose.PUSH) is not None


def share_limiters(limiter: RateLimiter) -> list[RateLimiter | Pacer]:
    """The purpose shares and pacers drawn beside ``limiter`` (none on a platform that only pushes): to
    reset them too."""
    drawn = [each(limiter, purpose) for purpose in Purpose for each in (_share_limiter, _pacer)]
    return [one for one in drawn if one is not None]


def _admit_at_once(breaker: CircuitBreaker, drawn: list[tuple[RateLimiter, str]]) -> Admission | None:
    """On Redis, the breaker's check and a grant of every limiter in ``drawn`` in one round trip (one
    script: ``limiter_redis.admit_together``), all or none: a request otherwise paid a round trip for each.

    Raises ``Backpressure`` when a limiter is full. None: take the long way (``_admit_step_by_step``),
    which knows what to do when the breaker is not closed, the cache is not Redis or fails, or a busy
    process keeps giving its grants back."""
    logs = [one.redis_log for one, _reason in drawn]
    if any(log is None or log.redis is not logs[0].redis for log in logs) or not is_redis(breaker.cache):
        return None
    if shared_client(breaker.cache) is not logs[0].redis:
        return None
    keys = breaker.closed_keys()
    started = drawn[-1][0].clock()
    for _attempt in range(CONTENDED_RETRIES + 1):
        try:
            outcome = admit_together(logs, keys)
        except Exception:  # the long way has every fallback for a cache that fails
            return None
        if not outcome.breaker_closed:
            return None
        if outcome.granted:
            for (one, _reason), used in zip(drawn, outcome.used, strict=True):
                one.count_grant(used, one.clock() - started)
            return breaker.closed_admission(outcome.failures)
        if outcome.wait is not None:
            one, reason = drawn[outcome.refused_by]
            one.count_refusal()
            raise Backpressure(max(0.0, outcome.wait), reason)
    return None


def _admit_step_by_step(
    breaker: CircuitBreaker, pacer: Pacer | None, drawn: list[tuple[RateLimiter, str]], purpose: Purpose | None
) -> Admission:
    # The breaker goes first: an open breaker must not spend the limiter's capacity.
    try:
        admission = breaker.admit()
    except CircuitOpenError as exc:
        raise Backpressure(exc.retry_after, f"circuit_{exc.state}") from exc
    # The pacer first: its refusal costs no grant of the share's window, and its grant can be given back.
    if pacer is not None and not pacer.acquire():
        breaker.release(admission)
        raise Backpressure(pacer.time_until_available(), f"{purpose}_paced")
    for one, reason in drawn:
        if not one.acquire(blocking=False):
            breaker.release(admission)
            if pacer is not None:
                pacer.refund()
            raise Backpressure(one.time_until_available(), reason)
    return admission


def guarded_call(
    *,
    platform: str,
    account: str,
    connection=None,
    fn: Callable[[], T],
    clock: Callable[[], float] = time.time,
    cache=None,
    purpose: Purpose | None = None,
) -> T:
    """Run ``fn()`` (one platform request) if the breaker and the limiter allow it now.

    Raises ``Backpressure`` (never a failure: reschedule after ``delay_seconds``) when the breaker is
    open (delay: its remaining open time) or the limiter is full (delay: ``time_until_available()``).
    A ``PlatformAPIError`` from ``fn`` is counted by the breaker if transient and re-raised; a 429 also
    pauses the account's limiter in every process for its ``retry_after``, which the error always
    carries (the window when the platform gave none). Permanent errors are the caller's to record
    (``connection_mark_needs_attention``): a token the caller can refresh is permanent too.

    ``purpose``: on a platform that both pulls and is pushed to, the request also takes a grant of its
    purpose's share (``RESERVED_SHARE``), so a backlog of one never starves the other.
    """
    breaker = breaker_for(platform, cache=cache, clock=clock)
    limiter = limiter_for(platform=platform, account=account, connection=connection, cache=cache, clock=clock)
    pacer = _pacer(limiter, purpose)
    share = _share_limiter(limiter, purpose)
    drawn = [(one, reason) for one, reason in ((share, f"{purpose}_share_used"), (limiter, "rate_limited")) if one]
    admission = _admit_at_once(breaker, drawn) if pacer is None else None
    if admission is None:
        admission = _admit_step_by_step(breaker, pacer, drawn, purpose)
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
