"""Randomized convergence soak on the real stack: does every platform end up exactly where the PMS is?

Guests book, modify and cancel stays on every platform we push to (through its control API), faster than
a push completes and clashing on purpose: the same nights sold on two platforms back to back, a stay moved
onto nights another platform just sold, the first of two clashing stays cancelled, a direct booking racing
a guest's, a stay cancelled or moved right after a restriction on its nights was pushed to its own
platform. Staff change prices and restrictions, block and unblock nights, and book and cancel directly
through the REST API (a 409 on a clash is an expected outcome, counted). Meanwhile the sandbox answers
503 bursts, 429s and timeouts, one platform is down for a while, and one loses its webhooks for a while
(its bookings arrive through the catch-up poll alone). Then every fault is cleared, the
soak waits (polling, with a deadline) until the stack is quiet, and checks every unit x platform x night
of the window against the invariant:

    a night of a unit is closed on a platform exactly when some active stay (confirmed or overbooked,
    any source) or block holds it in the PMS, or it is stop-sell; and each platform's price, min stay,
    closed to arrival/departure and stop-sell equal the PMS's.

The PMS truth is computed here, from ``GET /bookings`` (statuses) and the prices and restrictions of
``GET /units/{id}/calendar``; that endpoint's own availability is cross-checked against it, and its
prices and restrictions against what the API was told. A stay's origin platform shows its own nights as
booked (``booked_by``), which counts as closed.

    .venv/bin/python bench/soak.py --seed 1 --operations 400 [--units 3] [--window-days 45]

Embedded mode by default (``manage.py run_embedded`` with its in-process broker and worker threads on a
temporary SQLite file, plus the sandbox); the services stack (Postgres, Redis, gunicorn, rundramatiq, the
scheduler) when ``DATABASE_URL`` and ``REDIS_URL`` are set (``--mode`` forces one). Every operation is
logged as a JSON line; the drift, the summary and the processes' logs go to the same artifact directory.
The operations depend only on the seed (a target that is no longer live is skipped, never replaced), so
re-running a seed replays the same requests; only their timing, and so the outcomes, can differ.

Exit status: 0 when quiet with no drift, 1 on any drift or when the stack never got quiet, 2 when the
services mode was asked for but Postgres or Redis is missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.registry import adapter_class  # noqa: E402
from testkit.stack import (  # noqa: E402
    PLATFORMS,
    EmbeddedStack,
    ServiceMissing,
    Stack,
    check_services,
)

# Platforms whose calendar carries stop-sell as its own flag; Airbnb and FeWo-direkt only see it as closed.
STOP_SELL_CARRIED = {"booking_com", "expedia", "google"}
# A read timeout of the adapters is 15 s (adapters/http.py): a slower answer is a timeout.
TIMEOUT_LATENCY_MS = 16_000
# The sandbox retries a webhook for about 30 s; a platform booking still missing from the PMS this long
# after everything else went quiet is lost, not late.
UNREFLECTED_GRACE_SECONDS = 45.0
QUIET_SAMPLES = 3
BASE_PRICE = Decimal("150.00")
DEFAULT_MIN_STAY = 1
REFUSED_OVER_MIN_STAY = 2  # the refusal episode: the soak sets min stays of 1 to 4
# The platforms whose bookings come by webhook, with a catch-up poll behind (the "webhooks lost" episode),
# and that poll's period in the soak's stack (production: 300 s).
CATCH_UP_PLATFORMS = [slug for slug in PLATFORMS if adapter_class(slug).catches_up()]
SOAK_CATCH_UP_SECONDS = 15

# Operation kinds and their weights.
OPERATIONS = {
    "guest_book": 20,
    "double_sell": 8,
    "modify_onto_sold": 6,
    "clash_then_cancel_first": 5,
    "guest_modify": 9,
    "guest_cancel": 9,
    "restrict_then_cancel": 4,
    "direct_book": 7,
    "direct_vs_guest": 4,
    "direct_cancel": 5,
    "direct_modify": 3,
    "block": 4,
    "unblock": 3,
    "price": 8,
    "restriction": 9,
    "full_sync": 3,
}

CLASSES = {
    "open_held_confirmed": "open though held by a confirmed stay",
    "open_held_overbooked": "open though held by an overbooked stay",
    "closed_not_held": "closed though nothing holds it",
    "price_restriction": "price/restriction mismatch",
}


@dataclass
class SoakConfig:
    seed: int
    operations: int = 400
    units: int = 3
    window_days: int = 45
    window_offset: int = 7  # the first night of the window: today + this
    outage_seconds: float = 60.0
    pace: float = 0.2  # mean pause between operations; the steps of one operation go back to back
    quiet_timeout: float = 600.0
    artifacts: Path | None = None
    # The units are room types of one Booking.com hotel, so its pushes are account-batched under faults.
    hotel: bool = True


@dataclass
class SoakResult:
    config: SoakConfig
    mode: str
    quiet: bool
    pending: dict
    drift: list[dict]
    summary: dict
    report: str
    artifacts: Path

    @property
    def drift_count(self) -> int:
        return len(self.drift)

    @property
    def ok(self) -> bool:
        return (
            self.quiet
            and not self.drift
            and not self.summary["inbound_unreflected"]
            and not sum(self.summary.get("rate_limit_violations", {}).values())
        )


@dataclass
class Attempt:
    """One stay we tried to create (kept whether it worked or not, so targets depend on the seed only)."""

    where: str  # a platform slug, or "direct"
    unit: int
    check_in: dt.date
    check_out: dt.date
    kind: str = "reservation"
    id: str | None = None  # the platform's reservation id or the PMS booking id, once created
    live: bool = False


@dataclass
class FaultEpisode:
    slug: str
    faults: dict
    start_op: int
    seconds: float
    label: str
    started_at: float | None = None
    ended_at: float | None = None


@dataclass
class Counters:
    ops: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    requests: int = 0


class Soak:
    def __init__(self, stack: Stack, config: SoakConfig, log_path: Path):
        self.stack = stack
        self.config = config
        self.rng = random.Random(config.seed)
        self.today = dt.datetime.now(dt.UTC).date()
        self.start = self.today + dt.timedelta(days=config.window_offset)
        self.end = self.start + dt.timedelta(days=config.window_days)
        self.units = list(stack.unit_ids)
        self.attempts: list[Attempt] = []
        self.direct: list[Attempt] = []
        # (unit, night) -> the calendar fields the API was told (absent: the unit's default).
        self.calendar_model: dict[tuple[int, dt.date], dict] = defaultdict(dict)
        self.counters = Counters()
        self.http = requests.Session()
        self.http.trust_env = False
        self.log_file = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.began = time.monotonic()
        # Our limiter's windows run on the wall clock (Redis's), the sandbox's on its monotonic clock: a
        # step of the wall clock between them is reported, since it alone can make a violation.
        self.wall_offset = time.time() - time.monotonic()
        self.episodes = self._fault_plan()
        self.op_index = -1
        self.final_state: dict = {}

    def close(self) -> None:
        self.log_file.close()
        self.http.close()

    # --- plumbing -------------------------------------------------------------------------------

    def log(self, **entry) -> None:
        entry = {"t": round(time.monotonic() - self.began, 3), "i": self.op_index, **entry}
        self.log_file.write(json.dumps(entry, default=str) + "\n")
        self.log_file.flush()

    def call(self, op: str, method: str, url: str, body: dict | None = None, *, api: bool) -> requests.Response | None:
        headers = {"Authorization": f"Token {self.stack.token}"} if api else {}
        base = self.stack.base_url if api else self.stack.sandbox_url
        self.counters.requests += 1
        try:
            answer = self.http.request(method, base + url, json=body, headers=headers, timeout=60)
        except requests.RequestException as exc:
            self.log(op=op, method=method, url=url, body=body, status="error", error=str(exc))
            self.counters.outcomes[f"{op}:error"] += 1
            return None
        try:
            payload = answer.json()
        except ValueError:
            payload = answer.text[:300]
        self.log(op=op, method=method, url=url, body=body, status=answer.status_code, answer=payload)
        self.counters.outcomes[f"{op}:{answer.status_code}"] += 1
        return answer

    def stay(self, *, max_nights: int = 7) -> tuple[dt.date, dt.date]:
        nights = min(self.rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 7)), max_nights)
        check_in = self.start + dt.timedelta(days=self.rng.randrange(self.config.window_days - nights))
        return check_in, check_in + dt.timedelta(days=nights)

    def shifted(self, check_in: dt.date, check_out: dt.date, shift: int, grow: int = 0) -> tuple[dt.date, dt.date]:
        """``[check_in + shift, check_out + shift + grow)``, at least one night, inside the window."""
        nights = max(1, (check_out - check_in).days + grow)
        new_in = check_in + dt.timedelta(days=shift)
        new_in = max(self.start, min(new_in, self.end - dt.timedelta(days=nights)))
        return new_in, new_in + dt.timedelta(days=nights)

    def recent(self, pool: list[Attempt], span: int, *, predicate=None) -> Attempt | None:
        """One of the last ``span`` attempts (matching ``predicate``), drawn from the seed alone."""
        window = [a for a in pool[-span:] if predicate is None or predicate(a)]
        draw = self.rng.random()
        return window[int(draw * len(window))] if window else None

    # --- guests on the platforms ----------------------------------------------------------------

    def guest_book(self, op: str, slug: str, unit: int, check_in: dt.date, check_out: dt.date) -> Attempt:
        attempt = Attempt(slug, unit, check_in, check_out)
        self.attempts.append(attempt)
        body = {
            "listing_id": self.stack.unit_listing(unit, slug),
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guest_name": f"Soak Gast {len(self.attempts)}",
            "total": f"{100 * (check_out - check_in).days}.00",
        }
        answer = self.call(op, "POST", f"/_control/{slug}/reservations", body, api=False)
        if answer is not None and answer.status_code == 201:
            attempt.id, attempt.live = answer.json()["id"], True
        return attempt

    def guest_modify(self, op: str, attempt: Attempt | None, check_in: dt.date, check_out: dt.date) -> None:
        if attempt is None or not attempt.live:
            self.counters.outcomes[f"{op}:skipped"] += 1
            return
        body = {"check_in": check_in.isoformat(), "check_out": check_out.isoformat()}
        answer = self.call(op, "POST", f"/_control/{attempt.where}/reservations/{attempt.id}/modify", body, api=False)
        if answer is not None and answer.status_code == 200:
            attempt.check_in, attempt.check_out = check_in, check_out

    def guest_cancel(self, op: str, attempt: Attempt | None) -> None:
        if attempt is None or not attempt.live:
            self.counters.outcomes[f"{op}:skipped"] += 1
            return
        answer = self.call(op, "POST", f"/_control/{attempt.where}/reservations/{attempt.id}/cancel", api=False)
        if answer is not None and answer.status_code in (200, 409):
            attempt.live = False

    # --- staff through the REST API -------------------------------------------------------------

    def direct_book(self, op: str, unit: int, check_in: dt.date, check_out: dt.date, kind: str) -> Attempt:
        attempt = Attempt("direct", unit, check_in, check_out, kind=kind)
        self.direct.append(attempt)
        span = {"unit": unit}
        if kind == "block":
            body = {**span, "start": check_in.isoformat(), "end": check_out.isoformat(), "note": "soak block"}
            answer = self.call(op, "POST", "/calendar/blocks", body, api=True)
        else:
            body = {
                **span,
                "check_in": check_in.isoformat(),
                "check_out": check_out.isoformat(),
                "guest_name": f"Direkt {len(self.direct)}",
                "total_amount": f"{120 * (check_out - check_in).days}.00",
            }
            answer = self.call(op, "POST", "/bookings", body, api=True)
        if answer is not None and answer.status_code == 201:
            attempt.id, attempt.live = str(answer.json()["id"]), True
        return attempt

    def set_calendar(self, op: str, values: list[dict]) -> None:
        answer = self.call(op, "POST", "/calendar", {"values": values}, api=True)
        if answer is None or answer.status_code != 200:
            return
        for value in values:
            night = dt.date.fromisoformat(value["start"])
            while night < dt.date.fromisoformat(value["end"]):
                stored = self.calendar_model[(value["unit"], night)]
                for name in ("price", "min_stay", "closed_to_arrival", "closed_to_departure", "stop_sell"):
                    if name in value:
                        stored[name] = value[name]
                night += dt.timedelta(days=1)

    # --- the operations -------------------------------------------------------------------------

    def run_operation(self, op: str) -> None:
        rng = self.rng
        unit = rng.choice(self.units)
        if op == "guest_book":
            self.guest_book(op, rng.choice(PLATFORMS), unit, *self.stay())
        elif op == "double_sell":
            first, second = rng.sample(PLATFORMS, 2)
            check_in, check_out = self.stay()
            other = self.shifted(check_in, check_out, rng.choice((0, 0, -1, 1, -2, 2)), rng.choice((-1, 0, 1)))
            self.guest_book(op, first, unit, check_in, check_out)
            self.guest_book(op, second, unit, *other)
        elif op == "modify_onto_sold":
            seller, mover = rng.sample(PLATFORMS, 2)
            check_in, check_out = self.stay()
            target = self.recent(self.attempts, 40, predicate=lambda a: a.where == mover and a.unit == unit)
            moved = self.shifted(check_in, check_out, rng.choice((0, -1, 1)))
            self.guest_book(op, seller, unit, check_in, check_out)
            self.guest_modify(op, target, *moved)
        elif op == "clash_then_cancel_first":
            first, second = rng.sample(PLATFORMS, 2)
            check_in, check_out = self.stay()
            pause = rng.uniform(0.0, 2.5)
            a = self.guest_book(op, first, unit, check_in, check_out)
            self.guest_book(op, second, unit, check_in, check_out)
            time.sleep(pause)  # sometimes before the imports, sometimes after the overbooking is stored
            self.guest_cancel(op, a)
        elif op == "guest_modify":
            target = self.recent(self.attempts, 30)
            shift, grow = rng.randint(-3, 3), rng.choice((-1, 0, 0, 1))
            if target is not None:
                self.guest_modify(op, target, *self.shifted(target.check_in, target.check_out, shift, grow))
            else:
                self.counters.outcomes[f"{op}:skipped"] += 1
        elif op == "guest_cancel":
            self.guest_cancel(op, self.recent(self.attempts, 40))
        elif op == "restrict_then_cancel":
            # A guest books; a restriction on those nights is then pushed (closed, as they are held) to every
            # platform, the guest's own included; then the guest cancels or moves there, and the released
            # nights must open there too.
            slug, (check_in, check_out) = rng.choice(PLATFORMS), self.stay(max_nights=4)
            name = rng.choice(("min_stay", "closed_to_departure"))
            value = rng.randint(2, 3) if name == "min_stay" else rng.choice((True, False))
            move, shift = rng.random() < 0.4, rng.choice((-6, 6, 9))
            stay = self.guest_book(op, slug, unit, check_in, check_out)
            if stay.live:
                time.sleep(1.5)  # the import lands and its push closes the nights elsewhere
                span = {"unit": unit, "start": check_in.isoformat(), "end": check_out.isoformat()}
                self.set_calendar(op, [{**span, name: value}])
                time.sleep(3.0)  # that push reaches the guest's own platform too
                if move:
                    self.guest_modify(op, stay, *self.shifted(check_in, check_out, shift))
                else:
                    self.guest_cancel(op, stay)
        elif op == "direct_book":
            self.direct_book(op, unit, *self.stay(), kind="reservation")
        elif op == "direct_vs_guest":
            slug, guest_first = rng.choice(PLATFORMS), rng.random() < 0.5
            check_in, check_out = self.stay()
            if guest_first:
                self.guest_book(op, slug, unit, check_in, check_out)
                self.direct_book(op, unit, check_in, check_out, kind="reservation")
            else:
                self.direct_book(op, unit, check_in, check_out, kind="reservation")
                self.guest_book(op, slug, unit, check_in, check_out)
        elif op == "direct_cancel":
            target = self.recent(self.direct, 30)
            if target is None or not target.live:
                self.counters.outcomes[f"{op}:skipped"] += 1
            else:
                answer = self.call(op, "POST", f"/bookings/{target.id}/cancel", api=True)
                if answer is not None and answer.status_code == 200:
                    target.live = False
        elif op == "direct_modify":
            target = self.recent(self.direct, 30, predicate=lambda a: a.kind == "reservation")
            shift, grow = rng.randint(-3, 3), rng.choice((-1, 0, 1))
            if target is None or not target.live:
                self.counters.outcomes[f"{op}:skipped"] += 1
            else:
                new_in, new_out = self.shifted(target.check_in, target.check_out, shift, grow)
                body = {"check_in": new_in.isoformat(), "check_out": new_out.isoformat()}
                answer = self.call(op, "PATCH", f"/bookings/{target.id}", body, api=True)
                if answer is not None and answer.status_code == 200:
                    target.check_in, target.check_out = new_in, new_out
        elif op == "block":
            self.direct_book(op, unit, *self.stay(max_nights=4), kind="block")
        elif op == "unblock":
            start, end = self.stay(max_nights=4)
            body = {"unit": unit, "start": start.isoformat(), "end": end.isoformat()}
            self.call(op, "POST", "/calendar/unblock", body, api=True)
        elif op == "price":
            values = []
            for _ in range(rng.choice((1, 1, 2))):
                start, end = self.stay()
                price = None if rng.random() < 0.15 else f"{rng.randint(80, 320)}.{rng.choice(('00', '50', '99'))}"
                values.append({"unit": unit, "start": start.isoformat(), "end": end.isoformat(), "price": price})
            self.set_calendar(op, values)
        elif op == "restriction":
            start, end = self.stay(max_nights=5)
            name = rng.choice(("min_stay", "closed_to_arrival", "closed_to_departure", "stop_sell"))
            if name == "min_stay":
                value = None if rng.random() < 0.25 else rng.randint(1, 4)
            else:
                value = rng.choice((True, True, False, None))
            self.set_calendar(op, [{"unit": unit, "start": start.isoformat(), "end": end.isoformat(), name: value}])
        elif op == "full_sync":
            # An operator's full sync of one connection: a push of its whole sync window (several requests
            # on some platforms, retried through the faults), still on its way while the bookings around it
            # close nights in pushes of their own. The last of them to land must carry the current state.
            connection = self.stack.unit_connection(unit, rng.choice(PLATFORMS))
            body = {"sync_type": rng.choice(("availability", "full"))}
            self.call(op, "POST", f"/channel-connections/{connection}/sync", body, api=True)
        else:  # pragma: no cover - OPERATIONS and this method are kept in step
            raise ValueError(op)

    # --- faults ---------------------------------------------------------------------------------

    def _fault_plan(self) -> list[FaultEpisode]:
        """Which fault hits which platform, from which operation on and for how long (seed only)."""
        ops, rng = self.config.operations, self.rng
        bursts = max(1, ops // 130)
        plan = [
            FaultEpisode(
                rng.choice(PLATFORMS),
                {"down": True},
                max(1, ops // 5),
                self.config.outage_seconds,
                f"outage {self.config.outage_seconds:.0f}s",
            )
        ]
        for _ in range(bursts):
            plan.append(
                FaultEpisode(
                    rng.choice(PLATFORMS),
                    {"error_rate": 0.6, "status": 503},
                    rng.randrange(ops),
                    rng.uniform(4, 10),
                    "503 burst",
                )
            )
            plan.append(
                FaultEpisode(
                    rng.choice(PLATFORMS),
                    {"error_rate": 0.5, "status": 429},
                    rng.randrange(ops),
                    rng.uniform(4, 10),
                    "429 burst",
                )
            )
        # A platform that takes no minimum stay over 2 nights for a while: the restrictions it refuses hold
        # their connections to close-outs, which must still close every night a stay holds there.
        plan.append(
            FaultEpisode(
                rng.choice(PLATFORMS),
                {"longest_min_stay": REFUSED_OVER_MIN_STAY},
                rng.randrange(ops),
                rng.uniform(8, 20),
                f"refuses min stays over {REFUSED_OVER_MIN_STAY}",
            )
        )
        plan.append(
            FaultEpisode(
                rng.choice(PLATFORMS),
                {"latency_ms": TIMEOUT_LATENCY_MS},
                rng.randrange(ops),
                rng.uniform(3, 6),
                "timeouts",
            )
        )
        # A webhook platform whose webhooks never arrive for a while (a secret rotated on one side only): its
        # bookings reach the PMS only through the catch-up poll (``Polling.catch_up``), which the soak's
        # stack runs every ``SOAK_CATCH_UP_SECONDS``.
        plan.append(
            FaultEpisode(
                rng.choice(CATCH_UP_PLATFORMS),
                {"webhooks_lost": True},
                rng.randrange(ops),
                rng.uniform(5, 15),
                "webhooks lost",
            )
        )
        return sorted(plan, key=lambda e: e.start_op)

    def _faulted(self) -> set[str]:
        return {e.slug for e in self.episodes if e.started_at is not None and e.ended_at is None}

    def step_faults(self) -> None:
        now = time.monotonic()
        for episode in self.episodes:
            if (
                episode.started_at is not None
                and episode.ended_at is None
                and now - episode.started_at >= episode.seconds
            ):
                self._end(episode)
        busy = self._faulted()
        for episode in self.episodes:
            if episode.started_at is None and self.op_index >= episode.start_op and episode.slug not in busy:
                answer = self.http.post(f"{self.stack.sandbox_url}/_control/{episode.slug}/faults", json=episode.faults)
                answer.raise_for_status()
                episode.started_at = time.monotonic()
                busy.add(episode.slug)
                self.log(fault=episode.slug, label=episode.label, set=episode.faults, seconds=episode.seconds)

    def _end(self, episode: FaultEpisode) -> None:
        self.http.delete(f"{self.stack.sandbox_url}/_control/{episode.slug}/faults").raise_for_status()
        episode.ended_at = time.monotonic()
        self.log(fault=episode.slug, label=episode.label, cleared=True, lasted=episode.ended_at - episode.started_at)

    def finish_faults(self) -> None:
        """An outage still on lasts its full length (so a short run still sees a real one); then every
        fault is cleared, including any a crashed earlier run left behind."""
        for episode in self.episodes:
            if episode.started_at is not None and episode.ended_at is None and "down" in episode.faults:
                deadline = episode.started_at + episode.seconds
                while time.monotonic() < deadline:
                    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                self._end(episode)
        for episode in self.episodes:
            if episode.started_at is not None and episode.ended_at is None:
                self._end(episode)
        for slug in PLATFORMS:
            self.http.delete(f"{self.stack.sandbox_url}/_control/{slug}/faults").raise_for_status()

    # --- the run --------------------------------------------------------------------------------

    def run_operations(self) -> None:
        kinds, weights = list(OPERATIONS), list(OPERATIONS.values())
        plan = self.rng.choices(kinds, weights=weights, k=self.config.operations)
        pauses = [self.rng.expovariate(1 / self.config.pace) if self.config.pace else 0.0 for _ in plan]
        for index, op in enumerate(plan):
            self.op_index = index
            self.step_faults()
            self.counters.ops[op] += 1
            self.run_operation(op)
            time.sleep(min(pauses[index], 5 * self.config.pace))
        self.op_index = len(plan)
        self.finish_faults()

    # --- quiet ----------------------------------------------------------------------------------

    def platform_reservations(self) -> list[dict]:
        """Every reservation on our listings, on every platform, as the sandbox holds it."""
        ours = {slug: {self.stack.unit_listing(u, slug): u for u in self.units} for slug in PLATFORMS}
        found = []
        for slug in PLATFORMS:
            answer = self.http.get(f"{self.stack.sandbox_url}/_state/{slug}/reservations", timeout=30)
            answer.raise_for_status()
            for item in answer.json():
                if item["listing_id"] in ours[slug]:
                    found.append({**item, "platform": slug, "unit": ours[slug][item["listing_id"]]})
        return found

    def pms_bookings(self) -> list[dict]:
        """Every booking of our units with a night in the window (``GET /bookings``, all pages)."""
        found = []
        for unit in self.units:
            url = f"{self.stack.base_url}/bookings"
            params = {"unit": unit, "start": self.start.isoformat(), "end": self.end.isoformat()}
            while url:
                answer = self.http.get(
                    url, params=params, headers={"Authorization": f"Token {self.stack.token}"}, timeout=60
                )
                answer.raise_for_status()
                body = answer.json()
                found.extend(body["results"])
                url, params = body.get("next"), None
        return found

    def unreflected(self, reservations: list[dict], bookings: list[dict]) -> list[dict]:
        """Platform reservations the PMS does not hold as the platform has them."""
        by_channel = {(b["source"], b["channel_booking_id"]): b for b in bookings if b["channel_booking_id"]}
        missing = []
        for item in reservations:
            booking = by_channel.get((item["platform"], item["id"]))
            if item["status"] == "cancelled":
                if booking is not None and booking["status"] != "cancelled":
                    missing.append({**_short_reservation(item), "pms": _short_booking(booking)})
                continue
            if (
                booking is None
                or booking["status"] not in ("confirmed", "overbooked")
                or (booking["check_in"], booking["check_out"]) != (item["check_in"], item["check_out"])
            ):
                missing.append({**_short_reservation(item), "pms": _short_booking(booking) if booking else None})
        return missing

    def wait_quiet(self) -> tuple[bool, dict, float]:
        """Poll until nothing is pending (three samples in a row), every Booking.com reservation was
        pulled and acknowledged, and every platform booking is in the PMS (or has stayed missing past the
        webhook retries). Returns (quiet, what was pending last, seconds waited)."""
        began = time.monotonic()
        deadline = began + self.config.quiet_timeout
        calm, missing_since, missing_key = 0, None, None
        pending: dict = {}
        last: dict | None = None
        while True:
            pending = {k: v for k, v in self.stack.pending().items() if v}
            reservations = self.platform_reservations()
            unacked = sum(1 for r in reservations if r["platform"] == "booking_com" and not r.get("acknowledged"))
            if unacked:
                pending["booking_com_unacknowledged"] = unacked
            calm = 0 if pending else calm + 1
            if pending != last:
                self.log(event="pending", pending=pending)
                last = pending
            if calm >= QUIET_SAMPLES:
                missing = self.unreflected(reservations, self.pms_bookings())
                key = json.dumps(missing, sort_keys=True)
                if not missing:
                    return True, {}, time.monotonic() - began
                if key != missing_key:
                    missing_key, missing_since = key, time.monotonic()
                elif time.monotonic() - missing_since >= UNREFLECTED_GRACE_SECONDS:
                    return True, {}, time.monotonic() - began
                pending["platform_bookings_not_in_pms"] = len(missing)
            if time.monotonic() >= deadline:
                return False, pending, time.monotonic() - began
            time.sleep(1.0)

    # --- the check ------------------------------------------------------------------------------

    def check(self, closeouts_only: frozenset[tuple[int, str]] = frozenset()) -> tuple[list[dict], dict]:
        """Every night of every unit on every platform against the PMS. On the (unit, platform) pairs in
        ``closeouts_only`` (connections held to close-outs) only a night a stay holds and the platform shows open
        counts: nothing else is sent to them until a person resumes them."""
        bookings = self.pms_bookings()
        reservations = self.platform_reservations()
        self.final_state = {"pms_bookings": bookings, "platform_reservations": reservations}
        nights = [self.start + dt.timedelta(days=i) for i in range(self.config.window_days)]
        window = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        drift, pms_calendar = [], []
        checked = 0
        for unit in self.units:
            answer = self.http.get(
                f"{self.stack.base_url}/units/{unit}/calendar",
                params=window,
                headers={"Authorization": f"Token {self.stack.token}"},
                timeout=60,
            )
            answer.raise_for_status()
            pms = {n["date"]: n for n in answer.json()["nights"]}
            held = {night: [] for night in nights}
            for b in bookings:
                if b["unit"] != unit or b["status"] not in ("confirmed", "overbooked"):
                    continue
                for night in nights:
                    if b["check_in"] <= night.isoformat() < b["check_out"]:
                        held[night].append(b)
            platform_days = {}
            for slug in PLATFORMS:
                listing = self.stack.unit_listing(unit, slug)
                days = self.stack.calendar(slug, self.start, self.end, listing=listing)
                platform_days[slug] = {d["date"]: d for d in days}
            for night in nights:
                key = night.isoformat()
                row = pms[key]
                holders = held[night]
                closed = bool(holders) or row["stop_sell"]
                pms_calendar.extend(self._pms_calendar_issues(unit, night, row, holders))
                for slug in PLATFORMS:
                    checked += 1
                    day = platform_days[slug].get(key)
                    issues = _night_issues(slug, day, row, holders, closed)
                    if (unit, slug) in closeouts_only:
                        issues = [(c, text) for c, text in issues if c.startswith("open_held")]
                    if issues:
                        drift.append(
                            {
                                "unit": unit,
                                "platform": slug,
                                "date": key,
                                "classes": sorted({c for c, _ in issues}),
                                "issues": [text for _, text in issues],
                                "platform_shows": _platform_view(day),
                                "pms": {
                                    "closed": closed,
                                    "held": bool(holders),
                                    "price": row["price"],
                                    "min_stay": row["min_stay"],
                                    "closed_to_arrival": row["closed_to_arrival"],
                                    "closed_to_departure": row["closed_to_departure"],
                                    "stop_sell": row["stop_sell"],
                                    "calendar_available": row["available"],
                                },
                                "covering": [_short_booking(b) for b in holders],
                                "booked_by": _booked_by(day, slug, reservations, bookings),
                            }
                        )
        summary = self._summary(bookings, reservations, checked, drift, pms_calendar)
        return drift, summary

    def _pms_calendar_issues(self, unit: int, night: dt.date, row: dict, holders: list[dict]) -> list[dict]:
        """``GET /units/{id}/calendar`` against the bookings list and what the API was told."""
        issues = []
        expected_available = not holders and not row["stop_sell"]
        if row["available"] != expected_available:
            if row["available"]:
                cls = (
                    "open_held_confirmed"
                    if any(b["status"] == "confirmed" for b in holders)
                    else "open_held_overbooked"
                )
            else:
                cls = "closed_not_held"
            issues.append({"unit": unit, "date": night.isoformat(), "class": cls, "calendar": row})
        told = self.calendar_model.get((unit, night), {})
        expected = {
            "price": Decimal(told["price"]) if told.get("price") is not None else BASE_PRICE,
            "min_stay": told["min_stay"] if told.get("min_stay") is not None else DEFAULT_MIN_STAY,
            "closed_to_arrival": bool(told.get("closed_to_arrival")),
            "closed_to_departure": bool(told.get("closed_to_departure")),
            "stop_sell": bool(told.get("stop_sell")),
        }
        got = {**{k: row[k] for k in expected}, "price": Decimal(row["price"])}
        if got != expected:
            issues.append(
                {
                    "unit": unit,
                    "date": night.isoformat(),
                    "class": "values_differ_from_api_writes",
                    "calendar": row,
                    "expected": {k: str(v) for k, v in expected.items()},
                }
            )
        return issues

    def _summary(self, bookings, reservations, checked, drift, pms_calendar) -> dict:
        stays = [b for b in bookings if b["kind"] == "reservation"]
        blocks = [b for b in bookings if b["kind"] == "block"]
        by_class = Counter(c for d in drift for c in d["classes"])
        platform_stats = self.stack.all_stats()
        return {
            "seed": self.config.seed,
            "operations": self.config.operations,
            "operations_by_kind": dict(sorted(self.counters.ops.items())),
            "outcomes": dict(sorted(self.counters.outcomes.items())),
            "requests": self.counters.requests,
            "units": self.units,
            "window": [self.start.isoformat(), self.end.isoformat()],
            "stays": len(stays),
            "stays_by_status": dict(Counter(b["status"] for b in stays)),
            "stays_by_source": dict(Counter(b["source"] for b in stays)),
            "blocks_by_status": dict(Counter(b["status"] for b in blocks)),
            "overbookings": sum(1 for b in bookings if b["status"] == "overbooked"),
            "stored_with_clash": sum(1 for b in bookings if b["clashes_with"]),
            "platform_reservations": len(reservations),
            "nights_checked": checked,
            "drift": len(drift),
            "drift_by_class": {CLASSES[c]: by_class.get(c, 0) for c in CLASSES},
            "drift_by_platform": dict(Counter(d["platform"] for d in drift)),
            "pms_calendar_disagreements": len(pms_calendar),
            "pms_calendar_by_class": dict(Counter(i["class"] for i in pms_calendar)),
            "pms_calendar_examples": pms_calendar[:10],
            "inbound_unreflected": self.unreflected(reservations, bookings),
            # Requests a platform refused because our limiter let too many through (injected 429s are
            # faults, not counted here): 0 however many processes send.
            "rate_limit_violations": {
                slug: stats.get("rate_limit_violations", 0) for slug, stats in platform_stats.items()
            },
            # What each refused request found in the platform's window: enough to tell our limiter letting
            # one too many through from a step of the wall clock or a request counted late.
            "rate_limit_refusals": {
                slug: stats.get("rate_limit_refusals", [])
                for slug, stats in platform_stats.items()
                if stats.get("rate_limit_violations")
            },
            "wall_clock_step_seconds": round(time.time() - time.monotonic() - self.wall_offset, 3),
            "faults": [
                {
                    "platform": e.slug,
                    "fault": e.label,
                    "from_operation": e.start_op,
                    "seconds": round((e.ended_at or 0) - (e.started_at or 0), 1) if e.started_at else None,
                }
                for e in self.episodes
            ],
        }


# --- comparing one night -----------------------------------------------------------------------


def _night_issues(slug: str, day: dict | None, row: dict, holders: list[dict], closed: bool) -> list[tuple[str, str]]:
    if day is None:
        return [("price_restriction", "the platform has no calendar entry")]
    issues = []
    platform_closed = not day["available"]
    if closed and not platform_closed:
        if any(b["status"] == "confirmed" for b in holders):
            issues.append(("open_held_confirmed", "open though a confirmed stay or block holds it"))
        elif holders:
            issues.append(("open_held_overbooked", "open though only overbooked stays hold it"))
        else:
            issues.append(("price_restriction", "open though stop-sell"))
    elif platform_closed and not closed:
        why = (
            "its own reservation"
            if day.get("booked_by")
            else "pushed closed"
            if not day.get("stop_sell")
            else "stop-sell"
        )
        issues.append(("closed_not_held", f"closed ({why}) though nothing holds it"))
    if day["price"] is None or Decimal(day["price"]) != Decimal(row["price"]):
        issues.append(("price_restriction", f"price {day['price']} != {row['price']}"))
    if day["min_stay"] != row["min_stay"]:
        issues.append(("price_restriction", f"min stay {day['min_stay']} != {row['min_stay']}"))
    for name, short in (("closed_to_arrival", "CTA"), ("closed_to_departure", "CTD")):
        if bool(day[name]) != bool(row[name]):
            issues.append(("price_restriction", f"{short} {day[name]} != {row[name]}"))
    if slug in STOP_SELL_CARRIED and bool(day["stop_sell"]) != bool(row["stop_sell"]):
        issues.append(("price_restriction", f"stop-sell {day['stop_sell']} != {row['stop_sell']}"))
    return issues


def _platform_view(day: dict | None) -> dict | None:
    if day is None:
        return None
    keys = ("available", "booked_by", "price", "min_stay", "closed_to_arrival", "closed_to_departure", "stop_sell")
    return {k: day.get(k) for k in keys} | {"updated_at": day.get("updated_at")}


def _booked_by(day: dict | None, slug: str, reservations: list[dict], bookings: list[dict]) -> dict | None:
    """The platform's own reservation on that night, and what the PMS made of it."""
    rid = (day or {}).get("booked_by")
    if not rid:
        return None
    item = next((r for r in reservations if r["platform"] == slug and r["id"] == rid), None)
    booking = next((b for b in bookings if b["source"] == slug and b["channel_booking_id"] == rid), None)
    return {
        "reservation": _short_reservation(item) if item else rid,
        "pms": _short_booking(booking) if booking else None,
    }


