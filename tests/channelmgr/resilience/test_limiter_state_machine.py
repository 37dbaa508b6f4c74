"""A Hypothesis state machine of the limiter against a sliding-window log, on both backends.

The model keeps every grant time: a grant counts while ``now < granted_at + window + margin``, and
acquire() grants when fewer than ``limit`` count and no pause is running. Steps acquire on the same
limiter or on one built afresh (as limiter_for() does per call), move the clock, pause and reset.
Invariants: usage and wait agree with the model, and a refusal always comes with a wait > 0.
Times are multiples of 1/8 s, exact in binary, so both storages and the model agree at the edges.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from channelmgr.resilience.limiter import RateLimiter

from .conftest import FakeClock

EIGHTHS = st.integers(0, 24).map(lambda n: n / 8)
# 60 examples x 30 steps = 1,800 steps per backend.
MACHINE_SETTINGS = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
)


def limiter_machine(cache):
    class LimiterMachine(RuleBasedStateMachine):
        @initialize(
            limit=st.integers(1, 4),
            window=st.sampled_from([0.5, 1.0, 2.0]),
            margin=st.sampled_from([0.0, 0.125, 0.25]),
        )
        def build(self, limit, window, margin):
            self.clock = FakeClock()
            self.key = f"sm-{uuid.uuid4().hex[:10]}"
            self.settings = {"cache": cache, "clock": self.clock, "sleep": self.clock.sleep, "margin_seconds": margin}
            self.limit, self.span = limit, window + margin
            self.window = window
            self.limiter = self.build_limiter()
            self.grants: list[float] = []
            self.paused_until = None

        def build_limiter(self) -> RateLimiter:
            return RateLimiter(self.key, self.limit, self.window, **self.settings)

        # --- the model ------------------------------------------------------------------------

        def counting(self) -> list[float]:
            now = self.clock()
            return sorted(t for t in self.grants if now < t + self.span)

        def model_wait(self) -> float:
            now, counting = self.clock(), self.counting()
            wait = 0.0 if len(counting) < self.limit else counting[len(counting) - self.limit] + self.span - now
            if self.paused_until is not None:
                wait = max(wait, self.paused_until - now)
            return wait

        # --- steps ------------------------------------------------------------------------------

        @rule(fresh=st.booleans())
        def acquire(self, fresh):
            limiter = self.build_limiter() if fresh else self.limiter
            expected = self.model_wait() == 0
            assert limiter.acquire() is expected
            if expected:
                self.grants.append(self.clock())
            else:
                assert limiter.time_until_available() > 0, "a refusal always comes with a wait"

        @rule(seconds=EIGHTHS)
        def advance(self, seconds):
            self.clock.advance(seconds)

        @rule(seconds=EIGHTHS.filter(bool))
        def pause(self, seconds):
            self.limiter.pause(seconds)
            self.paused_until = self.clock() + seconds

        @rule()
        def reset(self):
            self.limiter.reset()
            self.grants, self.paused_until = [], None

        # --- invariants ---------------------------------------------------------------------

        @invariant()
        def it_agrees_with_the_model(self):
            if not hasattr(self, "limiter"):
                return
            now = self.clock()
            assert self.limiter.current_usage() == sum(1 for t in self.grants if now - self.span < t <= now)
            assert self.limiter.time_until_available() == pytest.approx(self.model_wait())
            assert self.limiter.current_usage() <= self.limit

    return LimiterMachine


def test_the_limiter_follows_its_model_over_1800_random_steps(cache_backend):
    run_state_machine_as_test(limiter_machine(cache_backend), settings=MACHINE_SETTINGS)
