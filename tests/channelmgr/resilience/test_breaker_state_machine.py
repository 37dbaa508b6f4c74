"""A Hypothesis state machine of the breaker against a reference model, on both backends.

Calls overlap: a step starts a call (admission) or finishes one of those in flight, so half-open
probes really are concurrent. Invariants: no call gets in while OPEN before the timeout, HALF_OPEN
never has more probes in flight than configured, and only transient errors move the breaker.
"""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from adapters.base import PlatformAPIError
from channelmgr.resilience.breaker import CircuitBreaker
from channelmgr.resilience.errors import CircuitOpenError

from .conftest import FakeClock

OUTCOMES = {
    "success": None,
    "transient": PlatformAPIError("503", permanent=False, status=503),
    "rate_limited": PlatformAPIError("429", permanent=False, status=429),
    "permanent": PlatformAPIError("400", permanent=True, status=400),
    "bug": ValueError("our own bug"),
}
TRANSIENT_OUTCOMES = {"transient", "rate_limited"}
# 60 examples x 25 steps = 1,500 steps per backend.
MACHINE_SETTINGS = settings(
    max_examples=60, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
)


def breaker_machine(cache):
    class BreakerMachine(RuleBasedStateMachine):
        @initialize(
            failures=st.integers(1, 4),
            successes=st.integers(1, 3),
            timeout=st.sampled_from([1.0, 30.0, 60.0]),
            probes=st.integers(1, 3),
        )
        def build(self, failures, successes, timeout, probes):
            self.clock = FakeClock()
            self.breaker = CircuitBreaker(
                f"sm-{uuid.uuid4().hex[:10]}",
                failure_threshold=failures,
                success_threshold=successes,
                timeout_seconds=timeout,
                half_open_probes=probes,
                cache=cache,
                clock=self.clock,
            )
            # The model: when it opened (None: closed), consecutive failures, and per half-open
            # round its successes and whether someone already left it.
            self.opened_at = None
            self.failures = 0
            self.round_successes = {}
            self.left_rounds = set()
            self.in_flight = []  # (admission, kind, round)

        # --- the model's view -----------------------------------------------------------------

        def model_state(self):
            if self.opened_at is None:
                return "closed"
            return "open" if self.clock() < self.opened_at + self.breaker.timeout_seconds else "half_open"

        def probes_in_flight(self, round_):
            return sum(1 for _, kind, r in self.in_flight if kind == "probe" and r == round_)

        # --- steps ------------------------------------------------------------------------------

        @rule(seconds=st.sampled_from([0.0, 0.5, 1.0, 10.0, 29.9, 30.0, 59.9, 60.0, 61.0]))
        def time_passes(self, seconds):
            self.clock.advance(seconds)

        @rule()
        def a_call_starts(self):
            state = self.model_state()
            try:
                admission = self.breaker.admit()
            except CircuitOpenError as refused:
                assert state != "closed"
                if state == "open":
                    expected = self.opened_at + self.breaker.timeout_seconds - self.clock()
                    assert abs(refused.retry_after - expected) < 1e-6
                else:
                    assert self.probes_in_flight(self.opened_at) == self.breaker.half_open_probes
                return
            assert state != "open", "a call got in while the breaker was open, before its timeout"
            if state == "closed":
                assert admission.kind == "closed"
                self.in_flight.append((admission, "closed", None))
            else:
                assert admission.kind == "probe"
                self.in_flight.append((admission, "probe", self.opened_at))
                assert self.probes_in_flight(self.opened_at) <= self.breaker.half_open_probes

        @precondition(lambda self: self.in_flight)
        @rule(pick=st.integers(0, 100), outcome=st.sampled_from(sorted(OUTCOMES)))
        def a_call_finishes(self, pick, outcome):
            admission, kind, round_ = self.in_flight.pop(pick % len(self.in_flight))
            before = (self.breaker.get_state(), self.breaker.get_stats()["failures"])
            if outcome == "success":
                self.breaker.record_success(admission)
                self.model_success(kind, round_)
            else:
                self.breaker.record_failure(admission, OUTCOMES[outcome])
                if outcome in TRANSIENT_OUTCOMES:
                    self.model_failure(kind, round_)
                else:
                    after = (self.breaker.get_state(), self.breaker.get_stats()["failures"])
                    assert after == before, f"a {outcome} error moved the breaker"

        @rule()
        def an_operator_resets_it(self):
            self.breaker.reset()
            self.opened_at, self.failures = None, 0

        def model_success(self, kind, round_):
            if kind == "closed":
                self.failures = 0
                return
            self.round_successes[round_] = self.round_successes.get(round_, 0) + 1
            current = self.opened_at == round_ and round_ not in self.left_rounds
            if current and self.round_successes[round_] >= self.breaker.success_threshold:
                self.left_rounds.add(round_)
                self.opened_at, self.failures = None, 0

        def model_failure(self, kind, round_):
            if kind == "closed":
                self.failures += 1
                if self.failures >= self.breaker.failure_threshold and self.opened_at is None:
                    self.opened_at, self.failures = self.clock(), 0
            elif self.opened_at == round_ and round_ not in self.left_rounds:
                self.left_rounds.add(round_)
                self.opened_at = self.clock()

        # --- invariants ---------------------------------------------------------------------

        @invariant()
        def it_agrees_with_the_model(self):
            if not hasattr(self, "breaker"):
                return
            stats = self.breaker.get_stats()
            assert stats["state"] == self.model_state()
            assert stats["failures"] == self.failures
            if self.model_state() == "half_open":
                assert stats["probes_in_flight"] == self.probes_in_flight(self.opened_at)
                assert stats["probes_in_flight"] <= self.breaker.half_open_probes

    return BreakerMachine


def test_the_breaker_follows_its_model_over_1500_random_steps(cache_backend):
    run_state_machine_as_test(breaker_machine(cache_backend), settings=MACHINE_SETTINGS)
