"""``/metrics`` after a real sync: every seed metric is served, and the ones a sync feeds have grown.

prometheus_client's registry is process-wide and counters only grow, so the assertions compare a
scrape taken before the sync with one taken after it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from channelmgr.models import SyncLog
from pms_core.services import calendar_set_prices
from testkit import push_platforms, wait_for

from .conftest import guest_books, imported

SEED_METRICS = [
    "channel_manager_sync_operations_total",
    "channel_manager_sync_operation_duration_seconds",
    "channel_manager_sync_lag_seconds",
    "channel_manager_platform_api_requests_total",
    "channel_manager_platform_api_errors_total",
    "channel_manager_platform_api_latency_seconds",
    "channel_manager_circuit_breaker_state",
    "channel_manager_circuit_breaker_failures_total",
    "channel_manager_circuit_breaker_state_changes_total",
    "channel_manager_rate_limiter_requests_total",
    "channel_manager_rate_limiter_current_usage",
    "channel_manager_rate_limiter_wait_seconds",
    "channel_manager_webhooks_received_total",
    "channel_manager_webhook_processing_duration_seconds",
    "channel_manager_webhook_signature_failures_total",
    "channel_manager_bookings_imported_total",
    "channel_manager_availability_updates_total",
    "channel_manager_pricing_updates_total",
    "channel_manager_double_booking_attempts_total",
    "channel_manager_connections_active",
    "channel_manager_queue_size",
    "channel_manager_task_failures_total",
]
# What one webhook -> import -> push, and one price change, must have counted (histograms by _count).
GROWN_BY_A_SYNC = [
    "channel_manager_sync_operations_total",
    "channel_manager_sync_operation_duration_seconds_count",
    "channel_manager_sync_lag_seconds_count",
    "channel_manager_platform_api_requests_total",
    "channel_manager_platform_api_latency_seconds_count",
    "channel_manager_rate_limiter_requests_total",
    "channel_manager_webhooks_received_total",
    "channel_manager_webhook_processing_duration_seconds_count",
    "channel_manager_bookings_imported_total",
    "channel_manager_availability_updates_total",
    "channel_manager_pricing_updates_total",
]
# Every platform the connected unit is on (we push to each), from the registry.
PUSH_PLATFORMS = push_platforms()


def _scrape(base_url: str):
    answer = requests.get(f"{base_url}/metrics", timeout=10)
    assert answer.status_code == 200
    return list(text_string_to_metric_families(answer.text))


def _sample_sums(families) -> dict[str, float]:
    """Sample name -> sum over its label sets."""
    sums: dict[str, float] = {}
    for family in families:
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


def _family(families, name: str):
    # The parser drops a counter's ``_total`` from the family name (OpenMetrics style).
    return next((f for f in families if name in (f.name, f"{f.name}_total")), None)


def _successful(kind: str) -> int:
    return SyncLog.objects.filter(
        direction=SyncLog.Direction.OUTBOUND, kind=kind, status=SyncLog.Status.SUCCESS
    ).count()


@pytest.mark.django_db(transaction=True)
def test_metrics_after_a_real_sync_carry_every_seed_metric(live_server, sandbox, connected_unit, worker):
    from channelmgr.scheduler import update_gauges

    before = _sample_sums(_scrape(live_server.url))
    start = dt.date.today() + dt.timedelta(days=20)
    reservation = guest_books(sandbox, connected_unit, platform="airbnb", check_in=start, nights=2, guest_name="Ada")
    assert wait_for(lambda: imported("airbnb", reservation), timeout=30), "the webhook's booking was not imported"
    # Booked on airbnb: an availability push to every other platform.
    assert wait_for(lambda: _successful("availability") >= len(PUSH_PLATFORMS) - 1, timeout=30)
    calendar_set_prices(
        unit=connected_unit, start=start + dt.timedelta(days=5), end=start + dt.timedelta(days=8), price=Decimal("199")
    )
    assert wait_for(lambda: _successful("pricing") >= len(PUSH_PLATFORMS), timeout=30)
    worker.join()
    update_gauges()  # the scheduler's job that sets the connection and queue gauges

    families = _scrape(live_server.url)
    missing = [name for name in SEED_METRICS if _family(families, name) is None]
    assert not missing, missing
    after = _sample_sums(families)
    not_grown = [name for name in GROWN_BY_A_SYNC if after.get(name, 0) <= before.get(name, 0)]
    assert not not_grown, {name: (before.get(name), after.get(name)) for name in not_grown}

    active = {s.labels["platform"]: s.value for s in _family(families, "channel_manager_connections_active").samples}
    assert all(active[slug] >= 1 for slug in PUSH_PLATFORMS), active
    queues = {s.labels["queue"] for s in _family(families, "channel_manager_queue_size").samples}
    assert queues == {"outbox", "push", "inbound"}
    usage = _family(families, "channel_manager_rate_limiter_current_usage").samples
    assert {s.labels["platform"] for s in usage} >= set(PUSH_PLATFORMS)
    imports = _family(families, "channel_manager_bookings_imported_total").samples
    assert any(s.labels == {"platform": "airbnb", "action": "created"} and s.value >= 1 for s in imports)


@pytest.mark.django_db(transaction=True)
def test_a_webhook_with_a_bad_signature_is_counted(live_server):
    families = _scrape(live_server.url)
    before = _sample_sums(families).get("channel_manager_webhook_signature_failures_total", 0)
    answer = requests.post(
        f"{live_server.url}/webhooks/airbnb",
        data=b'{"event_id": "evt-x", "event_type": "reservation.created"}',
        headers={"Content-Type": "application/json", "X-Airbnb-Signature": "t=1,v1=00"},
        timeout=10,
    )
    assert answer.status_code == 401
    after = _sample_sums(_scrape(live_server.url)).get("channel_manager_webhook_signature_failures_total", 0)
    assert after == before + 1


def test_healthz_answers_ok(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_the_database_the_cache_and_the_broker(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}
