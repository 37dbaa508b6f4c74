"""guarded_call: one platform request through the breaker and the limiter."""

from __future__ import annotations

import pytest

from adapters.base import PlatformAPIError
from channelmgr.models import ChannelConnection
from channelmgr.resilience.breaker import breaker_for
from channelmgr.resilience.guard import Backpressure, guarded_call
from channelmgr.resilience.limiter import limiter_for

TRANSIENT = PlatformAPIError("502", permanent=False, status=502)


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.PLATFORMS = {**settings.PLATFORMS, "airbnb": {**settings.PLATFORMS["airbnb"], "rate_limit": 2}}
    settings.BREAKER_FAILURE_THRESHOLD = 2
    settings.BREAKER_TIMEOUT_SECONDS = 60.0


def call(cache_backend, clock, fn=lambda: "ok", connection=None):
    return guarded_call(
        platform="airbnb", account="app", connection=connection, fn=fn, clock=clock, cache=cache_backend
    )


def raising(exc):
    def fn():
        raise exc

    return fn


def test_it_returns_what_the_request_returned_and_spends_one_grant(cache_backend, clock):
    assert call(cache_backend, clock) == "ok"
    assert limiter_for(platform="airbnb", account="app", cache=cache_backend, clock=clock).current_usage() == 1


def test_a_full_limiter_raises_backpressure_with_its_wait_and_skips_the_request(cache_backend, clock):
    call(cache_backend, clock)
    clock.advance(0.4)
    call(cache_backend, clock)
    with pytest.raises(Backpressure) as deferred:
        call(cache_backend, clock, fn=pytest.fail)
    assert deferred.value.reason == "rate_limited"
    assert deferred.value.delay_seconds == pytest.approx(1.05 - 0.4)
    assert deferred.value.delay == 650, "dramatiq's delay, in milliseconds"


def test_an_open_breaker_raises_backpressure_for_its_remaining_time_without_spending_a_grant(cache_backend, clock):
    for _ in range(2):
        with pytest.raises(PlatformAPIError):
            call(cache_backend, clock, fn=raising(TRANSIENT))
    clock.advance(2)  # the limiter's window is over, the breaker's timeout is not
    with pytest.raises(Backpressure) as deferred:
        call(cache_backend, clock, fn=pytest.fail)
    assert deferred.value.reason == "circuit_open"
    assert deferred.value.delay_seconds == pytest.approx(58)
    assert limiter_for(platform="airbnb", account="app", cache=cache_backend, clock=clock).current_usage() == 0


def test_a_full_limiter_gives_the_half_open_probe_slot_back(cache_backend, clock):
    breaker = breaker_for("airbnb", cache=cache_backend, clock=clock)
    for _ in range(2):
        with pytest.raises(PlatformAPIError):
            call(cache_backend, clock, fn=raising(TRANSIENT))
    clock.advance(60)
    limiter = limiter_for(platform="airbnb", account="app", cache=cache_backend, clock=clock)
    limiter.pause(5)
    with pytest.raises(Backpressure):
        call(cache_backend, clock, fn=pytest.fail)
    assert breaker.get_stats()["probes_in_flight"] == 0


def test_transient_errors_are_counted_and_re_raised_permanent_ones_only_re_raised(cache_backend, clock):
    breaker = breaker_for("airbnb", cache=cache_backend, clock=clock)
    for _ in range(3):
        with pytest.raises(PlatformAPIError):
            call(cache_backend, clock, fn=raising(PlatformAPIError("403", permanent=True, status=403)))
        clock.advance(1.05)
    assert breaker.get_state() == "closed"
    with pytest.raises(PlatformAPIError):
        call(cache_backend, clock, fn=raising(TRANSIENT))
    assert breaker.get_stats()["failures"] == 1


def test_a_429_pauses_the_account_everywhere_for_its_retry_after(cache_backend, clock):
    with pytest.raises(PlatformAPIError) as raised:
        call(cache_backend, clock, fn=raising(PlatformAPIError("429", permanent=False, status=429, retry_after=30)))
    assert raised.value.retry_after == 30
    with pytest.raises(Backpressure) as deferred:
        call(cache_backend, clock, fn=pytest.fail)
    assert deferred.value.delay_seconds == pytest.approx(30)


def test_a_429_without_retry_after_carries_the_window(cache_backend, clock):
    with pytest.raises(PlatformAPIError) as raised:
        call(cache_backend, clock, fn=raising(PlatformAPIError("429", permanent=False, status=429)))
    assert raised.value.retry_after == 1.0


def test_a_connection_override_sets_its_own_limit(cache_backend, clock):
    connection = ChannelConnection(pk=41, platform_type="airbnb", rate_limit=1, rate_window=10.0)
    call(cache_backend, clock, connection=connection)
    with pytest.raises(Backpressure) as deferred:
        call(cache_backend, clock, connection=connection)
    assert deferred.value.delay_seconds == pytest.approx(10.5)


# --- a budget shared by pulls and pushes --------------------------------------------------------


