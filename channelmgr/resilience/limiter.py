"""A sliding-window rate limiter whose state lives in Django's cache, shared by every process."""

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

log = logging.getLogger(__name__)

# A grant counts for its window plus this margin, so a request leaving the process a little after its
# grant (a busy CPU, the GIL) still lands in the right window: 5% of the window, at most 500 ms.
DEFAULT_MARGIN_FRACTION = 0.05
DEFAULT_MARGIN_CAP = 0.5
# Used when the shared cache is down: one limiter per process instead of none (see RateLimiter).
_FALLBACK_CACHE = LocMemCache("channelmgr-limiter-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
_LOG_EVERY_SECONDS = 60.0


class RateLimiter:
    """At most ``limit`` grants in any window of ``window_seconds``, across every process on the cache.

    Design (slot tokens per epoch): time is cut into epochs of ``w = window + margin``. Each of the
    ``limit`` slots grants at most once per epoch, by ``cache.add(f"{key}:{slot}:{epoch}", t)`` (one
    winner), and only if that slot's grant in the previous epoch is at least ``w`` old. Proof that a
    slot's grants are >= w apart: same epoch, by add's atomicity; two or more epochs apart, by the
    epoch length; adjacent epochs, by that check, and if the claimer saw no previous grant it re-reads
    it after its add, while a claimer whose epoch ended during its add reads the next epoch's key: by
    linearizability one of two racing claimers sees the other and withdraws (deleting its key: keys
    only ever prevent grants). So any window holds at most one grant per slot: at most ``limit``.
    Keys are read only within 2w of their epoch's start and live 2w + 10 s, so TTLs are garbage
    collection, never correctness. A claim that stalled more than margin/2 after reading the clock
    withdraws too, so a request leaves at most margin/2 after the grant time others see.

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
        self.epoch = self.window + margin_seconds
        self.ttl = math.ceil(2 * self.epoch) + 10
        self.jitter = max(0.002, min(self.epoch / self.limit, 0.05))
        self.cache = cache if cache is not None else caches["default"]
        self.clock = clock
        self.sleep = sleep
        self.platform = platform
        self.account = account
        self._last_warning = 0.0

    # --- public API ---------------------------------------------------------------------------

    def acquire(self, blocking: bool = False, timeout: float | None = None) -> bool:
        """Take one grant. Non-blocking returns at once; blocking waits up to ``timeout`` (None: forever)."""
        started = self.clock()
        deadline = math.inf if timeout is None else started + timeout
        while True:
            granted, wait = self._attempt()
            if granted:
                self._record("granted", self.clock() - started)
                return True
            now = self.clock()
            if not blocking or now + wait > deadline:
                self._record("rejected", None)
                return False
            # Waiters wake spread over up to one slot's share of the window, not all at once.
            self.sleep(wait + random.uniform(0.001, self.jitter))  # noqa: S311

    @contextmanager
    def acquire_ctx(self, *, raise_on_failure: bool = False, **kwargs) -> Iterator[bool]:
        """``with limiter.acquire_ctx() as acquired:``; with ``raise_on_failure`` a refusal raises Backpressure."""
        acquired = self.acquire(**kwargs)
        if not acquired and raise_on_failure:
            raise Backpressure(self.time_until_available(), "rate_limited")
        yield acquired

    def current_usage(self) -> int:
        """Grants in the last window (a withdrawn claim counts too: it is conservative)."""
        now = self.clock()
        values = self._read(self._epoch_of(now))
        return sum(1 for v in values.values() if _is_time(v) and now - self.epoch < v <= now)

    def time_until_available(self) -> float:
        """Seconds until a grant may succeed (0.0 if one may now)."""
        now = self.clock()
        g = self._epoch_of(now)
        values = self._read(g)
        return max(0.0, self._next_free(values, g, now) - now)

    def pause(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` (a platform's Retry-After), in every process."""
        until = self.clock() + seconds
        self._safely(lambda c: c.set(self._pause_key(), until, timeout=math.ceil(seconds) + 10))

    def reset(self) -> None:
        """Forget every grant (tests, and an operator clearing a limit that was changed)."""
        g = self._epoch_of(self.clock())
        keys = [self._slot_key(i, e) for e in (g - 1, g, g + 1) for i in range(self.limit)]
        keys.append(self._pause_key())
        self._safely(lambda c: c.delete_many(keys))

    # --- the algorithm ------------------------------------------------------------------------

    def _attempt(self) -> tuple[bool, float]:
        """One try: (granted, seconds to wait before the next try is worth it)."""
        return self._safely(self._attempt_on)

    def _attempt_on(self, cache) -> tuple[bool, float]:
        g = self._epoch_of(self.clock())
        values = self._read_on(cache, g)
        # The grant time is read after the read, so only the add lies between it and the grant.
        now = self.clock()
        if self._epoch_of(now) != g:
            return False, 0.0
        paused_until = values.get(self._pause_key())
        if _is_time(paused_until) and paused_until > now:
            return False, paused_until - now
        free = [i for i in range(self.limit) if self._slot_free(values, i, g, now)]
        if not free:
            return False, self._next_free(values, g, now) - now
        random.shuffle(free)  # racing processes pick different slots
        for i in free:
            if not cache.add(self._slot_key(i, g), now, timeout=self.ttl):
                continue
            # A claim that raced an adjacent epoch, or stalled (GIL, GC, network) so long since reading
            # the clock that its request would leave well after the grant time others see, is given
            # up. Deleting it is safe: keys only ever stop a grant, and this one granted nothing.
            if (
                self._conflicts(cache, i, g, now, previous_seen=self._slot_key(i, g - 1) in values)
                or self.clock() - now > self.margin / 2
            ):
                cache.delete(self._slot_key(i, g))
                return False, 0.0
            metrics_usage = 1 + sum(1 for v in values.values() if _is_time(v) and now - self.epoch < v <= now)
            if self.platform:
                metrics.update_rate_limiter_usage(self.platform, self.account, metrics_usage)
            return True, 0.0
        return False, 0.0

    def _slot_free(self, values: dict, i: int, g: int, now: float) -> bool:
        if self._slot_key(i, g) in values:
            return False
        previous = values.get(self._slot_key(i, g - 1))
        return not _is_time(previous) or previous + self.epoch <= now

    def _conflicts(self, cache, i: int, g: int, granted_at: float, *, previous_seen: bool) -> bool:
        """After winning slot i of epoch g: does a racing claim of an adjacent epoch sit within w?"""
        keys = [] if previous_seen else [self._slot_key(i, g - 1)]
        if self._epoch_of(self.clock()) > g:
            keys.append(self._slot_key(i, g + 1))
        if not keys:
            return False
        found = cache.get_many(keys)
        return any(_is_time(v) and abs(v - granted_at) < self.epoch for v in found.values())

    def _next_free(self, values: dict, g: int, now: float) -> float:
        paused_until = values.get(self._pause_key())
        earliest = math.inf
        for i in range(self.limit):
            if self._slot_free(values, i, g, now):
                earliest = now
                break
            current = values.get(self._slot_key(i, g))
            previous = values.get(self._slot_key(i, g - 1))
            taken_at = current if _is_time(current) else previous
            if _is_time(taken_at):
                earliest = min(earliest, taken_at + self.epoch)
        if _is_time(paused_until):
            earliest = max(earliest, paused_until)
        return earliest if earliest != math.inf else now + self.epoch

    # --- storage --------------------------------------------------------------------------------

    def _epoch_of(self, t: float) -> int:
        return math.floor(t / self.epoch)

    def _slot_key(self, i: int, g: int) -> str:
        return f"{self.key}:{i}:{g}"

    def _pause_key(self) -> str:
        return f"{self.key}:pause"

    def _read(self, g: int) -> dict:
        return self._safely(lambda c: self._read_on(c, g))

    def _read_on(self, cache, g: int) -> dict:
        keys = [self._slot_key(i, e) for e in (g - 1, g) for i in range(self.limit)]
        keys.append(self._pause_key())
        return cache.get_many(keys)

    def _safely(self, operation):
        """Run ``operation(cache)`` on the shared cache, or on the process-local one if it is down."""
        try:
            return operation(self.cache)
        except Exception as exc:  # any backend error: redis.ConnectionError, TimeoutError, ...
            now = time.monotonic()
            if now - self._last_warning > _LOG_EVERY_SECONDS:
                self._last_warning = now
                log.warning("rate limiter %s: cache unreachable (%s), limiting per process", self.key, exc)
            return operation(_FALLBACK_CACHE)

    def _record(self, status: str, waited: float | None) -> None:
        if not self.platform:
            return
        metrics.RATE_LIMITER_REQUESTS.labels(self.platform, status).inc()
        if waited is not None:
            metrics.RATE_LIMITER_WAIT.labels(self.platform).observe(max(0.0, waited))


def _is_time(value) -> bool:
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
    if not _is_time(limit) or int(limit) != limit or limit <= 0:
        raise ImproperlyConfigured(
            f"{env}_RATE_LIMIT (PLATFORMS[{platform!r}]['rate_limit']): must be > 0, got {limit!r}"
        )
    if not _is_time(window) or window <= 0:
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
