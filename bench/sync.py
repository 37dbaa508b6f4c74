"""Sync engine benchmark on the real stack (gunicorn, a rundramatiq worker, the scheduler, the sandbox) on
Postgres and Redis. Prints, from one run:

(a) outbound requests made / the minimum possible, for a burst of 100 price changes (100 separate API
    requests) to one unit on every channel we push to (5 today);
(b) lag percentiles p50/p95/p99 from a webhook accepted (``InboundEvent.received_at``) to the last other
    platform updated (``finished_at`` of that platform's availability push), over 30 guest bookings;
(c) the push actor's throughput / a no-op Dramatiq actor's throughput, on the same Redis broker with
    the same worker (one in-process ``dramatiq.Worker``, 4 threads).

    .venv/bin/python bench/sync.py [--bookings 30] [--pushes 60] [--noops 2000]

Needs Postgres and Redis: ``DATABASE_URL`` and ``REDIS_URL`` (default: the local services,
postgres://postgres@127.0.0.1:5432/postgres and redis://127.0.0.1:6379/0). It creates and drops its own
database and uses its own Redis key prefix.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testkit import wait_for  # noqa: E402
from testkit.stack import (  # noqa: E402
    PLATFORMS,
    ServiceMissing,
    Stack,
    check_services,
    delta,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[rank]


def burst_ratio(stack: Stack) -> tuple[int, int, float]:
    """100 separate price requests to one unit; returns (requests made, minimum, burst seconds)."""
    from adapters.registry import adapter_class

    start = dt.date.today() + dt.timedelta(days=140)
    before = stack.all_stats()

    def change(i: int):
        night = start + dt.timedelta(days=i)
        value = {"unit": stack.unit_id, "start": night.isoformat(), "end": (night + dt.timedelta(days=1)).isoformat()}
        return stack.api("POST", "/calendar", json={"values": [{**value, "price": f"{200 + i}.00"}]})

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(change, range(100)))
    burst = time.monotonic() - began
    if any(a.status_code != 200 for a in answers):
        raise SystemExit(f"the API refused a price change: {[a.text for a in answers if a.status_code != 200][:1]}")
    end = start + dt.timedelta(days=100)

    def priced() -> bool:
        for slug in PLATFORMS:
            days = stack.calendar(slug, start, end)
            if len(days) != 100 or any(float(d["price"] or 0) != 200 + i for i, d in enumerate(days)):
                return False
        return True

    if not wait_for(priced, timeout=60, interval=0.5) or not wait_for(stack.idle, timeout=60):
        raise SystemExit("the burst did not reach every platform within 60 s")
    after = stack.all_stats()
    made = sum(delta(before, after, slug, stack.write_endpoint(slug, "pricing")) for slug in PLATFORMS)
    minimum = sum(math.ceil(100 / adapter_class(slug).max_batch) for slug in PLATFORMS)
    return made, minimum, burst


def booking_lags(stack: Stack, bookings: int) -> tuple[list[float], dict[str, list[float]]]:
    """Guest bookings on Airbnb, one after another: webhook accepted -> last other platform updated
    (and, per platform, -> that platform updated)."""
    slugs = [slug for slug in PLATFORMS if slug != "airbnb"]
    others = [stack.connection_id(slug) for slug in slugs]
    platform_of = {stack.connection_id(slug): slug for slug in slugs}
    lags, per_platform = [], {slug: [] for slug in slugs}
    for i in range(bookings):
        check_in = dt.date.today() + dt.timedelta(days=14 + 4 * i)
        check_out = check_in + dt.timedelta(days=2)
        answer = stack.book("airbnb", check_in, check_out, guest=f"Gast {i}")
        if answer.status_code != 201:
            raise SystemExit(f"the Airbnb sandbox refused booking {i}: {answer.text}")
        reservation = answer.json()["id"]

        def closed(check_in=check_in, check_out=check_out) -> bool:
            return stack.all_closed(slugs, check_in, check_out)

        if not wait_for(closed, timeout=30):
            raise SystemExit(f"booking {i} did not close the nights everywhere within 30 s")
        wait_for(stack.idle, timeout=30)
        received = stack.scalar(
            "SELECT received_at FROM channelmgr_inboundevent WHERE platform = 'airbnb' AND channel_booking_id = %s",
            (reservation,),
        )
        # The first availability push to each other connection that finished after the webhook came in.
        rows = stack.query(
            """
            SELECT connection_id, min(finished_at) FROM channelmgr_synclog
             WHERE direction = 'outbound' AND kind = 'availability' AND status = 'success'
               AND request_count > 0 AND started_at >= %s AND connection_id = ANY(%s)
             GROUP BY connection_id
            """,
            (received, others),
        )
        if len(rows) != len(others):
            raise SystemExit(f"booking {i}: pushes missing in the sync log ({rows})")
        lags.append((max(finished for _c, finished in rows) - received).total_seconds())
        for connection_id, finished in rows:
            per_platform[platform_of[connection_id]].append((finished - received).total_seconds())
    return lags, per_platform


def throughput_ratio(stack: Stack, pushes: int, noops: int) -> tuple[float, float]:
    """(push messages per second, no-op messages per second) through one in-process worker."""
    stack.kill_worker()  # the bench's own worker takes over the queues
    os.environ.update({**stack.env, "LOG_LEVEL": "WARNING"})
    import django

    django.setup()
    import dramatiq

    import channelmgr.tasks as tasks

    broker = dramatiq.get_broker()
    done = threading.Semaphore(0)

    @dramatiq.actor(queue_name="bench-noop", max_retries=0)
    def noop(i: int) -> None:
        done.release()

    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    worker.start()

    def timed(enqueue, finished) -> float:
        """Enqueue with the worker paused, so only the processing is timed."""
        worker.pause()
        enqueue()
        began = time.monotonic()
        worker.resume()
        finished()
        return time.monotonic() - began

    def enqueue_noops():
        for i in range(noops):
            noop.send(i)

    def noops_done():
        for _ in range(noops):
            if not done.acquire(timeout=120):
                raise SystemExit("the no-op actor stalled")

    connections = _push_connections(stack, pushes)
    noop_seconds = timed(enqueue_noops, noops_done)

    def enqueue_pushes():
        for connection_id in connections:
            tasks.update_channel_pricing.send(connection_id)

    def pushes_done():
        if not wait_for(lambda: not stack.scalar("SELECT count(*) FROM channelmgr_dirtyrange"), 120, 0.02):
            raise SystemExit("the pushes did not finish within 120 s")

    try:
        push_seconds = timed(enqueue_pushes, pushes_done)
    finally:
        worker.stop()
    return len(connections) / push_seconds, noops / noop_seconds


def _push_connections(stack: Stack, count: int) -> list[int]:
    """``count`` Google connections (extra units; Google pushes only, nothing polls it), each with one dirty
    price range that is already past the debounce, so every message is one real push through the
    limiter (Google allows 100 requests a second) and the breaker."""
    code = f"""