def _short_booking(b: dict) -> dict:
    out = {
        "id": b["id"],
        "kind": b["kind"],
        "status": b["status"],
        "source": b["source"],
        "channel_booking_id": b["channel_booking_id"],
        "stay": f"{b['check_in']}..{b['check_out']}",
    }
    if b.get("clashes_with"):
        out["clashes_with"] = b["clashes_with"]
    return out


def _short_reservation(item: dict) -> dict:
    return {
        "platform": item["platform"],
        "id": item["id"],
        "unit": item["unit"],
        "status": item["status"],
        "stay": f"{item['check_in']}..{item['check_out']}",
        "revision": item.get("revision"),
    }


def _describe(d: dict) -> str:
    shows = d["platform_shows"] or {}
    platform = (
        "no entry"
        if not shows
        else ("closed" if not shows["available"] else "open")
        + (f" (booked_by {shows['booked_by']})" if shows.get("booked_by") else "")
        + f", price {shows['price']}, min {shows['min_stay']}, CTA {shows['closed_to_arrival']},"
        f" CTD {shows['closed_to_departure']}, stop-sell {shows['stop_sell']}"
    )
    pms = d["pms"]
    holds = ", ".join(
        f"#{b['id']} {b['source']}{' ' + b['channel_booking_id'] if b['channel_booking_id'] else ''} {b['kind']}"
        f" {b['status']} {b['stay']}" + (f" (clashes with #{b['clashes_with']})" if b.get("clashes_with") else "")
        for b in d["covering"]
    )
    return (
        f"unit {d['unit']} {d['platform']:<11} {d['date']}  {'; '.join(d['issues'])}\n"
        f"      platform: {platform}\n"
        f"      PMS: {'closed' if pms['closed'] else 'open'}, price {pms['price']}, min {pms['min_stay']},"
        f" CTA {pms['closed_to_arrival']}, CTD {pms['closed_to_departure']}, stop-sell {pms['stop_sell']};"
        f" held by: {holds or 'nothing'}"
        + (f"\n      platform's own reservation: {json.dumps(d['booked_by'])}" if d["booked_by"] else "")
    )


