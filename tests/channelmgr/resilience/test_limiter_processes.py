"""4 processes x 8 threads on one limiter in Redis, in real time: the limit holds in every sliding
window, and a standing backlog gets at least 90% of it."""

from __future__ import annotations

import multiprocessing
import os
import uuid

import pytest

from .conftest import REDIS_URL, flush_prefix, redis_client_or_skip

PROCESSES, THREADS, WINDOWS = 4, 8, 3


def hammer_from_processes(limit: int, window: float, seconds: float) -> list[float]:
    from ._hammer import hammer

    key = f"test-procs-{uuid.uuid4().hex[:10]}"
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(PROCESSES) as pool:
        ready = manager.Barrier(PROCESSES)
        results = pool.starmap(hammer, [(REDIS_URL, key, limit, window, THREADS, ready, seconds)] * PROCESSES)
    flush_prefix(redis_client_or_skip(), f"cm:1:{key}")
    return sorted(t for grants in results for t in grants)


def assert_limit_held_and_used(grants: list[float], limit: int, window: float) -> None:
    assert len(grants) > limit, f"only {len(grants)} grants"
    # Sorted grant times: a window holding limit + 1 grants would have grants[i + limit] - grants[i] < window.
    tightest = min(later - earlier for earlier, later in zip(grants, grants[limit:], strict=False))
    assert tightest >= window, f"{limit + 1} grants within {tightest:.4f}s"
    first = grants[0]
    in_three_windows = sum(1 for t in grants if t < first + WINDOWS * window)
    assert in_three_windows >= 0.9 * WINDOWS * limit, f"{in_three_windows} grants in {WINDOWS} windows"


@pytest.fixture(autouse=True)
def redis_is_up():
    # These measure Redis across processes: one pass is enough, the one configured for services.
    if not os.environ.get("REDIS_URL"):
        pytest.skip("the multi-process limiter tests run in the services pass (REDIS_URL set)")
    redis_client_or_skip()


def test_ten_per_second_holds_across_four_processes_and_runs_near_the_limit():
    grants = hammer_from_processes(limit=10, window=1.0, seconds=WINDOWS + 0.5)
    assert_limit_held_and_used(grants, limit=10, window=1.0)


@pytest.mark.slow
def test_twenty_per_minute_holds_across_four_processes_for_three_windows():
    grants = hammer_from_processes(limit=20, window=60.0, seconds=WINDOWS * 60 + 5)
    assert_limit_held_and_used(grants, limit=20, window=60.0)


def test_guarded_pushes_and_pulls_keep_the_account_and_each_share_across_four_processes():
    """Through the guard (on Redis one script grants in a purpose's share and in the account together):
    the account's limit holds in every window, and so does each purpose's cap, with both hammering."""
    from channelmgr.resilience.guard import Purpose, purpose_cap

    from ._hammer import hammer_guard

    limit, window = 12, 1.0
    account = f"test-guard-procs-{uuid.uuid4().hex[:10]}"
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(PROCESSES) as pool:
        ready = manager.Barrier(PROCESSES)
        args = (REDIS_URL, account, limit, window, THREADS, ready, WINDOWS + 0.5)
        results = pool.starmap(hammer_guard, [args] * PROCESSES)
    flush_prefix(redis_client_or_skip(), f"cm:1:ratelimit:expedia:{account}")
    sent = sorted(request for requests in results for request in requests)
    assert_limit_held_and_used([t for t, _purpose in sent], limit=limit, window=window)
    for purpose in (Purpose.PUSH, Purpose.PULL):  # the shares of a platform that pulls (CATCH_UP: a webhook one's)
        times = [t for t, of in sent if of == str(purpose)]
        cap = purpose_cap(limit, purpose)
        tightest = min(later - earlier for earlier, later in zip(times, times[cap:], strict=False))
        assert tightest >= window, f"{cap + 1} {purpose} requests within {tightest:.4f}s"
