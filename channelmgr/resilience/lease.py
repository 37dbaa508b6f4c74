"""A lease: at most one holder at a time, for a bounded time, renewed while the holder lives.

The scheduler (``channelmgr/scheduler.py``) holds one so that several ``run_scheduler`` processes may
run and exactly one of them runs the jobs; the others stand by and take the lease over when it runs out.

The store keeps ``owner`` under the lease's key with a time to live (Redis: ``SET NX PX``; a Lua script
renews or releases only while the caller is still the owner, so a holder that lost the lease can never
extend or delete the next holder's). Each acquisition also counts a *term* (1, 2, 3...), which the
logs carry, so one can tell the holders apart.

Safety. The store lets someone else acquire only once ``ttl`` has passed since the holder's last
successful acquire or renew, counted from when the server ran the command. The holder counts its own
validity from *before* it sent the command, less a margin for clock-rate drift, so its validity always
ends before anybody else can acquire. ``held()`` reads only the local clock: a holder that was paused (a
SIGSTOP, a long GC pause, a frozen VM) knows on waking that its lease has run out without asking the
store, and fences its own work with it. The clock is ``CLOCK_BOOTTIME`` where there is one (it keeps
counting while the machine is suspended), else the monotonic clock.

``MemoryLeaseStore`` is the same contract inside one process: for embedded mode, where the scheduler
runs once by construction, and for tests with a fake clock.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

# The holder's validity ends this much earlier than the store's expiry: 1% for clock-rate drift between
# this host and the store's, plus 2 ms (the margin Redlock uses).
DRIFT_FACTOR = 0.01
DRIFT_FLOOR_SECONDS = 0.002
# The least a keeper waits between two rounds, so a store that answers "free in 0 s" cannot spin it.
MIN_WAIT_SECONDS = 0.01


def _pick_clock() -> Callable[[], float]:
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return lambda: time.clock_gettime(boottime)
    return time.monotonic


default_clock = _pick_clock()


def default_owner() -> str:
    """``host/pid/random``: unique per process, and says where the holder runs."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Grant:
    """What an acquire returned: ``term`` > 0 when the caller now holds the lease; otherwise the current
    holder's lease runs out in ``free_in`` seconds (as the store sees it)."""

    term: int
    free_in: float = 0.0


class LeaseStore(Protocol):
    def acquire(self, name: str, owner: str, ttl: float) -> Grant: ...

    def renew(self, name: str, owner: str, ttl: float) -> bool: ...

    def release(self, name: str, owner: str) -> bool: ...

    def holder(self, name: str) -> str | None: ...


# KEYS[1] the lease, KEYS[2] its term counter; ARGV[1] owner, ARGV[2] ttl in ms.
# Returns {term, 0} when the caller holds the lease now, {0, ms until it is free} otherwise. An owner
# that still holds the key (it lost track, say after a store timeout) gets it extended, same term.
_ACQUIRE = """
local value = redis.call('get', KEYS[1])
if not value then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {redis.call('incr', KEYS[2]), 0}
end
if value == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return {tonumber(redis.call('get', KEYS[2]) or '0'), 0}
end
return {0, redis.call('pttl', KEYS[1])}
"""
# Compare-and-extend: only the owner renews.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# Compare-and-delete: only the owner releases.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisLeaseStore:
    """Leases in Redis: each operation is one atomic script, so one round trip."""

    def __init__(self, client, prefix: str = ""):
        self.client = client
        self.prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "", timeout: float = 2.0) -> RedisLeaseStore:
        """A client of its own, with socket timeouts shorter than a lease: a store that hangs must not
        hold the keeper past the lease's end."""
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix)

    def key(self, name: str) -> str:
        # The hash tag puts the lease and its term counter in one Redis Cluster slot, as a script needs.
        return f"{self.prefix}{{lease:{name}}}"

    def _keys(self, name: str) -> list[str]:
        key = self.key(name)
        return [key, f"{key}:term"]

    def acquire(self, name: str, owner: str, ttl: float) -> Grant:
        term, pttl = self._acquire(keys=self._keys(name), args=[owner, _ms(ttl)])
        return Grant(int(term), max(int(pttl), 0) / 1000)

    def renew(self, name: str, owner: str, ttl: float) -> bool:
        return bool(self._renew(keys=self._keys(name)[:1], args=[owner, _ms(ttl)]))

    def release(self, name: str, owner: str) -> bool:
        return bool(self._release(keys=self._keys(name)[:1], args=[owner]))

    def holder(self, name: str) -> str | None:
        value = self.client.get(self.key(name))
        return value.decode() if value is not None else None