def format_report(mode: str, quiet: bool, waited: float, pending: dict, drift: list[dict], summary: dict) -> str:
    lines = [
        f"soak seed={summary['seed']} mode={mode} units={len(summary['units'])} "
        f"window={summary['window'][0]}..{summary['window'][1]}",
        f"operations: {summary['operations']} ({summary['requests']} requests): "
        + ", ".join(f"{k} {v}" for k, v in summary["operations_by_kind"].items()),
        "outcomes: " + ", ".join(f"{k} {v}" for k, v in summary["outcomes"].items()),
        "faults: "
        + "; ".join(
            f"{f['fault']} on {f['platform']} from op {f['from_operation']} ({f['seconds']}s)"
            for f in summary["faults"]
        ),
        f"stays: {summary['stays']} {summary['stays_by_status']} by source {summary['stays_by_source']}; "
        f"blocks {summary['blocks_by_status']}",
        f"overbookings: {summary['overbookings']} overbooked now, {summary['stored_with_clash']} stored with a clash",
        f"quiet: {'yes' if quiet else 'NO'} after {waited:.0f}s" + ("" if quiet else f"; still pending: {pending}"),
        f"nights checked: {summary['nights_checked']} (units x platforms x nights)",
        f"drift: {summary['drift']} platform-nights "
        + ", ".join(f"{k}: {v}" for k, v in summary["drift_by_class"].items())
        + (f"; by platform {summary['drift_by_platform']}" if drift else ""),
        f"PMS calendar vs bookings list and API writes: {summary['pms_calendar_disagreements']} nights disagree"
        + (f" {summary['pms_calendar_by_class']}" if summary["pms_calendar_disagreements"] else ""),
        f"platform reservations not reflected in the PMS: {len(summary['inbound_unreflected'])}",
        f"rate-limit violations (requests over a platform's limit): {sum(summary['rate_limit_violations'].values())}"
        + f" {summary['rate_limit_violations']}",
        f"the wall clock moved {summary.get('wall_clock_step_seconds', 0):+.3f}s against the monotonic clock "
        "during the run (our limiter's windows run on the first, the sandbox's on the second)",
    ]
    for slug, refusals in summary.get("rate_limit_refusals", {}).items():
        lines.append(f"    {slug} refused (the last {len(refusals)}):")
        lines.extend(f"      {json.dumps(r)}" for r in refusals)
    for item in summary["inbound_unreflected"][:10]:
        lines.append(f"    {json.dumps(item)}")
    if drift:
        lines.append(f"first {min(20, len(drift))} drifting nights:")
        lines.extend("  " + _describe(d) for d in drift[:20])
    return "\n".join(lines)


