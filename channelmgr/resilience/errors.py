"""What the limiter and the breaker raise. Both mean "not now", never "failed"."""

from __future__ import annotations

import math

import dramatiq

# Redis refuses delays of 7 days or more; a platform that wants us away that long is a person's problem.
MAX_DELAY_SECONDS = 6 * 86400.0


class Backpressure(dramatiq.Retry):
    """A platform request must wait ``delay_seconds`` (limiter full, breaker open). Not a failure.

    It subclasses ``dramatiq.Retry`` so a worker logs no traceback for it, and
    ``BackpressureRetries`` re-enqueues the message after ``delay`` milliseconds without touching its
    retry count. ``reason`` is ``"rate_limited"``, ``"circuit_open"`` or ``"circuit_half_open"``.
    """

    def __init__(self, delay_seconds: float, reason: str):
        self.delay_seconds = min(max(0.0, float(delay_seconds)), MAX_DELAY_SECONDS)
        self.reason = reason
        super().__init__(f"{reason}: retry in {self.delay_seconds:.3f}s", delay=math.ceil(self.delay_seconds * 1000))

    def __reduce__(self):
        return (type(self), (self.delay_seconds, self.reason))


class CircuitOpenError(Exception):
    """The breaker refused a call; ``retry_after`` is in seconds, ``state`` is "open" or "half_open"."""

    def __init__(self, name: str, state: str, retry_after: float):
        super().__init__(f"circuit {name} is {state}: retry in {retry_after:.1f}s")
        self.name = name
        self.state = state
        self.retry_after = retry_after
