"""A sliding-window rate limiter whose state lives in Redis (or Django's cache), shared by every process."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured

from adapters.registry import adapter_class, adapters, env_prefix
from channelmgr import metrics
from channelmgr.resilience.errors import Backpressure
from channelmgr.resilience.limiter_redis import RedisWindowLog, is_redis
from channelmgr.resilience.limiter_slots import CacheSlots

log = logging.getLogger(__name__)

# A grant counts for its window plus this margin, so a request leaving the process a little after its
# grant (a busy CPU, the GIL) still lands in the right window: 5% of the window, at most 500 ms.
DEFAULT_MARGIN_FRACTION = 0.05
DEFAULT_MARGIN_CAP = 0.5
# Used when the shared cache is down: one limiter per process instead of none (see RateLimiter).
_FALLBACK_CACHE = LocMemCache("channelmgr-limiter-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
_LOG_EVERY_SECONDS = 60.0
_last_warning: dict[str, float] = {}  # per limiter key: limiter_for() builds a limiter per call
# A contended attempt (a racing claim won, or this process stalled and gave its grant back) says
# nothing about capacity, so it is tried again at once, even by a non-blocking acquire(): refusing
# would hand the caller a wait of 0.0 while the platform is far below its limit.
CONTENDED_RETRIES = 5


class RateLimiter:
    """At most ``limit`` grants in any window of ``window_seconds``, across every process on the cache.

    A grant counts for its window plus a margin (see DEFAULT_MARGIN_FRACTION). The state lives in
    the cache: on Redis a sliding-window log that one Lua script call reads and updates atomically
    (limiter_redis.py), over any other Django cache slot tokens (limiter_slots.py, embedded mode). On
    Redis the window runs on the server's clock unless a clock is injected (``clock`` other than
    ``time.time``: tests, the bench).

    If the cache raises, the limiter falls back to a per-process local-memory limiter and logs a
    warning: syncing continues, each process still keeps the limit by itself, and the platform's own
    429s (which the breaker counts) bound the excess until the cache is back.
    """

    def __init__(
        self,
        key: str,
        limit: int,
        window_seconds: float,
        *,
        cache=None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        margin_seconds: float | None = None,
        platform: str = "",
        account: str = "",
    ):
        if limit <= 0:
            raise ImproperlyConfigured(f"rate limit for {key}: must be a positive integer, got {limit}")
        if window_seconds <= 0:
            raise ImproperlyConfigured(f"rate window for {key}: must be positive, got {window_seconds}")
        self.key = key
        self.limit = int(limit)
        self.window = float(window_seconds)
        if margin_seconds is None:
            margin_seconds = min(self.window * DEFAULT_MARGIN_FRACTION, DEFAULT_MARGIN_CAP)
        self.margin = margin_seconds
        self.epoch = self.window + margin_seconds  # how long a grant counts
        self.ttl = math.ceil(2 * self.epoch) + 10
        self.jitter = max(0.002, min(self.epoch / self.limit, 0.05))
        self.cache = cache if cache is not None else caches["default"]
        self.clock = clock
        self.sleep = sleep
        self.platform = platform
        self.account = account
        self._backoff_until = -math.inf
        # Half the margin for a stall between the grant time and the request leaving, half for after.
        stall = margin_seconds / 2
        if is_redis(self.cache):
            self._storage = RedisWindowLog(
                key,
                self.limit,
                self.epoch,
                ttl=self.ttl,
                stall=stall,
                cache=self.cache,
                clock=clock,
                server_clock=clock is time.time,
            )
        else:
            self._storage = CacheSlots(key, self.limit, self.epoch, stall=stall, cache=self.cache, clock=clock)
        self._fallback = CacheSlots(key, self.limit, self.epoch, stall=stall, cache=_FALLBACK_CACHE, clock=clock)

    # --- public API ---------------------------------------------------------------------------

    def acquire(self, blocking: bool = False, timeout: float | None = None) -> bool:
        """Take one grant. Non-blocking returns at once; blocking waits up to ``timeout`` (None: forever).

        A refusal means the window is full or paused (or this process is too busy to keep a grant on
        time), never that another claim raced this one; ``time_until_available()`` then says how long.
        """
        started = self.clock()
        deadline = math.inf if timeout is None else started + timeout
        contended = 0
        while True:
            granted, wait, used = self._safely(lambda storage: storage.attempt())
            if granted:
                if self.platform:
                    metrics.update_rate_limiter_usage(self.platform, self.account, used)
                self._record("granted", self.clock() - started)
                return True
            if wait is None:
                contended += 1
                if contended <= CONTENDED_RETRIES:
                    continue
                # Still contended: this process is too busy to keep a grant on time. Back off a little,
                # and say so to time_until_available().
                wait = self.jitter
                self._backoff_until = self.clock() + wait
            now = self.clock()
            if not blocking or now + wait > deadline:
                self._record("rejected", None)
                return False
            # Waiters wake spread over up to one slot's share of the window, not all at once.
            self.sleep(wait + random.uniform(0.001, self.jitter))  # noqa: S311
            contended = 0

    @contextmanager
    def acquire_ctx(self, *, raise_on_failure: bool = False, **kwargs) -> Iterator[bool]:
        """``with limiter.acquire_ctx() as acquired:``; with ``raise_on_failure`` a refusal raises Backpressure."""
        acquired = self.acquire(**kwargs)
        if not acquired and raise_on_failure:
            raise Backpressure(self.time_until_available(), "rate_limited")
        yield acquired

    def current_usage(self) -> int:
        """Grants in the last window and its margin."""
        return self._safely(lambda storage: storage.usage())

    def time_until_available(self) -> float:
        """Seconds until a grant may succeed (0.0 if one may now)."""
        wait = self._safely(lambda storage: storage.wait())
        return max(0.0, wait, self._backoff_until - self.clock())

    def pause(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` (a platform's Retry-After), in every process."""
        self._safely(lambda storage: storage.pause(seconds))

    def reset(self) -> None:
        """Forget every grant (tests, and an operator clearing a limit that was changed)."""
        self._backoff_until = -math.inf
        self._safely(lambda storage: storage.reset())

    @property
    def redis_log(self) -> RedisWindowLog | None:
        """The shared log on Redis (None over any other cache): for a step that takes grants in several
        logs at once (``guard``)."""
        return self._storage if isinstance(self._storage, RedisWindowLog) else None

    def count_grant(self, used: int, waited: float) -> None:
        """Count a grant that such a step took in this limiter's log after ``waited`` seconds, as
        ``acquire`` counts its own."""
        if self.platform:
            metrics.update_rate_limiter_usage(self.platform, self.account, used)
        self._record("granted", waited)

    def count_refusal(self) -> None:
        self._record("rejected", None)

    # --- storage --------------------------------------------------------------------------------

    def _safely(self, operation):
        """Run ``operation(storage)`` on the shared storage, or on the process-local one if it is down."""
        try:
            return operation(self._storage)
        except Exception as exc:  # any backend error: redis.ConnectionError, TimeoutError, ...
            now = time.monotonic()
            if now - _last_warning.get(self.key, -math.inf) > _LOG_EVERY_SECONDS:
                _last_warning[self.key] = now
                log.warning("rate limiter %s: cache unreachable (%s), limiting per process", self.key, exc)
            return operation(self._fallback)

    def _record(self, status: str, waited: float | None) -> None:
        if not self.platform:
            return
        metrics.RATE_LIMITER_REQUESTS.labels(self.platform, status).inc()
        if waited is not None:
            metrics.RATE_LIMITER_WAIT.labels(self.platform).observe(max(0.0, waited))


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- construction from settings -----------------------------------------------------------------