def _grants(cache_backend, clock, purpose, platform="booking_com", most=50):
    """How many requests of ``purpose`` go through in a row, and why the next one did not."""
    granted = 0
    for _ in range(most):
        try:
            guarded_call(
                platform=platform, account="acct", fn=lambda: "ok", clock=clock, cache=cache_backend, purpose=purpose
            )
        except Backpressure as exc:
            return granted, exc.reason
        granted += 1
    return granted, None


def _push_backlog(cache_backend, clock, seconds):
    """Pushes sent as fast as the guard lets them for ``seconds``: (grant times, refusals' waits)."""
    from channelmgr.resilience.guard import Purpose

    started, granted, waits = clock(), [], []
    while clock() - started < seconds:
        try:
            guarded_call(
                platform="booking_com", account="acct", fn=lambda: "ok", clock=clock, cache=cache_backend,
                purpose=Purpose.PUSH,
            )  # fmt: skip
        except Backpressure as exc:
            waits.append((exc.reason, exc.delay_seconds))
            clock.advance(max(min(exc.delay_seconds, started + seconds - clock()), 0.001))
            continue
        granted.append(clock() - started)
    return granted, waits


def test_pushes_on_a_long_window_are_paced_not_spent_in_one_burst(cache_backend, clock):
    from channelmgr.resilience.guard import PACE_BURST, Purpose, purpose_cap

    breaker_for("booking_com", cache=cache_backend, clock=clock).reset()
    interval = 60.0 / purpose_cap(20, Purpose.PUSH)  # 4 s of Booking.com's 15 pushes a minute
    granted, waits = _push_backlog(cache_backend, clock, 45.0)
    # A small burst after the quiet spell, then one an interval: never fifteen at once, never a wait of
    # the rest of the minute.
    assert granted[:PACE_BURST] == [0.0] * PACE_BURST == [0.0, 0.0]
    gaps = [b - a for a, b in zip(granted[PACE_BURST - 1 :], granted[PACE_BURST:], strict=False)]
    assert gaps and all(abs(gap - interval) < 0.01 for gap in gaps), gaps
    assert {reason for reason, _ in waits} == {"push_paced"}
    assert max(wait for _, wait in waits) <= interval + 0.001


def test_paced_pushes_still_keep_to_their_share_of_the_window(cache_backend, clock):
    from channelmgr.resilience.guard import Purpose, purpose_cap

    breaker_for("booking_com", cache=cache_backend, clock=clock).reset()
    granted, waits = _push_backlog(cache_backend, clock, 59.0)
    assert len(granted) == purpose_cap(20, Purpose.PUSH) == 15
    assert waits[-1][0] == "push_share_used"
    # The share's refusal gave the pacer its grant back: the next push goes as soon as the window allows.
    clock.advance(waits[-1][1])
    assert _push_backlog(cache_backend, clock, 0.001)[0][0] == 0.0


def test_a_push_refused_by_the_account_limit_gives_its_pace_back(cache_backend, clock):
    from channelmgr.resilience.guard import PACE_BURST, Purpose

    breaker_for("booking_com", cache=cache_backend, clock=clock).reset()
    limiter_for(platform="booking_com", account="acct", cache=cache_backend, clock=clock)
    full = limiter_for(platform="booking_com", account="acct", cache=cache_backend, clock=clock)
    for _ in range(20):
        assert full.acquire()
    for _ in range(5):  # refused by the account's limit, each time: the pace is not spent on them
        assert _grants(cache_backend, clock, Purpose.PUSH) == (0, "rate_limited")
    full.reset()
    assert _grants(cache_backend, clock, Purpose.PUSH) == (PACE_BURST, "push_paced")


def test_a_backlog_of_pushes_leaves_the_pulls_their_share(cache_backend, clock):
    from channelmgr.resilience.guard import Purpose

    breaker_for("booking_com", cache=cache_backend, clock=clock).reset()
    granted, _ = _push_backlog(cache_backend, clock, 59.0)  # within one window of the first push
    assert len(granted) == 15  # the push share, paced
    assert _grants(cache_backend, clock, Purpose.PULL) == (5, "rate_limited")  # the reserve of the 20


def test_a_backlog_of_pulls_leaves_the_pushes_their_share(cache_backend, clock):
    from channelmgr.resilience.guard import Purpose

    breaker_for("booking_com", cache=cache_backend, clock=clock).reset()
    assert _grants(cache_backend, clock, Purpose.PULL) == (10, "pull_share_used")
    granted, waits = _push_backlog(cache_backend, clock, 59.0)
    assert len(granted) == 10  # paced, until the account's 20 are spent
    assert waits[-1][0] == "rate_limited"


def test_a_platform_that_only_pushes_has_no_shares(cache_backend, clock):
    from channelmgr.resilience.guard import Purpose

    breaker_for("airbnb", cache=cache_backend, clock=clock).reset()
    assert _grants(cache_backend, clock, Purpose.PUSH, platform="airbnb") == (2, "rate_limited")


