"""Sliding-window rate limits per (platform, account), over real time."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

# (requests, window in seconds), from docs/platforms.md
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    "airbnb": (10, 1.0),
    "booking_com": (20, 60.0),
    "expedia": (50, 1.0),
    "fewo_direkt": (30, 1.0),
    "google": (100, 1.0),
}


class SlidingWindowLimiter:
    """Admits at most `limit` requests in any `window` seconds; rejected requests do not use a slot."""

    def __init__(self, limits: dict[str, tuple[int, float]], clock: Callable[[], float] = time.monotonic):
        self.limits = dict(limits)
        self.clock = clock
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def hit(self, slug: str, account: str) -> int | None:
        """Take a slot. Returns None when admitted, else the Retry-After in whole seconds (>= 1)."""
        if slug not in self.limits:
            return None
        limit, window = self.limits[slug]
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault((slug, account), deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) < limit:
                hits.append(now)
                return None
            return max(1, math.ceil(hits[0] + window - now))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
