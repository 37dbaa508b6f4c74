"""Cost of one RateLimiter.acquire() on Redis against one bare Redis INCR round trip, in the same run.

.venv/bin/python bench/limiter.py            # REDIS_URL defaults to redis://127.0.0.1:6379/0
.venv/bin/python bench/limiter.py --help

Each round times acquire() at 10/s and at 100/s, granted and refused, each in blocks of 100 calls that
alternate with blocks of 100 bare INCRs, so a machine busy with something else for a moment moves both
sides of a ratio, not one. The ratios printed are the medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
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

RATES = ((10, 1.0), (100, 1.0))  # Airbnb's and Google's defaults
TARGET_RATIO, TARGET_SPREAD = 2.0, 0.20


BLOCK = 100  # calls per block: INCR and the measured call alternate block by block


def against_incr(fn, incr, n: int) -> tuple[float, float]:
    """(seconds per call of fn, seconds per INCR), timed in alternating blocks over the same moments."""
    for _ in range(50):  # warm the connection pool
        fn()
        incr()
    spent = {fn: 0.0, incr: 0.0}
    for _ in range(max(1, n // BLOCK)):
        for call in (incr, fn):
            started = time.perf_counter()
            for _ in range(BLOCK):
                call()
            spent[call] += time.perf_counter() - started
    calls = max(1, n // BLOCK) * BLOCK
    return spent[fn] / calls, spent[incr] / calls


class SteppingClock:
    """A clock that moves only when told: one slot's share of the window per acquire()."""

    def __init__(self, step: float):
        self.now, self.step = 1_800_000_000.0, step

    def __call__(self) -> float:
        return self.now


def limiters(cache, limit: int, window: float, round_: int):
    """acquire() of a limiter that grants every call, and of one that refuses every call."""
    # Every acquire() is a grant, as under a backlog running exactly at the limit. The clock moves
    # between calls, never during one: a clock that moved during acquire() would look like a stall.
    clock = SteppingClock(window * 1.05 / limit)
    granted = RateLimiter(f"granted-{limit}-{round_}", limit, window, cache=cache, clock=clock)

    def grant():
        clock.now += clock.step
        return granted.acquire()

    # The real clock (on Redis: the server's), and a window of an hour that is full.
    full = RateLimiter(f"full-{limit}-{round_}", limit, 3600.0, cache=cache)
    while full.acquire():
        pass
    return grant, full.acquire


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ["REDIS_URL"], help="Redis to measure (default: REDIS_URL)")
    parser.add_argument(
        "-n", type=int, default=int(os.environ.get("BENCH_N", "2000")), help="calls per timing (default 2000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the medians are printed (default 5)")
    options = parser.parse_args()

    prefix = f"bench-limiter-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(options.url)
    cache = RedisCache(options.url, {"KEY_PREFIX": prefix})
    samples: dict[str, list[float]] = {}
    try:
        for round_ in range(options.rounds):
            for limit, window in RATES:
                grant, refuse = limiters(cache, limit, window, round_)
                for outcome, fn in (("granted", grant), ("refused", refuse)):
                    took, incr = against_incr(fn, lambda: client.incr(f"{prefix}:incr"), options.n)
                    samples.setdefault(f"{limit} {outcome}", []).append(took / incr)
                    samples.setdefault("incr", []).append(incr)
    finally:
        keys = list(client.scan_iter(f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])

    incr = statistics.median(samples["incr"])
    print(f"redis: {options.url}   n={options.n}   rounds={options.rounds} (medians)")
    print(f"bare INCR round trip            {incr * 1e6:8.1f} us")
    worst = {}
    for limit, window in RATES:
        for outcome in ("granted", "refused"):
            ratio = statistics.median(samples[f"{limit} {outcome}"])
            worst[limit] = max(worst.get(limit, 0.0), ratio)
            print(f"acquire() {limit}/{window:g}s {outcome:8}   {ratio * incr * 1e6:8.1f} us   ratio {ratio:5.2f}x")
    low, high = min(worst.values()), max(worst.values())
    spread = high / low - 1
    verdict = "ok" if high <= TARGET_RATIO and spread <= TARGET_SPREAD else "MISSED"
    print(
        f"acquire() at 10/s {worst[10]:.2f}x, at 100/s {worst[100]:.2f}x a bare INCR (the dearer of granted and "
        f"refused), {spread:.0%} apart   target <= {TARGET_RATIO:.1f}x and within "
        f"{TARGET_SPREAD:.0%}: {verdict}"
    )


if __name__ == "__main__":
    main()