def platform_rate_settings(platform: str) -> tuple[int, float]:
    """The platform's (limit, window) from ``settings.PLATFORMS``; raises ImproperlyConfigured naming it."""
    platforms = getattr(settings, "PLATFORMS", {})
    if platform not in platforms:
        raise ImproperlyConfigured(f"PLATFORMS: unknown platform {platform!r} (known: {', '.join(sorted(platforms))})")
    entry = platforms[platform]
    env = env_prefix(adapter_class(platform)) if platform in adapters() else platform.upper()
    limit, window = entry.get("rate_limit"), entry.get("rate_window")
    if not _is_number(limit) or int(limit) != limit or limit <= 0:
        raise ImproperlyConfigured(
            f"{env}_RATE_LIMIT (PLATFORMS[{platform!r}]['rate_limit']): must be > 0, got {limit!r}"
        )
    if not _is_number(window) or window <= 0:
        raise ImproperlyConfigured(
            f"{env}_RATE_WINDOW (PLATFORMS[{platform!r}]['rate_window']): must be > 0, got {window!r}"
        )
    return int(limit), float(window)


def limiter_for(*, platform: str, account: str, connection=None, cache=None, clock=time.time) -> RateLimiter:
    """The limiter of one platform account: the platform's limit, or the connection's override."""
    limit, window = platform_rate_settings(platform)
    if connection is not None:
        if connection.rate_limit is not None:
            if connection.rate_limit <= 0:
                raise ImproperlyConfigured(f"ChannelConnection {connection.pk} rate_limit: must be > 0")
            limit = connection.rate_limit
        if connection.rate_window is not None:
            if connection.rate_window <= 0:
                raise ImproperlyConfigured(f"ChannelConnection {connection.pk} rate_window: must be > 0")
            window = connection.rate_window
    return RateLimiter(
        f"ratelimit:{platform}:{account}",
        limit,
        window,
        cache=cache,
        clock=clock,
        platform=platform,
        account=account,
    )
