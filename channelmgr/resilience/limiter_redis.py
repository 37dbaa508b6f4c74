"""The limiter's storage on Redis: a sliding-window log, one Lua script call (one round trip) per step."""

from __future__ import annotations

import hashlib
import math
import random
import weakref
from collections.abc import Callable
from pathlib import Path

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import NoScriptError

# redis_now.lua first: it sets ``now`` for the script.
SCRIPT = "".join(Path(__file__).with_name(n).read_text() for n in ("redis_now.lua", "limiter_redis.lua"))
SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()  # noqa: S324 -- Redis names scripts by their SHA-1
MICROSECONDS = 1_000_000
# One client per cache client: limiter_for() builds a limiter per call, and redis.Redis() is not free.
_CLIENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def is_redis(cache) -> bool:
    return isinstance(cache, RedisCache)


def shared_client(cache: RedisCache):
    """One ``redis.Redis`` per cache client (its pool and OPTIONS), kept for every limiter built on it."""
    client = cache._cache  # noqa: SLF001 -- the RedisCache's own client
    if client not in _CLIENTS:
        _CLIENTS[client] = client.get_client(write=True)
    return _CLIENTS[client]


def run_script(redis, script: str, sha: str, keys: tuple, args: tuple):
    """EVALSHA ``script`` (named by its ``sha``) on ``keys`` and ``args``: one round trip, and a second
    only to load the script where Redis lacks it (restarted or flushed)."""
    try:
        return redis.execute_command("EVALSHA", sha, len(keys), *keys, *args)
    except NoScriptError:
        redis.script_load(script)
        return redis.execute_command("EVALSHA", sha, len(keys), *keys, *args)


class RedisWindowLog:
    """At most ``limit`` grants counting at once; a grant counts for ``span`` seconds (window + margin).

    The log is a sorted set of grant times. Every operation is one EVALSHA of ``limiter_redis.lua``:
    drop the grants whose span is over, count the rest, add one if there is room, or read how long
    until there is. That is a few sorted-set steps on at most ``limit`` members (O(log limit); a
    short scan while the set is small), so it costs one round trip whatever the limit.

    With ``server_clock`` the script reads Redis's own clock (TIME), so processes on machines whose
    clocks disagree still share one window; otherwise it sends ``clock()`` (tests inject one). Every
    key it writes has a TTL.

    A grant whose reply took more than ``stall`` seconds (a busy process: the GIL, GC, the network) is
    withdrawn, so a grant reaches its caller at most ``stall`` after the grant time the others count.
    """

    def __init__(
        self,
        key: str,
        limit: int,
        span: float,
        *,
        ttl: int,
        stall: float,
        cache: RedisCache,
        clock: Callable[[], float],
        server_clock: bool,
    ):
        self.limit, self.span, self.ttl, self.stall = limit, span, ttl, stall
        self.clock, self.server_clock = clock, server_clock
        # The cache's prefix and version, without make_and_validate_key's memcached checks: a limiter
        # is built per platform call, and Redis takes any key.
        self.log_key = cache.make_key(f"{key}:log")
        self.pause_key = cache.make_key(f"{key}:pause-us")
        self.redis = shared_client(cache)
        # Encoded once: a call then encodes only its time and its member.
        self._keys = (self.log_key.encode(), self.pause_key.encode())
        self._params = tuple(str(n).encode() for n in (limit, round(span * MICROSECONDS), ttl))

    def attempt(self) -> tuple[bool, float | None, int]:
        """(granted, seconds to wait or None to try again at once, grants counting)."""
        member = random.getrandbits(64)  # unique among the grants counting, so this one can be withdrawn
        sent = self.clock()
        granted, wait, used = self._run(b"acquire", member)
        if granted and self.stall > 0 and self.clock() - sent > self.stall:
            # Giving it back is safe: a grant only ever stops others, and this one's request never leaves.
            self.redis.zrem(self.log_key, member)
            return False, None, used - 1
        return bool(granted), wait / MICROSECONDS, used

    def wait(self) -> float:
        return self._run(b"state")[0] / MICROSECONDS

    def usage(self) -> int:
        return self._run(b"state")[1]

    def pause(self, seconds: float) -> None:
        self._run(b"pause", math.ceil(seconds * MICROSECONDS))

    def reset(self) -> None:
        self.redis.delete(self.log_key, self.pause_key)

    def _run(self, operation: bytes, *extra):
        now = b"" if self.server_clock else round(self.clock() * MICROSECONDS)
        return run_script(self.redis, SCRIPT, SHA, self._keys, (operation, now, *self._params, *extra))
