"""Injected faults per platform: down, a share of errors, and latency; all of the platform's endpoints, or
only those named in ``endpoints`` (e.g. Expedia's ``bc`` alone, so bookings arrive but are never confirmed).
``longest_min_stay`` makes the platform refuse, as an invalid request, any availability write setting a
longer minimum stay (a value a channel manager must not let stop its close-outs). ``webhooks_lost`` sends
the platform's webhooks nowhere: each is logged as sent (it can be replayed) and never arrives, as when
the subscriber's endpoint or secret is wrong for longer than the platform retries."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sandbox.exchange import Invalid


@dataclass(frozen=True)
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    status: int = 500
    down: bool = False
    endpoints: tuple[str, ...] = ()  # route names; empty: every endpoint
    longest_min_stay: int | None = None
    webhooks_lost: bool = False

    @classmethod
    def from_json(cls, payload: object) -> Faults:
        if not isinstance(payload, dict):
            raise Invalid("faults must be a JSON object")
        unknown = sorted(
            payload.keys()
            - {"latency_ms", "error_rate", "status", "down", "endpoints", "longest_min_stay", "webhooks_lost"}
        )
        if unknown:
            raise Invalid(f"unknown fault field(s) {', '.join(unknown)}")
        endpoints = payload.get("endpoints", [])
        if not isinstance(endpoints, list) or not all(isinstance(e, str) and e for e in endpoints):
            raise Invalid("endpoints must be a list of endpoint names")
        faults = cls(**{**payload, "endpoints": tuple(endpoints)})
        faults._check()
        return faults

    def _check(self) -> None:
        if isinstance(self.latency_ms, bool) or not isinstance(self.latency_ms, int) or self.latency_ms < 0:
            raise Invalid("latency_ms must be an integer >= 0")
        if isinstance(self.error_rate, bool) or not isinstance(self.error_rate, (int, float)):
            raise Invalid("error_rate must be a number in 0..1")
        if not 0 <= self.error_rate <= 1:
            raise Invalid("error_rate must be a number in 0..1")
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 400 <= self.status <= 599:
            raise Invalid("status must be an HTTP error status 400..599")
        if not isinstance(self.down, bool):
            raise Invalid("down must be true or false")
        if not isinstance(self.webhooks_lost, bool):
            raise Invalid("webhooks_lost must be true or false")
        longest = self.longest_min_stay
        if longest is not None and (isinstance(longest, bool) or not isinstance(longest, int) or longest < 1):
            raise Invalid("longest_min_stay must be an integer >= 1, or null")

    def applies_to(self, endpoint: str) -> bool:
        return not self.endpoints or endpoint in self.endpoints

    def error_status(self, rng: random.Random) -> int | None:
        """The status to answer with instead of the real answer, or None."""
        if self.down:
            return 503
        if self.error_rate and rng.random() < self.error_rate:
            return self.status
        return None

    def as_dict(self) -> dict:
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "status": self.status,
            "down": self.down,
            "endpoints": list(self.endpoints),
            "longest_min_stay": self.longest_min_stay,
            "webhooks_lost": self.webhooks_lost,
        }