class MemoryLeaseStore:
    """The same contract in this process's memory, on ``clock``."""

    def __init__(self, clock: Callable[[], float] = default_clock):
        self.clock = clock
        self._lock = threading.Lock()
        self._leases: dict[str, tuple[str, float]] = {}
        self._terms: dict[str, int] = {}

    def _current(self, name: str) -> tuple[str, float] | None:
        current = self._leases.get(name)
        if current is not None and current[1] <= self.clock():
            del self._leases[name]
            return None
        return current

    def acquire(self, name: str, owner: str, ttl: float) -> Grant:
        with self._lock:
            current = self._current(name)
            if current is None:
                self._terms[name] = self._terms.get(name, 0) + 1
            elif current[0] != owner:
                return Grant(0, current[1] - self.clock())
            self._leases[name] = (owner, self.clock() + ttl)
            return Grant(self._terms[name])

    def renew(self, name: str, owner: str, ttl: float) -> bool:
        with self._lock:
            current = self._current(name)
            if current is None or current[0] != owner:
                return False
            self._leases[name] = (owner, self.clock() + ttl)
            return True

    def release(self, name: str, owner: str) -> bool:
        with self._lock:
            current = self._current(name)
            if current is None or current[0] != owner:
                return False
            del self._leases[name]
            return True

    def holder(self, name: str) -> str | None:
        with self._lock:
            current = self._current(name)
            return current[0] if current else None


class Lease:
    """One party's view of the lease ``name`` in ``store``: acquire, renew, release, and whether it is
    held right now (``held()``, from the local clock alone)."""

    def __init__(
        self,
        store: LeaseStore,
        name: str,
        ttl: float,
        *,
        owner: str | None = None,
        clock: Callable[[], float] = default_clock,
    ):
        if ttl <= 0:
            raise ValueError(f"a lease needs a positive ttl, got {ttl}")
        self.store = store
        self.name = name
        self.ttl = float(ttl)
        self.owner = owner or default_owner()
        self.clock = clock
        self.margin = self.ttl * DRIFT_FACTOR + DRIFT_FLOOR_SECONDS
        self.term = 0
        self._valid_until = float("-inf")

    def try_acquire(self) -> Grant:
        started = self.clock()
        grant = self.store.acquire(self.name, self.owner, self.ttl)
        if grant.term:
            self.term = grant.term
            self._valid_until = started + self.ttl - self.margin
        else:
            self._valid_until = float("-inf")
        return grant

    def renew(self) -> bool:
        """Extend the lease by ``ttl`` if this party still owns it in the store; False means lost."""
        started = self.clock()
        if self.store.renew(self.name, self.owner, self.ttl):
            self._valid_until = started + self.ttl - self.margin
            return True
        self._valid_until = float("-inf")
        return False

    def release(self) -> bool:
        """Give the lease up (only if still the owner), so a standby need not wait for it to run out."""
        self._valid_until = float("-inf")
        return self.store.release(self.name, self.owner)

    def held(self) -> bool:
        return self.clock() < self._valid_until

    def remaining(self) -> float:
        """Seconds this party may still act as the holder (0 when it does not hold the lease)."""
        return max(0.0, self._valid_until - self.clock())


