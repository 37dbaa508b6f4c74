"""A circuit breaker per platform whose state lives in Django's cache (after Sentry's circuit_breaker2).

The object holds configuration only. Keys (all with a TTL, so a crashed process never pins a state):
``opened`` is the time the breaker opened (absent: closed; present and younger than the timeout: open;
older: half-open), ``failures`` counts consecutive transient failures, and each half-open round,
named by its ``opened`` time, has probe slots (``add``), a success counter and a "left" marker that
lets exactly one process close or reopen the breaker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

from adapters.base import PlatformAPIError
from channelmgr import metrics
from channelmgr.resilience.errors import CircuitOpenError

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
_LOG_EVERY_SECONDS = 60.0


def is_transient(exc: BaseException) -> bool:
    """Does this failure say the platform is unwell (timeouts, 5xx, 429), rather than the request bad?"""
    if isinstance(exc, PlatformAPIError):
        return not exc.permanent
    return isinstance(exc, TimeoutError | ConnectionError | requests.Timeout | requests.ConnectionError)


@dataclass(frozen=True)
class Admission:
    """One admitted call: ``closed`` traffic, a half-open ``probe``, or ``unguarded`` (cache down).
    ``failures``: closed traffic that saw failures counted when admitted, which its success resets."""

    kind: str
    round: str = ""
    slot: int = -1
    failures: bool = True


class CircuitBreaker:
    """CLOSED -> OPEN after ``failure_threshold`` consecutive transient failures; OPEN -> HALF_OPEN after
    ``timeout_seconds``; HALF_OPEN admits ``half_open_probes`` concurrent probes, closes after
    ``success_threshold`` successful probes and reopens on a failed one. Permanent errors change nothing.

    If the cache raises, calls go through and a warning is logged: the breaker never blocks syncing.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        success_threshold: int = 2,
        timeout_seconds: float = 60.0,
        half_open_probes: int = 1,
        cache=None,
        clock: Callable[[], float] = time.time,
    ):
        for setting, value in (
            ("failure_threshold", failure_threshold),
            ("success_threshold", success_threshold),
            ("timeout_seconds", timeout_seconds),
            ("half_open_probes", half_open_probes),
        ):
            if value <= 0:
                raise ImproperlyConfigured(f"circuit breaker {name} {setting}: must be positive, got {value}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.success_threshold = success_threshold
        self.timeout_seconds = float(timeout_seconds)
        self.half_open_probes = half_open_probes
        self.cache = cache if cache is not None else caches["default"]
        self.clock = clock
        # State outlives any outage we would wait out; a probe slot outlives any request.
        self.state_ttl = int(max(10 * self.timeout_seconds, 3600))
        self.probe_ttl = int(max(self.timeout_seconds, 60))
        self.probe_wait = min(self.timeout_seconds, 5.0)
        self._last_warning = 0.0

    # --- calls ---------------------------------------------------------------------------------

    def call(self, fn: Callable, *args, **kwargs):
        """Run ``fn`` through the breaker; raises CircuitOpenError when refused, else ``fn``'s outcome."""
        admission = self.admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self.record_failure(admission, exc)
            raise
        self.record_success(admission)
        return result

    def admit(self) -> Admission:
        """Let one call in or raise CircuitOpenError. Follow with record_success/record_failure/release."""
        try:
            return self._admit()
        except CircuitOpenError:
            raise
        except Exception as exc:
            self._warn(exc)
            return Admission("unguarded")

    def record_success(self, admission: Admission) -> None:
        self._safely(self._success, admission)

    def record_failure(self, admission: Admission, exc: BaseException) -> None:
        """Count ``exc`` if it is transient; a permanent error only gives back a probe slot."""
        if not is_transient(exc):
            self.release(admission)
            return
        metrics.CIRCUIT_BREAKER_FAILURES.labels(self.name).inc()
        self._safely(self._failure, admission)

    def release(self, admission: Admission) -> None:
        """The admitted call was not made (e.g. the rate limiter said no): free its probe slot."""
        if admission.kind == "probe":
            self._safely(lambda a: self.cache.delete(self._probe_key(a.round, a.slot)), admission)

    def closed_keys(self) -> tuple[str, str]:
        """The cache keys (as stored) of the time it opened and of its failures: a step on Redis that
        admits closed traffic together with its rate limits checks that the first is absent and reads the
        second (``guard``)."""
        return self.cache.make_key(self._key("opened")), self.cache.make_key(self._key("failures"))

    @staticmethod
    def closed_admission(failures: int) -> Admission:
        """The admission of a call let in while the breaker was closed with ``failures`` counted."""
        return Admission("closed", failures=bool(failures))

    # --- state ---------------------------------------------------------------------------------

    def get_state(self) -> str:
        try:
            return self._state(self.cache.get(self._key("opened")), self.clock())
        except Exception as exc:
            self._warn(exc)
            return CLOSED

    def remaining_open_seconds(self) -> float:
        try:
            opened_at = self.cache.get(self._key("opened"))
        except Exception as exc:
            self._warn(exc)
            return 0.0
        return 0.0 if opened_at is None else max(0.0, opened_at + self.timeout_seconds - self.clock())

    def get_stats(self) -> dict:
        try:
            values = self.cache.get_many([self._key("opened"), self._key("failures")])
            opened_at = values.get(self._key("opened"))
            round_ = _round(opened_at) if opened_at is not None else ""
            probes = self.cache.get_many([self._probe_key(round_, i) for i in range(self.half_open_probes)])
            successes = self.cache.get(self._successes_key(round_), 0) if round_ else 0
        except Exception as exc:
            self._warn(exc)
            return {"name": self.name, "state": CLOSED, "storage_error": str(exc)}
        now = self.clock()
        return {
            "name": self.name,
            "state": self._state(opened_at, now),
            "failures": values.get(self._key("failures"), 0),
            "opened_at": opened_at,
            "remaining_open_seconds": 0.0 if opened_at is None else max(0.0, opened_at + self.timeout_seconds - now),
            "probes_in_flight": len(probes) if round_ and now >= opened_at + self.timeout_seconds else 0,
            "half_open_successes": successes,
            "failure_threshold": self.failure_threshold,
            "success_threshold": self.success_threshold,
            "timeout_seconds": self.timeout_seconds,
            "half_open_probes": self.half_open_probes,
        }

    def reset(self) -> None:
        """Close the breaker and forget its failures."""
        previous = self.get_state()
        self._safely(lambda _: self.cache.delete_many([self._key("opened"), self._key("failures")]), None)
        if previous != CLOSED:
            metrics.record_circuit_breaker_state_change(self.name, previous, CLOSED)

    # --- transitions -----------------------------------------------------------------------------

    def _admit(self) -> Admission:
        now = self.clock()
        # One read for both: a success resets the failures only where there were some, so the common
        # call (closed, no failures) costs one round trip, not two.
        values = self.cache.get_many([self._key("opened"), self._key("failures")])
        opened_at = values.get(self._key("opened"))
        state = self._state(opened_at, now)
        if state == CLOSED:
            return Admission("closed", failures=bool(values.get(self._key("failures"))))
        if state == OPEN:
            raise CircuitOpenError(self.name, OPEN, opened_at + self.timeout_seconds - now)
        round_ = _round(opened_at)
        for slot in range(self.half_open_probes):
            if self.cache.add(self._probe_key(round_, slot), now, timeout=self.probe_ttl):
                if self.cache.add(self._key(round_, "half"), 1, timeout=self.state_ttl):
                    self._transition(OPEN, HALF_OPEN)
                return Admission("probe", round_, slot)
        raise CircuitOpenError(self.name, HALF_OPEN, self.probe_wait)

    def _success(self, admission: Admission) -> None:
        if admission.kind == "closed":
            if admission.failures:
                self.cache.delete(self._key("failures"))
        elif admission.kind == "probe":
            successes = self._count(self._successes_key(admission.round))
            if successes >= self.success_threshold and self._is_current(admission) and self._leave(admission.round):
                self.cache.delete_many([self._key("opened"), self._key("failures")])
                self._transition(HALF_OPEN, CLOSED)
            self.cache.delete(self._probe_key(admission.round, admission.slot))

    def _failure(self, admission: Admission) -> None:
        if admission.kind == "closed":
            failures = self._count(self._key("failures"))
            if failures >= self.failure_threshold and self.cache.add(
                self._key("opened"), self.clock(), timeout=self.state_ttl
            ):
                self.cache.delete(self._key("failures"))
                self._transition(CLOSED, OPEN)
        elif admission.kind == "probe":
            if self._is_current(admission) and self._leave(admission.round):
                self.cache.set(self._key("opened"), self.clock(), timeout=self.state_ttl)
                self._transition(HALF_OPEN, OPEN)
            self.cache.delete(self._probe_key(admission.round, admission.slot))

    def _is_current(self, admission: Admission) -> bool:
        """Is the probe's round still the breaker's (not closed by reset() or another process)?"""
        opened_at = self.cache.get(self._key("opened"))
        return opened_at is not None and _round(opened_at) == admission.round

    def _leave(self, round_: str) -> bool:
        """Claim the one way out of this half-open round (to closed or back to open)."""
        return self.cache.add(self._key(round_, "left"), 1, timeout=self.state_ttl)

    def _count(self, key: str) -> int:
        self.cache.add(key, 0, timeout=self.state_ttl)
        try:
            return self.cache.incr(key)
        except ValueError:  # deleted in between by a success or a transition: start again
            self.cache.add(key, 1, timeout=self.state_ttl)
            return 1

    def _state(self, opened_at, now: float) -> str:
        if opened_at is None:
            return CLOSED
        return OPEN if now < opened_at + self.timeout_seconds else HALF_OPEN

    def _transition(self, from_state: str, to_state: str) -> None:
        log.warning("circuit %s: %s -> %s", self.name, from_state, to_state)
        metrics.record_circuit_breaker_state_change(self.name, from_state, to_state)

    # --- storage -----------------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return ":".join(("breaker", self.name, *parts))

    def _probe_key(self, round_: str, slot: int) -> str:
        return self._key(round_, "probe", str(slot))

    def _successes_key(self, round_: str) -> str:
        return self._key(round_, "successes")

    def _safely(self, operation, admission) -> None:
        if admission is not None and admission.kind == "unguarded":
            return
        try:
            operation(admission)
        except Exception as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > _LOG_EVERY_SECONDS:
            self._last_warning = now
            log.warning("circuit %s: cache unreachable (%s), letting calls through", self.name, exc)


def _round(opened_at: float) -> str:
    return f"{opened_at:.6f}"


def breaker_for(platform: str, *, cache=None, clock=time.time) -> CircuitBreaker:
    """The platform's breaker, configured by the ``BREAKER_*`` settings."""
    if platform not in getattr(settings, "PLATFORMS", {}):
        raise ImproperlyConfigured(f"PLATFORMS: unknown platform {platform!r}")
    return CircuitBreaker(
        platform,
        failure_threshold=settings.BREAKER_FAILURE_THRESHOLD,
        success_threshold=settings.BREAKER_SUCCESS_THRESHOLD,
        timeout_seconds=settings.BREAKER_TIMEOUT_SECONDS,
        half_open_probes=settings.BREAKER_HALF_OPEN_PROBES,
        cache=cache,
        clock=clock,
    )
