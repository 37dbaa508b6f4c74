"""Sliding-window rate limits per (platform, account), over real time."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.platforms.base import Platform


def default_limits(classes: Iterable[type[Platform]] | None = None) -> dict[str, tuple[int, float]]:
    """(requests, window in seconds) per platform, as each platform class declares it (`rate_limit`);
    `classes` defaults to every platform the sandbox discovers."""
    if classes is None:
        from sandbox.platforms import platform_classes  # here: discovery imports every platform module

        classes = platform_classes()
    return {cls.slug: cls.rate_limit for cls in classes if cls.rate_limit is not None}


# The refusals each platform keeps for ``refusals()``: the last few are what explains a violation.
REFUSALS_KEPT = 20


class SlidingWindowLimiter:
    """Admits at most `limit` requests in any `window` seconds; rejected requests do not use a slot.

    Every refusal is recorded (``refusals()``) with what the window held and with how far the wall clock
    has moved against this limiter's clock since it started: our limiter keeps its window on Redis's
    wall clock, so a step of the wall clock shows up there as a refusal no request log explains."""

    def __init__(self, limits: dict[str, tuple[int, float]], clock: Callable[[], float] = time.monotonic):
        self.configured = dict(limits)  # what reset() brings back
        self.limits = dict(limits)
        self.clock = clock
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._refusals: dict[str, deque[dict]] = {}
        self._wall_offset = time.time() - clock()

    def hit(self, slug: str, account: str) -> int | None:
        """Take a slot. Returns None when admitted, else the Retry-After in whole seconds (>= 1)."""
        if slug not in self.limits:
            return None
        limit, window = self.limits[slug]
        with self._lock:
            # Read under the lock: a thread that read the clock first and took the lock last would put
            # an older time behind a newer one, and the window (which only looks at its oldest) would
            # keep that request too long.
            now = self.clock()
            hits = self._hits.setdefault((slug, account), deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) < limit:
                hits.append(now)
                return None
            retry_after = max(1, math.ceil(hits[0] + window - now))
            wall = time.time()
            self._refusals.setdefault(slug, deque(maxlen=REFUSALS_KEPT)).append(
                {
                    "at": round(wall, 3),
                    "account": account,
                    "limit": limit,
                    "window": window,
                    "counted": len(hits),
                    "oldest_age": round(now - hits[0], 3),
                    "newest_age": round(now - hits[-1], 3),
                    "retry_after": retry_after,
                    "wall_clock_step": round(wall - now - self._wall_offset, 3),
                }
            )
            return retry_after

    def refusals(self, slug: str) -> list[dict]:
        """The last ``REFUSALS_KEPT`` refusals on ``slug``, oldest first: when (wall clock), whose
        account, how many requests the window counted and how old its oldest and newest were (seconds),
        the Retry-After, and how far the wall clock had moved against the limiter's clock since start."""
        with self._lock:
            return list(self._refusals.get(slug, ()))

    def set_limit(self, slug: str, limit: int, window: float) -> None:
        """Change a platform's limit from now on (the control API: a benchmark measuring our engine, not
        the platform's limit, raises it); the requests already counted stay in their window."""
        with self._lock:
            self.limits[slug] = (limit, window)

    def restore(self, slug: str) -> None:
        """Back to the limit the sandbox started with (or none, if it had none)."""
        with self._lock:
            if slug in self.configured:
                self.limits[slug] = self.configured[slug]
            else:
                self.limits.pop(slug, None)

    def reset(self) -> None:
        """Forget every request counted and every changed limit."""
        with self._lock:
            self._hits.clear()
            self._refusals.clear()
            self.limits = dict(self.configured)