def test_a_pacer_whose_cache_is_down_paces_nothing_and_the_limiter_still_counts(clock):
    from channelmgr.resilience.pacer import Pacer

    from .conftest import BrokenCache

    pacer = Pacer("ratelimit:booking_com:acct:push:pace", 4.0, burst=2, cache=BrokenCache(), clock=clock)
    assert all(pacer.acquire() for _ in range(5))
    assert pacer.time_until_available() == 0.0
    pacer.refund()
    pacer.reset()


def test_a_success_after_a_failure_clears_it(cache_backend, clock):
    """The breaker counts consecutive failures: a success in between (let in on the one-step path on
    Redis, which reads the count with the grant) starts the count again."""
    with pytest.raises(PlatformAPIError):
        call(cache_backend, clock, fn=raising(TRANSIENT))
    clock.advance(1.1)
    assert call(cache_backend, clock) == "ok"
    clock.advance(1.1)
    with pytest.raises(PlatformAPIError):
        call(cache_backend, clock, fn=raising(TRANSIENT))
    clock.advance(1.1)
    assert call(cache_backend, clock) == "ok", "one failure since the success: the breaker is still closed"


@pytest.fixture
def expedia_small(settings):
    """Expedia (pulled and pushed to, so its requests draw on a purpose's share too) at 4 a second: the
    push share is 3, and pushes are not paced (one every 1/3 s)."""
    settings.PLATFORMS = {
        **settings.PLATFORMS,
        "expedia": {**settings.PLATFORMS["expedia"], "rate_limit": 4, "rate_window": 1.0},
    }


def _push(platform, cache_backend, clock, fn=lambda: "ok"):
    from channelmgr.resilience.guard import Purpose

    return guarded_call(
        platform=platform, account="acct", fn=fn, clock=clock, cache=cache_backend, purpose=Purpose.PUSH
    )


@pytest.mark.parametrize("cache_backend", ["redis"], indirect=True)
def test_on_redis_a_request_is_admitted_in_one_round_trip(cache_backend, clock, expedia_small, monkeypatch):
    """The breaker's check, the push share's grant and the account's: one script call, not one each."""
    import redis

    from channelmgr.resilience.guard import Purpose, _pacer, _share_limiter

    limiter = limiter_for(platform="expedia", account="acct", cache=cache_backend, clock=clock)
    assert _pacer(limiter, Purpose.PUSH) is None and _share_limiter(limiter, Purpose.PUSH) is not None
    _push("expedia", cache_backend, clock)  # loads the script into Redis
    sent = []
    execute = redis.Redis.execute_command
    monkeypatch.setattr(
        redis.Redis, "execute_command", lambda self, *a, **kw: sent.append(a[0]) or execute(self, *a, **kw)
    )
    _push("expedia", cache_backend, clock, fn=lambda: sent.append("the request"))
    assert sent == ["EVALSHA", "the request"]
    monkeypatch.undo()
    assert limiter.current_usage() == 2
    assert _share_limiter(limiter, Purpose.PUSH).current_usage() == 2


@pytest.mark.parametrize("cache_backend", ["redis"], indirect=True)
def test_on_redis_an_account_without_room_takes_no_grant_of_the_share_either(cache_backend, clock, expedia_small):
    """All or none: a push the account refuses leaves the push share as it was (step by step, the share's
    grant was spent before the account said no, and a window's pushes lost a slot)."""
    from channelmgr.resilience.guard import Purpose, _share_limiter

    limiter = limiter_for(platform="expedia", account="acct", cache=cache_backend, clock=clock)
    for _ in range(4):
        assert limiter.acquire()
    with pytest.raises(Backpressure) as deferred:
        _push("expedia", cache_backend, clock, fn=pytest.fail)
    assert deferred.value.reason == "rate_limited"
    assert deferred.value.delay_seconds == pytest.approx(1.05)
    assert _share_limiter(limiter, Purpose.PUSH).current_usage() == 0


@pytest.mark.parametrize("cache_backend", ["redis"], indirect=True)
def test_on_redis_a_full_share_refuses_before_the_account_is_spent(cache_backend, clock, expedia_small):
    from channelmgr.resilience.guard import Purpose, _share_limiter

    limiter = limiter_for(platform="expedia", account="acct", cache=cache_backend, clock=clock)
    for _ in range(3):
        _push("expedia", cache_backend, clock)
    with pytest.raises(Backpressure) as deferred:
        _push("expedia", cache_backend, clock, fn=pytest.fail)
    assert deferred.value.reason == "push_share_used"
    assert (limiter.current_usage(), _share_limiter(limiter, Purpose.PUSH).current_usage()) == (3, 3)


def test_an_account_paused_and_full_waits_for_the_later_of_the_two(cache_backend, clock, expedia_small):
    """A 429's pause that ends before the window frees a grant: the wait is until the window frees one
    (waking at the end of the pause would only be refused again)."""
    limiter = limiter_for(platform="expedia", account="acct", cache=cache_backend, clock=clock)
    for _ in range(4):
        assert limiter.acquire()
    limiter.pause(0.5)
    with pytest.raises(Backpressure) as deferred:
        _push("expedia", cache_backend, clock, fn=pytest.fail)
    assert deferred.value.reason == "rate_limited"
    assert deferred.value.delay_seconds == pytest.approx(1.05)
