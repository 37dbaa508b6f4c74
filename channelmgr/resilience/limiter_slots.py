"""The limiter's storage over Django's cache API (embedded mode, and the fallback when Redis is down).

Redis has its own storage (limiter_redis.py): one script call per step. This one needs nothing but the
cache API's ``add``, ``get_many`` and ``delete``, so it reads ``2 x limit`` keys per step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable


class CacheSlots:
    """At most ``limit`` grants in any ``span`` (window + margin), across every process on the cache.

    Design (slot tokens per epoch): time is cut into epochs of ``w = span``. Each of the ``limit``
    slots grants at most once per epoch, by ``cache.add(f"{key}:{slot}:{epoch}", t)`` (one winner),
    and only if that slot's grant in the previous epoch is at least ``w`` old. Proof that a slot's
    grants are >= w apart: same epoch, by add's atomicity; two or more epochs apart, by the epoch
    length; adjacent epochs, by that check, and if the claimer saw no previous grant it re-reads it
    after its add, while a claimer whose epoch ended during its add reads the next epoch's key: by
    linearizability one of two racing claimers sees the other and withdraws (deleting its key: keys
    only ever prevent grants). So any window holds at most one grant per slot: at most ``limit``.
    Keys are read only within 2w of their epoch's start and live 2w + 10 s, so TTLs are garbage
    collection, never correctness. A claim that stalled more than ``stall`` seconds after reading
    the clock withdraws too, so a request leaves at most ``stall`` after the grant time others see.

    A claim that withdrew, or lost every free slot to a racing claim, answers "try again at once"
    (wait None): capacity is there, it was only contended.
    """

    def __init__(self, key: str, limit: int, span: float, *, stall: float, cache, clock: Callable[[], float]):
        self.key, self.limit, self.epoch, self.stall = key, limit, span, stall
        self.ttl = math.ceil(2 * span) + 10
        self.cache, self.clock = cache, clock

    def attempt(self) -> tuple[bool, float | None, int]:
        """(granted, seconds to wait or None to try again at once, grants counting)."""
        cache = self.cache
        g = self._epoch_of(self.clock())
        values = self._read(g)
        # The grant time is read after the read, so only the add lies between it and the grant.
        now = self.clock()
        used = self._used(values, now)
        if self._epoch_of(now) != g:
            return False, None, used
        paused_until = values.get(self._pause_key())
        if _is_time(paused_until) and paused_until > now:
            return False, paused_until - now, used
        free = [i for i in range(self.limit) if self._slot_free(values, i, g, now)]
        if not free:
            return False, self._next_free(values, g, now) - now, used
        random.shuffle(free)  # racing processes pick different slots
        for i in free:
            if not cache.add(self._slot_key(i, g), now, timeout=self.ttl):
                continue
            # A claim that raced an adjacent epoch, or stalled (GIL, GC, network) so long since reading
            # the clock that its request would leave well after the grant time others see, is given
            # up. Deleting it is safe: keys only ever stop a grant, and this one granted nothing.
            if (
                self._conflicts(i, g, now, previous_seen=self._slot_key(i, g - 1) in values)
                or self.clock() - now > self.stall
            ):
                cache.delete(self._slot_key(i, g))
                return False, None, used
            return True, 0.0, used + 1
        return False, None, used

    def usage(self) -> int:
        """Grants in the last span (a withdrawn claim counts too: it is conservative)."""
        now = self.clock()
        return self._used(self._read(self._epoch_of(now)), now)

    def wait(self) -> float:
        now = self.clock()
        g = self._epoch_of(now)
        return max(0.0, self._next_free(self._read(g), g, now) - now)

    def pause(self, seconds: float) -> None:
        self.cache.set(self._pause_key(), self.clock() + seconds, timeout=math.ceil(seconds) + 10)

    def reset(self) -> None:
        g = self._epoch_of(self.clock())
        keys = [self._slot_key(i, e) for e in (g - 1, g, g + 1) for i in range(self.limit)]
        keys.append(self._pause_key())
        self.cache.delete_many(keys)

    # --- the algorithm ------------------------------------------------------------------------

    def _used(self, values: dict, now: float) -> int:
        pause = self._pause_key()
        return sum(1 for k, v in values.items() if k != pause and _is_time(v) and now - self.epoch < v <= now)

    def _slot_free(self, values: dict, i: int, g: int, now: float) -> bool:
        if self._slot_key(i, g) in values:
            return False
        previous = values.get(self._slot_key(i, g - 1))
        return not _is_time(previous) or previous + self.epoch <= now

    def _conflicts(self, i: int, g: int, granted_at: float, *, previous_seen: bool) -> bool:
        """After winning slot i of epoch g: does a racing claim of an adjacent epoch sit within w?"""
        keys = [] if previous_seen else [self._slot_key(i, g - 1)]
        if self._epoch_of(self.clock()) > g:
            keys.append(self._slot_key(i, g + 1))
        if not keys:
            return False
        found = self.cache.get_many(keys)
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

    # --- keys -----------------------------------------------------------------------------------

    def _epoch_of(self, t: float) -> int:
        return math.floor(t / self.epoch)

    def _slot_key(self, i: int, g: int) -> str:
        return f"{self.key}:{i}:{g}"

    def _pause_key(self) -> str:
        return f"{self.key}:pause"

    def _read(self, g: int) -> dict:
        keys = [self._slot_key(i, e) for e in (g - 1, g) for i in range(self.limit)]
        keys.append(self._pause_key())
        return self.cache.get_many(keys)


def _is_time(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
