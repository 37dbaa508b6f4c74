"""The limiter's storage on Redis: a sliding-window log, one Lua script call (one round trip) per step."""

from __future__ import annotations

import hashlib
import math
import random
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import NoScriptError


def _script(name: str) -> tuple[str, str]:
    """The script ``name`` after redis_now.lua (it sets ``now``) and window_log.lua (the log's steps), and
    its SHA-1, by which Redis names it."""
    text = "".join(Path(__file__).with_name(n).read_text() for n in ("redis_now.lua", "window_log.lua", name))
    return text, hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 -- Redis's name for it, not security


SCRIPT, SHA = _script("limiter_redis.lua")
GUARD_SCRIPT, GUARD_SHA = _script("guard_redis.lua")
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
        return run_script(self.redis, SCRIPT, SHA, self._keys, (operation, self.now_arg(), *self._params, *extra))

    def now_arg(self, at: float | None = None) -> bytes | int:
        """The scripts' ``now`` (redis_now.lua): empty for the server's clock, else ``at`` (or the clock)
        in microseconds."""
        return b"" if self.server_clock else round((self.clock() if at is None else at) * MICROSECONDS)


@dataclass(frozen=True)
class Together:
    """What ``admit_together`` found: granted in every log, or why not."""

    granted: bool
    breaker_closed: bool = True
    refused_by: int | None = None  # the index of the full (or paused) log
    wait: float | None = None  # seconds until it has room; None: contended, try again at once
    failures: int = 0  # the breaker's count of consecutive failures
    used: tuple[int, ...] = ()  # each log's grants counting, this one's included


def admit_together(logs: list[RedisWindowLog], breaker_keys: tuple[str, str]) -> Together:
    """One EVALSHA of ``guard_redis.lua``: the breaker whose cache keys are ``breaker_keys`` is closed and
    every one of ``logs`` (on one Redis, one clock) has room, then a grant in each; else nothing. A grant
    whose reply took longer than the smallest ``stall`` is withdrawn from every log, as ``attempt`` does."""
    first = logs[0]
    member = random.getrandbits(64)
    sent = first.clock()
    now = first.now_arg(sent)
    keys = (*(key.encode() for key in breaker_keys), *(key for log in logs for key in log._keys))  # noqa: SLF001
    args = (member, now, *(param for log in logs for param in log._params))  # noqa: SLF001
    reply = run_script(first.redis, GUARD_SCRIPT, GUARD_SHA, keys, args)
    if reply[0] == -1:
        return Together(False, breaker_closed=False)
    if reply[0] == 0:
        return Together(False, refused_by=reply[1] - 1, wait=reply[2] / MICROSECONDS)
    stall = min(log.stall for log in logs)
    if stall > 0 and first.clock() - sent > stall:
        pipe = first.redis.pipeline(transaction=False)
        for log in logs:
            pipe.zrem(log.log_key, member)
        pipe.execute()
        return Together(False)
    return Together(True, failures=int(reply[1]), used=tuple(int(n) for n in reply[2:]))
