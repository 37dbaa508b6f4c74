"""Cost of one RateLimiter.acquire() on Redis against one bare Redis INCR round trip, in the same run.

.venv/bin/python bench/limiter.py            # REDIS_URL defaults to redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.core.cache.backends.redis import RedisCache  # noqa: E402

from channelmgr.resilience.limiter import RateLimiter  # noqa: E402

N = int(os.environ.get("BENCH_N", "2000"))


def per_call(fn, n: int) -> float:
    for _ in range(50):  # warm the connection pool
        fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def main() -> None:
    url = os.environ["REDIS_URL"]
    prefix = f"bench-limiter-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(url)
    cache = RedisCache(url, {"KEY_PREFIX": prefix})
    try:
        incr = per_call(lambda: client.incr(f"{prefix}:incr"), N)
        results = []
        for limit, window in ((10, 1.0), (100, 1.0)):  # Airbnb's and Google's defaults
            # A clock that moves one slot's share of the window per call: every acquire() is a grant
            # (one read of the slots, one add), as under a backlog running exactly at the limit.
            ticks = iter(range(10**9))
            step = window * 1.05 / limit
            granted = RateLimiter(
                f"granted-{limit}", limit, window, cache=cache, clock=lambda t=ticks, s=step: next(t) * s
            )
            full = RateLimiter(f"full-{limit}", limit, 3600.0, cache=cache)
            while full.acquire():
                pass
            # Every acquire() of a full limiter is a refusal: one read.
            results.append((limit, window, per_call(granted.acquire, N), per_call(full.acquire, N)))
    finally:
        keys = list(client.scan_iter(f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    print(f"redis: {url}   n={N}")
    print(f"bare INCR round trip        {incr * 1e6:8.1f} us")
    for limit, window, grant, refuse in results:
        print(f"acquire() {limit}/{window:g}s granted   {grant * 1e6:8.1f} us   ratio {grant / incr:5.2f}x")
        print(f"acquire() {limit}/{window:g}s refused   {refuse * 1e6:8.1f} us   ratio {refuse / incr:5.2f}x")


if __name__ == "__main__":
    main()
