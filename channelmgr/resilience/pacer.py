"""A pacer: one grant every ``interval`` seconds on average, with a small burst after a quiet spell.

The limiter (limiter.py) keeps a count in a sliding window: it lets a whole window's grants go at once and
then nothing until the window slides. On a long window (Booking.com: 20 a minute) that is a burst of pushes
in the first seconds and a wait of the rest of the minute for every close-out after it. The pacer spreads
the grants out instead (GCRA: a theoretical arrival time moved on by ``interval`` per grant), and lets
``burst`` go at once after a quiet spell, so an isolated change is not held back by the one before it.
It paces within a limit, it does not enforce one: the account's limiter still counts every request.

On Redis one Lua script call per step (pacer_redis.lua), on the server's clock. Over any other cache (the
embedded mode's local memory) a read and a write under a process lock: exact in one process, which is
what that mode runs. If the cache fails the pacer grants: pacing is fairness, the limiter is the limit.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from channelmgr.resilience.limiter_redis import is_redis, run_script, shared_client

log = logging.getLogger(__name__)

# redis_now.lua first: it sets ``now`` for the script.
SCRIPT = "".join(Path(__file__).with_name(n).read_text() for n in ("redis_now.lua", "pacer_redis.lua"))
SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()  # noqa: S324 -- Redis names scripts by their SHA-1
MICROSECONDS = 1_000_000
_LOCK = threading.Lock()


class Pacer:
    def __init__(self, key: str, interval: float, *, burst: int = 1, cache, clock: Callable[[], float] = time.time):
        self.key, self.interval, self.burst = key, float(interval), max(1, int(burst))
        self.tolerance = (self.burst - 1) * self.interval
        self.cache, self.clock = cache, clock
        self.redis = shared_client(cache) if is_redis(cache) else None
        self.local_key = f"{key}:tat-us"  # the cache API adds its prefix; the script gets it made
        self.tat_key = cache.make_key(self.local_key) if self.redis is not None else None
        self._params = (round(self.interval * MICROSECONDS), round(self.tolerance * MICROSECONDS))

    def acquire(self) -> bool:
        """Take a grant now if the pace allows it; never blocks."""
        return self._safely(lambda: self._step(b"acquire")[0] == 1, True)

    def time_until_available(self) -> float:
        return self._safely(lambda: self._step(b"wait") / MICROSECONDS, 0.0)

    def refund(self) -> None:
        """Give back the last grant: the request it was for did not go (another limit refused it)."""
        self._safely(lambda: self._step(b"refund"), None)

    def reset(self) -> None:
        self._safely(lambda: self.cache.delete(self.local_key), None)

    # --- storage ------------------------------------------------------------------------------

    def _step(self, operation: bytes):
        if self.redis is not None:
            now = b"" if self.clock is time.time else round(self.clock() * MICROSECONDS)
            return run_script(self.redis, SCRIPT, SHA, (self.tat_key,), (operation, now, *self._params))
        return self._step_locally(operation)

    def _step_locally(self, operation: bytes):
        key = self.local_key
        with _LOCK:
            now = self.clock()
            tat = max(self.cache.get(key) or now, now)
            wait = tat - self.tolerance - now
            if operation == b"wait":
                return max(0, round(wait * MICROSECONDS))
            timeout = int(self.tolerance + 2 * self.interval) + 10
            if operation == b"refund":
                if tat > now:
                    self.cache.set(key, max(now, tat - self.interval), timeout=timeout)
                return 0
            if wait > 0:
                return [0, round(wait * MICROSECONDS)]
            self.cache.set(key, tat + self.interval, timeout=timeout)
            return [1, 0]

    def _safely(self, operation, default):
        try:
            return operation()
        except Exception as exc:  # the cache is down: pace nothing, the limiter still counts
            log.warning("pacer %s: cache unreachable (%s), not pacing", self.key, exc)
            return default
