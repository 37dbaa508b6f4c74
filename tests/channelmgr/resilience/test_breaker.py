"""The circuit breaker on both cache backends, with an injected clock."""

from __future__ import annotations

import logging

import pytest
import requests
from prometheus_client import REGISTRY

from adapters.base import PlatformAPIError
from channelmgr.resilience.breaker import CircuitBreaker, breaker_for
from channelmgr.resilience.errors import CircuitOpenError

from .conftest import BrokenCache

TRANSIENT = PlatformAPIError("503 from platform", permanent=False, status=503)
PERMANENT = PlatformAPIError("401 bad credentials", permanent=True, status=401)


def make(cache_backend, clock, name="airbnb", **kwargs):
    options = {"failure_threshold": 3, "success_threshold": 2, "timeout_seconds": 60, "half_open_probes": 1}
    return CircuitBreaker(name, cache=cache_backend, clock=clock, **(options | kwargs))


def fail_with(exc):
    def fn():
        raise exc

    return fn


def fail(breaker, exc=TRANSIENT, times=1):
    for _ in range(times):
        with pytest.raises(type(exc)):
            breaker.call(fail_with(exc))


def open_breaker(breaker):
    fail(breaker, times=breaker.failure_threshold)
    assert breaker.get_state() == "open"


def test_it_opens_after_the_threshold_of_consecutive_transient_failures(cache_backend, clock):
    breaker = make(cache_backend, clock)
    fail(breaker, times=2)
    assert breaker.get_state() == "closed"
    fail(breaker)
    assert breaker.get_state() == "open"


def test_a_success_resets_the_consecutive_count(cache_backend, clock):
    breaker = make(cache_backend, clock)
    fail(breaker, times=2)
    assert breaker.call(lambda: "ok") == "ok"
    fail(breaker, times=2)
    assert breaker.get_state() == "closed"
    assert breaker.get_stats()["failures"] == 2


def test_an_open_breaker_refuses_calls_with_the_remaining_time(cache_backend, clock):
    breaker = make(cache_backend, clock)
    open_breaker(breaker)
    clock.advance(45)
    with pytest.raises(CircuitOpenError) as refused:
        breaker.call(pytest.fail)
    assert refused.value.retry_after == pytest.approx(15)
    assert breaker.remaining_open_seconds() == pytest.approx(15)


def test_after_the_timeout_it_admits_one_probe_at_a_time(cache_backend, clock):
    breaker = make(cache_backend, clock)
    open_breaker(breaker)
    clock.advance(60)
    assert breaker.get_state() == "half_open"
    probe = breaker.admit()
    with pytest.raises(CircuitOpenError) as refused:
        breaker.admit()
    assert refused.value.state == "half_open"
    assert breaker.get_stats()["probes_in_flight"] == 1
    breaker.record_success(probe)
    assert breaker.get_state() == "half_open", "one success of two"
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.get_state() == "closed"


def test_it_admits_the_configured_number_of_concurrent_probes(cache_backend, clock):
    breaker = make(cache_backend, clock, half_open_probes=3)
    open_breaker(breaker)
    clock.advance(60)
    probes = [breaker.admit() for _ in range(3)]
    assert {p.kind for p in probes} == {"probe"}
    with pytest.raises(CircuitOpenError):
        breaker.admit()
    breaker.release(probes[0])
    assert breaker.admit().kind == "probe"


def test_a_failed_probe_opens_it_again_for_a_full_timeout(cache_backend, clock):
    breaker = make(cache_backend, clock)
    open_breaker(breaker)
    clock.advance(61)
    fail(breaker)
    assert breaker.get_state() == "open"
    assert breaker.remaining_open_seconds() == pytest.approx(60)


@pytest.mark.parametrize("error", [PERMANENT, ValueError("our own bug"), KeyError("x")])
def test_errors_that_are_not_transient_never_count(cache_backend, clock, error):
    breaker = make(cache_backend, clock)
    fail(breaker, exc=error, times=10)
    assert breaker.get_state() == "closed"
    assert breaker.get_stats()["failures"] == 0


@pytest.mark.parametrize(
    "error",
    [
        PlatformAPIError("429", permanent=False, status=429, retry_after=5),
        PlatformAPIError("timed out", permanent=False),
        requests.Timeout("read timed out"),
        requests.ConnectionError("refused"),
        TimeoutError(),
    ],
)
def test_timeouts_5xx_and_429_count(cache_backend, clock, error):
    breaker = make(cache_backend, clock)
    fail(breaker, exc=error, times=3)
    assert breaker.get_state() == "open"


def test_a_permanent_error_from_a_probe_gives_the_slot_back_and_changes_nothing(cache_backend, clock):
    breaker = make(cache_backend, clock)
    open_breaker(breaker)
    clock.advance(60)
    fail(breaker, exc=PERMANENT)
    assert breaker.get_state() == "half_open"
    assert breaker.admit().kind == "probe"


def test_breakers_of_two_processes_share_the_state(cache_backend, clock):
    open_breaker(make(cache_backend, clock))
    assert make(cache_backend, clock).get_state() == "open"
    assert make(cache_backend, clock, name="expedia").get_state() == "closed"


def test_reset_closes_it(cache_backend, clock):
    breaker = make(cache_backend, clock)
    open_breaker(breaker)
    breaker.reset()
    assert breaker.get_state() == "closed"
    assert breaker.call(lambda: 1) == 1


def test_transitions_and_failures_are_recorded_in_the_metrics(cache_backend, clock):
    name = f"metrics-{id(cache_backend)}"
    breaker = make(cache_backend, clock, name=name)

    def sample(metric, **labels):
        return REGISTRY.get_sample_value(metric, {"platform": name, **labels}) or 0

    open_breaker(breaker)
    clock.advance(60)
    breaker.call(lambda: 1)
    breaker.call(lambda: 1)
    assert sample("channel_manager_circuit_breaker_failures_total") == 3
    for from_state, to_state in (("closed", "open"), ("open", "half_open"), ("half_open", "closed")):
        changes = sample(
            "channel_manager_circuit_breaker_state_changes_total", from_state=from_state, to_state=to_state
        )
        assert changes == 1, (from_state, to_state)
    assert sample("channel_manager_circuit_breaker_state") == 0


def test_it_lets_every_call_through_and_warns_when_the_cache_is_down(clock, caplog):
    breaker = CircuitBreaker("down", failure_threshold=1, cache=BrokenCache(), clock=clock)
    with caplog.at_level(logging.WARNING, logger="channelmgr.resilience.breaker"):
        fail(breaker, times=5)
        assert breaker.call(lambda: "through") == "through"
    assert breaker.get_state() == "closed"
    assert "cache unreachable" in caplog.text


def test_breaker_for_reads_the_breaker_settings(settings):
    settings.BREAKER_FAILURE_THRESHOLD, settings.BREAKER_TIMEOUT_SECONDS = 7, 30.0
    breaker = breaker_for("booking_com")
    assert (breaker.name, breaker.failure_threshold, breaker.timeout_seconds) == ("booking_com", 7, 30.0)