import json
from decimal import Decimal
import requests
from django.conf import settings
from channelmgr.demo import demo_connect_oauth
from channelmgr.models import ChannelConnection
from pms_core.models import Unit
from testkit import demo_connection

prop = Unit.objects.get(pk={stack.unit_id}).property
ids = []
for i in range({count}):
    unit = Unit.objects.create(property=prop, name=f"Bench {{i}}", base_price=Decimal("90.00"), default_min_stay=1)
    fields = demo_connection("google", unit.pk, settings.SANDBOX_URL)
    requests.post(f"{{settings.SANDBOX_URL}}/_control/google/listings",
                  json={{"listing_id": fields["platform_listing_id"]}}, timeout=10).raise_for_status()
    c = ChannelConnection.objects.create(organization=prop.organization, unit=unit, platform_type="google", **fields)
    ids.append(c.pk)
assert demo_connect_oauth() == {count}
print(json.dumps(ids))
"""
    import json

    ids = json.loads(stack.manage("shell", "-c", code, timeout=300).stdout.strip().splitlines()[-1])
    start = dt.date.today() + dt.timedelta(days=20)
    for connection_id in ids:
        stack.query(
            """INSERT INTO channelmgr_dirtyrange
                   (connection_id, kind, start, "end", created_at, claimed_by, correlation_id)
               VALUES (%s, 'pricing', %s, %s, now() - interval '10 seconds', '', 'bench')""",
            (connection_id, start, start + dt.timedelta(days=30)),
        )
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=30)
    parser.add_argument("--pushes", type=int, default=60)
    parser.add_argument("--noops", type=int, default=2000)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    try:
        check_services(database_url, redis_url)
    except ServiceMissing as exc:
        print(f"bench/sync.py needs Postgres and Redis (set DATABASE_URL and REDIS_URL): {exc}", file=sys.stderr)
        return 2
    print("starting the stack (sandbox, gunicorn, rundramatiq, scheduler)...", flush=True)
    stack = Stack(database_url=database_url, redis_url=redis_url, name="bench")
    try:
        stack.start()
        made, minimum, burst = burst_ratio(stack)
        print(
            f"(a) burst of 100 price changes ({burst:.1f}s, 100 API requests) on {len(PLATFORMS)} channels: "
            f"{made} requests / {minimum} minimum = {made / minimum:.2f}",
            flush=True,
        )
        lags, per_platform = booking_lags(stack, args.bookings)
        print(
            f"(b) lag webhook accepted -> last other platform updated, {len(lags)} bookings: "
            f"p50 {percentile(lags, 50):.2f}s  p95 {percentile(lags, 95):.2f}s  p99 {percentile(lags, 99):.2f}s  "
            f"(mean {statistics.mean(lags):.2f}s, max {max(lags):.2f}s)",
            flush=True,
        )
        for slug, values in per_platform.items():
            print(
                f"      {slug:12} p50 {percentile(values, 50):.2f}s  p95 {percentile(values, 95):.2f}s  "
                f"p99 {percentile(values, 99):.2f}s",
                flush=True,
            )
        push_rate, noop_rate = throughput_ratio(stack, args.pushes, args.noops)
        print(
            f"(c) push actor {push_rate:.1f} msg/s / no-op actor {noop_rate:.1f} msg/s "
            f"= {push_rate / noop_rate:.3f} (same Redis broker, one worker, 4 threads)",
            flush=True,
        )
    except BaseException:
        print(stack.logs_tail(30), file=sys.stderr)
        raise
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
