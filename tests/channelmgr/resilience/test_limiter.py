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
    assert len(keys) == 4
    assert all(0 < client.ttl(key) <= 2 * 60.5 + 11 for key in keys)


@pytest.mark.parametrize("limit, window", [(0, 1.0), (-1, 1.0), (5, 0), (5, -2.0)])
def test_it_refuses_a_limit_or_window_that_is_not_positive(limit, window):
    with pytest.raises(ImproperlyConfigured):
        RateLimiter("bad", limit, window)


# --- the two races of the proof, played step by step -------------------------------------------


class InterleavingCache:
    """Runs ``before_add`` once, just before the first ``add`` reaches the real cache."""

    def __init__(self, cache, before_add):
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
    limiter_b = RateLimiter("race", 1, epoch, cache=cache_backend, clock=clock_b, margin_seconds=0)
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
    limiter_a = RateLimiter("race", 1, epoch, cache=cache_backend, clock=clock_a, margin_seconds=0)
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


# --- storage down ------------------------------------------------------------------------------


def test_it_keeps_a_per_process_limit_and_warns_when_the_cache_is_down(clock, caplog):
    limiter = RateLimiter(f"down-{time.time()}", 3, 60.0, cache=BrokenCache(), clock=clock)
    with caplog.at_level(logging.WARNING, logger="channelmgr.resilience.limiter"):
        assert [limiter.acquire() for _ in range(4)] == [True, True, True, False]
    assert "cache unreachable" in caplog.text
    assert limiter.current_usage() == 3


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