# --- entry points -------------------------------------------------------------------------------


def soak_env() -> dict:
    """Settings for the soak's stack. Every unit's Booking.com connection shares one account (20
    requests a minute): a poll every 10 s per unit would leave the pushes almost nothing. Pulls still
    happen at once on the sandbox's notify ping."""
    return {
        "BOOKING_COM_POLL_SECONDS": "30",
        # The catch-up behind the webhooks: within the quiet wait, so a booking whose webhook was lost counts
        # as lost only when the poll missed it too.
        **{f"{slug.upper()}_POLL_SECONDS": str(SOAK_CATCH_UP_SECONDS) for slug in CATCH_UP_PLATFORMS},
    }


def make_stack(mode: str, units: int, *, hotel: bool = False) -> Stack:
    if mode == "services":
        return Stack(
            database_url=os.environ["DATABASE_URL"],
            redis_url=os.environ["REDIS_URL"],
            name="soak",
            extra_env=soak_env(),
            units=units,
            hotel=hotel,
            extra_workers=1,  # two rundramatiq processes beside gunicorn's two: they must behave as one
        )
    return EmbeddedStack(name="soak", extra_env=soak_env(), units=units, hotel=hotel)


def run_soak(config: SoakConfig, mode: str, *, out=print) -> SoakResult:
    """Start the stack, run the operations, wait for quiet, check; the stack is stopped afterwards."""
    artifacts = Path(config.artifacts or tempfile.mkdtemp(prefix=f"soak-{config.seed}-"))
    artifacts.mkdir(parents=True, exist_ok=True)
    stack = make_stack(mode, config.units, hotel=config.hotel)
    began = time.monotonic()
    out(f"starting the {mode} stack with {config.units} units x {len(PLATFORMS)} platforms ...")
    stack.start()
    soak = None
    try:
        out(f"stack up in {time.monotonic() - began:.0f}s; {config.operations} operations (seed {config.seed}) ...")
        soak = Soak(stack, config, artifacts / "operations.jsonl")
        soak.log(
            event="start",
            mode=mode,
            config={k: str(v) for k, v in dataclasses.asdict(config).items()},
            units=stack.unit_ids,
            listings=stack.seed["unit_listings"],
        )
        ops_began = time.monotonic()
        soak.run_operations()
        out(f"operations done in {time.monotonic() - ops_began:.0f}s; waiting for quiet ...")
        quiet, pending, waited = soak.wait_quiet()
        held = stack.held_connections()
        drift_held: list[dict] = []
        if held:
            # First the promise while they are held: every night a stay holds is closed there too. Then
            # staff resume them (the refusing platform takes the values again), and everything converges.
            drift_held, _summary = soak.check(closeouts_only=frozenset((unit, slug) for _pk, unit, slug in held))
            out(f"{len(held)} connection(s) held to close-outs; drift while held: {len(drift_held)}; resuming ...")
            for pk, _unit, _slug in held:
                stack.api("POST", f"/channel-connections/{pk}/resume").raise_for_status()
            soak.log(event="resumed", connections=[pk for pk, *_rest in held], drift_while_held=len(drift_held))
            quiet, pending, more = soak.wait_quiet()
            waited += more
        drift, summary = soak.check()
        drift = drift_held + drift
        summary["drift"] = len(drift)
        summary |= {"held_to_closeouts": len(held), "drift_while_held": len(drift_held)}
        summary |= {"mode": mode, "quiet": quiet, "quiet_after_seconds": round(waited, 1), "pending": pending}
        summary["seconds"] = round(time.monotonic() - began, 1)
        report = format_report(mode, quiet, waited, pending, drift, summary)
        (artifacts / "drift.json").write_text(json.dumps(drift, indent=1, default=str))
        (artifacts / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        (artifacts / "final_state.json").write_text(json.dumps(soak.final_state, indent=1, default=str))
        soak.log(event="end", quiet=quiet, drift=len(drift), pending=pending)
    except BaseException:
        out(stack.logs_tail(40))
        raise
    finally:
        if soak is not None:
            soak.close()
        for name, path in stack.log_files.items():
            try:
                shutil.copy2(path, artifacts / f"{name}.log")
            except OSError:
                pass
        stack.stop()
    report += f"\nartifacts: {artifacts} (operations.jsonl, drift.json, summary.json, final_state.json, process logs)"
    report += f"\ntotal {summary['seconds']:.0f}s"
    return SoakResult(config, mode, quiet, pending, drift, summary, report, artifacts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--operations", type=int, default=400)
    parser.add_argument("--units", type=int, default=3, choices=range(1, 6))
    parser.add_argument("--window-days", type=int, default=45)
    parser.add_argument("--outage-seconds", type=float, default=60.0)
    parser.add_argument("--pace", type=float, default=0.2, help="mean pause between operations, seconds")
    parser.add_argument("--quiet-timeout", type=float, default=600.0, help="seconds to wait for quiet")
    parser.add_argument("--artifacts", type=Path, default=None, help="directory for logs (default: a temp dir)")
    parser.add_argument("--mode", choices=("auto", "embedded", "services"), default="auto")
    parser.add_argument(
        "--hotel",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="units are room types of one Booking.com hotel (account-batched pushes); --no-hotel: a hotel each",
    )
    args = parser.parse_args(argv)
    # A stop (Ctrl-C, SIGTERM, even when started in the background with SIGINT ignored) still stops the
    # stack and drops its database and Redis keys.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.window_days < 10:
        parser.error("--window-days must be at least 10")
    mode = args.mode
    if mode == "auto":
        mode = "services" if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL") else "embedded"
    if mode == "services":
        try:
            check_services(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""))
        except ServiceMissing as exc:
            print(f"bench/soak.py --mode services needs Postgres and Redis: {exc}", file=sys.stderr)
            return 2
    config = SoakConfig(
        seed=args.seed,
        operations=args.operations,
        units=args.units,
        window_days=args.window_days,
        outage_seconds=args.outage_seconds,
        pace=args.pace,
        quiet_timeout=args.quiet_timeout,
        artifacts=args.artifacts,
        hotel=args.hotel,
    )
    result = run_soak(config, mode, out=lambda text: print(text, flush=True))
    print(result.report, flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