class LeaseKeeper:
    """Keeps a lease from a thread of its own: renews it every ``ttl / 3`` while it is held, and otherwise
    tries to acquire it as soon as the current holder's runs out (the store says when), so a standby takes
    over within one lease of the holder's last renewal, that is within one lease of its death.

    ``on_acquired(lease)`` and ``on_lost(lease)`` run in the keeper's thread on each change. An
    ``on_acquired`` that raises gives the lease back: a holder that cannot do the work must not keep
    others from it. ``step()`` is one round (tests drive it directly with a fake clock).
    """

    def __init__(
        self,
        lease: Lease,
        *,
        on_acquired: Callable[[Lease], object] | None = None,
        on_lost: Callable[[Lease], object] | None = None,
        renew_every: float | None = None,
        retry_every: float | None = None,
    ):
        self.lease = lease
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.renew_every = renew_every or lease.ttl / 3
        self.retry_every = retry_every or min(1.0, lease.ttl / 10)
        self.active = False
        self._standing_by = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one round ------------------------------------------------------------------------------

    def step(self) -> float:
        """Renew or try to acquire; returns the seconds to wait before the next round."""
        if self.active:
            return self._keep()
        return self._take()

    def _keep(self) -> float:
        try:
            renewed = self.lease.renew()
        except Exception as exc:  # the store is unreachable or slow: the lease may still be ours
            if self.lease.held():
                log.warning(
                    "lease %s: renewal failed (%s); %.2fs of it left", self.lease.name, exc, self.lease.remaining()
                )
                return max(MIN_WAIT_SECONDS, min(self.retry_every, self.lease.remaining()))
            log.warning("lease %s: renewal failed (%s) and the lease has run out", self.lease.name, exc)
            renewed = False
        if renewed:
            return self.renew_every
        self._lose()
        return self._take()

    def _take(self) -> float:
        try:
            grant = self.lease.try_acquire()
        except Exception as exc:
            log.warning("lease %s: the store is unreachable (%s); retrying", self.lease.name, exc)
            return self.retry_every
        if not grant.term:
            if not self._standing_by:
                self._standing_by = True
                log.info(
                    "lease %s: held by %s; standing by (free in %.2fs at most)",
                    self.lease.name,
                    self._holder() or "another owner",
                    grant.free_in,
                )
            return max(MIN_WAIT_SECONDS, min(grant.free_in, self.renew_every))
        self._standing_by = False
        self.active = True
        log.info("lease %s: acquired by %s (term %d)", self.lease.name, self.lease.owner, self.lease.term)
        if self.on_acquired is not None:
            try:
                self.on_acquired(self.lease)
            except Exception:
                log.exception("lease %s: could not start work after acquiring it; giving it back", self.lease.name)
                self.active = False
                self._release()
                return self.retry_every
        return self.renew_every

    def _lose(self) -> None:
        self.active = False
        log.warning("lease %s: lost by %s (term %d)", self.lease.name, self.lease.owner, self.lease.term)
        if self.on_lost is not None:
            try:
                self.on_lost(self.lease)
            except Exception:
                log.exception("lease %s: on_lost failed", self.lease.name)

    def _holder(self) -> str | None:
        try:
            return self.lease.store.holder(self.lease.name)
        except Exception:
            return None

    def _release(self) -> None:
        try:
            self.lease.release()
        except Exception as exc:  # it runs out by itself within one lease
            log.warning("lease %s: could not release it (%s)", self.lease.name, exc)

    # --- the thread -----------------------------------------------------------------------------

    def start(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._run, name=f"lease-{self.lease.name}", daemon=True)
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.step()
            except Exception:  # never let the keeper die: a dead keeper would hold nothing forever
                log.exception("lease %s: keeper round failed", self.lease.name)
                wait = self.retry_every
            self._stop.wait(wait)

    def stop(self, *, release: bool = True) -> None:
        """Stop keeping the lease; give it back if held (unless ``release=False``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.lease.ttl))
        if self.active and release:
            self._release()
            log.info("lease %s: released by %s (term %d)", self.lease.name, self.lease.owner, self.lease.term)
        self.active = False
