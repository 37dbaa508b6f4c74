"""The sliding-window limiter on both cache backends, with an injected clock."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from channelmgr.resilience.errors import Backpressure
from channelmgr.resilience.limiter import RateLimiter

from .conftest import BrokenCache, FakeClock


def make(cache_backend, clock, limit=10, window=1.0, key="acct", **kwargs):
    return RateLimiter(key, limit, window, cache=cache_backend, clock=clock, sleep=clock.sleep, **kwargs)


def test_it_grants_up_to_the_limit_then_refuses(cache_backend, clock):
    limiter = make(cache_backend, clock)
    assert [limiter.acquire() for _ in range(10)] == [True] * 10
    assert limiter.acquire() is False
    assert limiter.current_usage() == 10


def test_it_grants_again_once_the_window_and_its_margin_have_passed(cache_backend, clock):
    limiter = make(cache_backend, clock)
    for _ in range(10):
        limiter.acquire()
    clock.advance(1.0)
    assert limiter.acquire() is False, "the 50 ms margin is still running"
    clock.advance(0.05)
    assert [limiter.acquire() for _ in range(11)] == [True] * 10 + [False]


def test_the_window_slides_instead_of_resetting_on_a_boundary(cache_backend, clock):
    limiter = make(cache_backend, clock, margin_seconds=0)
    for _ in range(6):
        assert limiter.acquire()
    clock.advance(0.6)
    for _ in range(4):
        assert limiter.acquire()
    clock.advance(0.5)  # 1.1 s after the first six, 0.5 s after the last four
    assert [limiter.acquire() for _ in range(7)] == [True] * 6 + [False]
    assert limiter.current_usage() == 10
    assert limiter.time_until_available() == pytest.approx(0.5)


def test_time_until_available_counts_down_to_the_oldest_grant(cache_backend, clock):
    limiter = make(cache_backend, clock, limit=2, window=60.0, margin_seconds=0)
    assert limiter.time_until_available() == 0.0
    limiter.acquire()
    clock.advance(20)
    limiter.acquire()
    assert limiter.time_until_available() == pytest.approx(40)
    clock.advance(40)
    assert limiter.time_until_available() == 0.0
    assert limiter.current_usage() == 1


def test_blocking_acquire_waits_for_the_next_slot(cache_backend, clock):
    limiter = make(cache_backend, clock, limit=1, window=5.0, margin_seconds=0)
    started = clock()
    assert limiter.acquire(blocking=True)
    assert limiter.acquire(blocking=True, timeout=10)
    assert 5.0 <= clock() - started <= 5.0 + limiter.jitter  # waiters wake spread over a little jitter


def test_blocking_acquire_gives_up_when_the_timeout_is_shorter_than_the_wait(cache_backend, clock):
    limiter = make(cache_backend, clock, limit=1, window=5.0, margin_seconds=0)
    limiter.acquire()
    started = clock()
    assert limiter.acquire(blocking=True, timeout=2) is False
    assert clock() - started < 2


def test_reset_frees_every_slot(cache_backend, clock):
    limiter = make(cache_backend, clock, limit=3)
    for _ in range(3):
        limiter.acquire()
    limiter.reset()
    assert limiter.current_usage() == 0
    assert limiter.acquire()


def test_pause_refuses_every_grant_until_the_platforms_retry_after(cache_backend, clock):
    limiter = make(cache_backend, clock)
    limiter.pause(30)
    assert limiter.acquire() is False
    assert limiter.time_until_available() == pytest.approx(30)
    clock.advance(30)
    assert limiter.acquire()


def test_limiters_with_other_keys_do_not_share_capacity(cache_backend, clock):
    first, second = make(cache_backend, clock, limit=1, key="a"), make(cache_backend, clock, limit=1, key="b")
    assert first.acquire() and second.acquire()
    assert not first.acquire() and not second.acquire()


def test_limiters_built_separately_share_the_state_in_the_cache(cache_backend, clock):
    for _ in range(5):
        assert make(cache_backend, clock, limit=5).acquire()
    assert make(cache_backend, clock, limit=5).acquire() is False


def test_acquire_ctx_raises_backpressure_with_the_wait_when_asked(cache_backend, clock):
    limiter = make(cache_backend, clock, limit=1, window=60.0, margin_seconds=0)
    with limiter.acquire_ctx() as acquired:
        assert acquired
    with limiter.acquire_ctx() as acquired:
        assert not acquired
    with pytest.raises(Backpressure) as raised:
        with limiter.acquire_ctx(raise_on_failure=True):
            pytest.fail("must not run")
    assert raised.value.delay_seconds == pytest.approx(60)
    assert raised.value.reason == "rate_limited"


def test_every_key_it_writes_expires(cache_backend, clock):
    if not hasattr(cache_backend, "test_redis_client"):
        pytest.skip("TTLs are checked on Redis")
    limiter = make(cache_backend, clock, limit=3, window=60.0)
    for _ in range(4):
        limiter.acquire()
    limiter.pause(5)
    client = cache_backend.test_redis_client
    keys = list(client.scan_iter(f"{cache_backend.test_prefix}:*"))
    assert sorted(key.decode().rsplit(":", 1)[1] for key in keys) == ["log", "pause-us"]
    assert all(0 < client.ttl(key) <= 2 * 60.5 + 11 for key in keys)


@pytest.mark.parametrize("limit, window", [(0, 1.0), (-1, 1.0), (5, 0), (5, -2.0)])
def test_it_refuses_a_limit_or_window_that_is_not_positive(limit, window):
    with pytest.raises(ImproperlyConfigured):
        RateLimiter("bad", limit, window)


# --- the two races of the slot tokens' proof (the Django-cache storage), played step by step ---------


class InterleavingCache:
    """Runs ``before_add`` once, just before the first ``add`` reaches the real cache.

    It is no RedisCache, so a limiter on it keeps its slot tokens through the cache API even on Redis.
    """

    def __init__(self, cache, before_add=None):
        self._cache, self._before_add = cache, before_add

    def add(self, *args, **kwargs):
        hook, self._before_add = self._before_add, None
        if hook:
            hook()
        return self._cache.add(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._cache, name)


def test_a_claim_that_lands_after_the_next_epochs_grant_withdraws(cache_backend):
    # A reads at the end of epoch g; before its add lands, B (epoch g+1) sees the slot free and wins.
    epoch = 1.0
    clock_a, clock_b = FakeClock(1000 * epoch - 0.01), FakeClock(1000 * epoch + 0.3)
    limiter_b = RateLimiter("race", 1, epoch, cache=InterleavingCache(cache_backend), clock=clock_b, margin_seconds=0)
    results = {}

    def b_runs_first():
        results["b"] = limiter_b.acquire()
        clock_a.now = clock_b.now  # A's add lands after B's, so A's clock has moved on too

    limiter_a = RateLimiter(
        "race", 1, epoch, cache=InterleavingCache(cache_backend, b_runs_first), clock=clock_a, margin_seconds=0
    )
    results["a"] = limiter_a.acquire()
    assert results == {"b": True, "a": False}


def test_a_claim_that_saw_no_previous_grant_withdraws_when_one_appeared(cache_backend):
    # B (epoch g+1) read an empty previous epoch; A's claim of epoch g lands before B's add.
    epoch = 1.0
    clock_a, clock_b = FakeClock(1000 * epoch - 0.01), FakeClock(1000 * epoch + 0.3)
    limiter_a = RateLimiter("race", 1, epoch, cache=InterleavingCache(cache_backend), clock=clock_a, margin_seconds=0)
    results = {}

    def a_runs_first():
        results["a"] = limiter_a.acquire()

    limiter_b = RateLimiter(
        "race", 1, epoch, cache=InterleavingCache(cache_backend, a_runs_first), clock=clock_b, margin_seconds=0
    )
    results["b"] = limiter_b.acquire()
    assert results == {"a": True, "b": False}
    assert limiter_b.time_until_available() == pytest.approx(clock_a() + epoch - clock_b()), "B's claim is gone"
    clock_b.now = clock_a() + epoch
    assert limiter_b.acquire()


# --- a refusal always means the window is full (issue 13: refusals with a wait of 0.0 s) ------------


class TickingClock(FakeClock):
    """A clock that moves a little on every reading, as a real one does between two reads."""

    def __init__(self, start: float, tick: float):
        super().__init__(start)
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_an_attempt_that_straddles_an_epoch_boundary_is_tried_again_not_refused(cache_backend):
    # The slot tokens read the clock before and after reading the slots: an epoch boundary between the
    # two made acquire() refuse, and time_until_available() then said 0.0 (nothing was in use).
    for ticks_before in range(8):  # one of these straddles the boundary, whichever read it falls between
        clock = TickingClock(1000 * 1.05 - ticks_before * 0.001, tick=0.001)
        limiter = RateLimiter(f"edge-{ticks_before}", 100, 1.0, cache=cache_backend, clock=clock)
        assert limiter.acquire(), f"refused {ticks_before} ticks before the boundary"
        assert limiter.current_usage() == 1


class StallOnce:
    """Moves the clock forward during the first call of ``method``: the process stalled mid-claim."""

    def __init__(self, target, method: str, clock: FakeClock, seconds: float):
        self._target, self._method, self._clock, self._seconds = target, method, clock, seconds

    def __getattr__(self, name):
        attribute = getattr(self._target, name)
        if name != self._method or not self._seconds:
            return attribute

        def stalled(*args, **kwargs):
            result = attribute(*args, **kwargs)
            self._clock.advance(self._seconds)
            self._seconds = 0
            return result

        return stalled


def test_a_grant_given_back_after_a_stall_is_tried_again_at_once(cache_backend, clock):
    limiter = make(cache_backend, clock, limit=3)
    storage = limiter._storage
    if hasattr(storage, "redis"):  # the stall: the script's reply came back late
        storage.redis = StallOnce(storage.redis, "execute_command", clock, 0.2)
    else:  # the stall: between reading the clock and the add landing
        storage.cache = StallOnce(storage.cache, "add", clock, 0.2)
    assert limiter.acquire() is True
    assert limiter.current_usage() == 1, "the stalled grant was given back"
    assert [limiter.acquire() for _ in range(3)] == [True, True, False]


def test_a_non_blocking_acquire_far_below_the_limit_is_never_refused(cache_backend):
    # 16 threads ask for 160 grants of a limit of 400 a second: every one is granted at once.
    limiter = RateLimiter(f"far-below-{time.time()}", 400, 1.0, cache=cache_backend)
    refusals, lock = [], threading.Lock()

    def ask():
        for _ in range(10):
            if not limiter.acquire():
                with lock:
                    refusals.append(limiter.time_until_available())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refusals == []


def test_a_process_too_busy_to_keep_a_grant_is_refused_with_a_wait(cache_backend, clock):
    limiter = make(cache_backend, clock, limit=3)
    storage = limiter._storage
    storage.attempt = lambda: (False, None, 0)  # contended on every try: lost races, stalls
    assert limiter.acquire() is False
    assert limiter.time_until_available() > 0


# --- Redis: one atomic script on the server's clock ---------------------------------------------


def redis_only(cache_backend):
    if not hasattr(cache_backend, "test_redis_client"):
        pytest.skip("the Lua script runs on Redis")


class Recording:
    """Records every call made through ``target``: (method, its first argument)."""

    def __init__(self, target):
        self._target, self.calls = target, []

    def __getattr__(self, name):
        attribute = getattr(self._target, name)

        def recorded(*args, **kwargs):
            self.calls.append((name, args[0] if args else None))
            return attribute(*args, **kwargs)

        return recorded


@pytest.mark.parametrize("limit", [10, 100, 1000])
def test_on_redis_acquire_is_one_script_call_whatever_the_limit(cache_backend, clock, limit):
    redis_only(cache_backend)
    limiter = make(cache_backend, clock, limit=limit)
    for _ in range(limit - 1):
        limiter.acquire()
    limiter._storage.redis = recording = Recording(limiter._storage.redis)
    assert limiter.acquire() is True
    assert limiter.acquire() is False
    assert recording.calls == [("execute_command", "EVALSHA")] * 2


def test_on_redis_processes_whose_clocks_disagree_share_one_window(cache_backend):
    # Each limiter runs on Redis's clock: one 30 s ahead and one on time see the same grant times.
    import time_machine

    redis_only(cache_backend)
    with time_machine.travel(time.time() + 30, tick=True):
        ahead = RateLimiter("skew", 1, 60.0, cache=cache_backend)
        assert ahead.acquire()
    on_time = RateLimiter("skew", 1, 60.0, cache=cache_backend)
    assert on_time.acquire() is False
    assert 59.0 < on_time.time_until_available() <= 60.5
    assert on_time.current_usage() == 1


def test_on_redis_a_lost_script_is_loaded_again(cache_backend, clock):
    redis_only(cache_backend)
    limiter = make(cache_backend, clock, limit=2)
    cache_backend.test_redis_client.script_flush()
    assert limiter.acquire() and limiter.acquire() and not limiter.acquire()


# --- storage down ------------------------------------------------------------------------------


def unreachable_redis():
    from django.core.cache.backends.redis import RedisCache

    return RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.5}})


@pytest.mark.parametrize("down", [BrokenCache, unreachable_redis], ids=["cache", "redis"])
def test_it_keeps_a_per_process_limit_and_warns_when_the_cache_is_down(down, clock, caplog):
    limiter = RateLimiter(f"down-{time.time()}", 3, 60.0, cache=down(), clock=clock)
    with caplog.at_level(logging.WARNING, logger="channelmgr.resilience.limiter"):
        assert [limiter.acquire() for _ in range(4)] == [True, True, True, False]
    assert "cache unreachable" in caplog.text
    assert limiter.current_usage() == 3
    assert limiter.time_until_available() == pytest.approx(60.5)
    limiter.pause(120)
    assert limiter.time_until_available() == pytest.approx(120)
    limiter.reset()
    assert limiter.acquire()


# --- real threads, real time: a short check that the claims hold under contention --------------


def test_sixteen_threads_never_get_more_than_the_limit_in_any_window(cache_backend):
    limiter = RateLimiter("threads", 5, 0.25, cache=cache_backend)
    grants, end = [], time.time() + 1.2
    lock = threading.Lock()

    def hammer():
        while time.time() < end:
            if limiter.acquire(blocking=True, timeout=end - time.time()):
                granted_at = time.time()
                with lock:
                    grants.append(granted_at)

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    grants.sort()
    assert all(later - earlier >= 0.25 for earlier, later in zip(grants, grants[5:], strict=False))
    assert len(grants) >= 5 * 3  # at least 3 of the 4 windows' worth in 1.2 s (the process test measures rate)
