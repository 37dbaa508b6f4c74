"""The seeds' ``channel_manager_*`` Prometheus metrics and their helpers.

Served at ``/metrics`` with django-prometheus's. With ``PROMETHEUS_MULTIPROC_DIR`` set, every gunicorn
and Dramatiq process writes its samples there and the scrape adds them up (prometheus_client's
multiprocess mode).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from adapters import http

# sync
SYNC_OPERATIONS = Counter(
    "channel_manager_sync_operations_total", "Sync operations", ["operation", "platform", "status"]
)
SYNC_DURATION = Histogram(
    "channel_manager_sync_operation_duration_seconds", "Sync operation duration", ["operation", "platform"]
)
SYNC_LAG = Histogram(
    "channel_manager_sync_lag_seconds",
    "From the change (webhook accepted or PMS write) to the platform holding it",
    ["platform"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300, 900),
)
# platform APIs
PLATFORM_API_REQUESTS = Counter(
    "channel_manager_platform_api_requests_total", "Platform API requests", ["platform", "endpoint", "status"]
)
PLATFORM_API_ERRORS = Counter(
    "channel_manager_platform_api_errors_total", "Platform API errors", ["platform", "endpoint", "error_type"]
)
PLATFORM_API_LATENCY = Histogram(
    "channel_manager_platform_api_latency_seconds", "Platform API latency", ["platform", "endpoint"]
)
# circuit breaker (state: 0 closed, 1 half-open, 2 open)
CIRCUIT_BREAKER_STATE = Gauge(
    "channel_manager_circuit_breaker_state",
    "Breaker state: 0 closed, 1 half-open, 2 open",
    ["platform"],
    multiprocess_mode="livemax",
)
CIRCUIT_BREAKER_FAILURES = Counter(
    "channel_manager_circuit_breaker_failures_total", "Transient failures counted by the breaker", ["platform"]
)
CIRCUIT_BREAKER_STATE_CHANGES = Counter(
    "channel_manager_circuit_breaker_state_changes_total", "Breaker transitions", ["platform", "from_state", "to_state"]
)
# rate limiter
RATE_LIMITER_REQUESTS = Counter(
    "channel_manager_rate_limiter_requests_total", "Limiter decisions", ["platform", "status"]
)
RATE_LIMITER_USAGE = Gauge(
    "channel_manager_rate_limiter_current_usage",
    "Requests in the current window",
    ["platform", "account"],
    multiprocess_mode="livemax",
)
RATE_LIMITER_WAIT = Histogram(
    "channel_manager_rate_limiter_wait_seconds",
    "Time waited for the limiter",
    ["platform"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
# webhooks
WEBHOOKS_RECEIVED = Counter(
    "channel_manager_webhooks_received_total", "Webhooks received", ["platform", "event_type", "status"]
)
WEBHOOK_DURATION = Histogram(
    "channel_manager_webhook_processing_duration_seconds", "Webhook handling time", ["platform"]
)
WEBHOOK_SIGNATURE_FAILURES = Counter(
    "channel_manager_webhook_signature_failures_total", "Webhooks refused for their signature", ["platform"]
)
# business
BOOKINGS_IMPORTED = Counter(
    "channel_manager_bookings_imported_total", "Bookings imported from platforms", ["platform", "action"]
)
AVAILABILITY_UPDATES = Counter(
    "channel_manager_availability_updates_total", "Availability pushes", ["platform", "status"]
)
PRICING_UPDATES = Counter("channel_manager_pricing_updates_total", "Pricing pushes", ["platform", "status"])
DOUBLE_BOOKING_ATTEMPTS = Counter(
    "channel_manager_double_booking_attempts_total", "Bookings refused or stored overbooked for a clash", ["platform"]
)
# system
# The seed's name (``channel_manager_connections_active{platform}``); set by the scheduler's ``update_gauges``.
ACTIVE_CONNECTIONS = Gauge(
    "channel_manager_connections_active",
    "Connections in status active, per platform",
    ["platform"],
    multiprocess_mode="livemax",
)
QUEUE_SIZE = Gauge("channel_manager_queue_size", "Messages waiting per queue", ["queue"], multiprocess_mode="livemax")
# When the active scheduler last wrote its gauges: SchedulerSilent reads its age. A scheduler that lost the
# lease stops writing it (it keeps exporting the old value, which ages), where ``absent(queue_size)`` never
# fired while a stale holder still exported its last sizes.
SCHEDULER_HEARTBEAT = Gauge(
    "channel_manager_scheduler_heartbeat_timestamp_seconds",
    "When the active scheduler last wrote its gauges (Unix time)",
    multiprocess_mode="livemax",
)
TASK_FAILURES = Counter("channel_manager_task_failures_total", "Actor failures", ["task", "error_type"])

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def series_at_zero() -> None:
    """Create, at 0, the series the alerts read with ``increase()`` before their first event: Prometheus
    takes a series' first sample as its baseline, so an event that created its series at 1 was invisible
    (the first overbooking of a platform, the first message given up, a breaker's first opening)."""
    from django.conf import settings

    from adapters import registry
    from channelmgr.resilience.attempts import COUNTED_ACTORS

    for slug in registry.adapters():
        DOUBLE_BOOKING_ATTEMPTS.labels(slug)
    for actor in COUNTED_ACTORS:
        TASK_FAILURES.labels(actor, "attempts_exhausted")
    for slug, values in settings.PLATFORMS.items():
        if values.get("rate_limit") is not None:  # a guarded platform: it has a breaker
            for before in ("closed", "half_open"):
                CIRCUIT_BREAKER_STATE_CHANGES.labels(slug, before, "open")


@contextmanager
def track_sync_operation(operation: str, platform: str):
    """Count and time one sync operation; an exception marks it failed and propagates."""
    started = time.monotonic()
    try:
        yield
    except Exception as exc:
        # A deferral (limiter full, breaker open, the account's pull already running) is "not now", not a
        # failure: counted as failed it paged PollFailing for polls that never failed.
        from channelmgr.resilience.errors import Backpressure

        status = "deferred" if isinstance(exc, Backpressure) else "failed"
        SYNC_OPERATIONS.labels(operation, platform, status).inc()
        raise
    else:
        SYNC_OPERATIONS.labels(operation, platform, "success").inc()
    finally:
        SYNC_DURATION.labels(operation, platform).observe(time.monotonic() - started)


@contextmanager
def track_platform_api_call(platform: str, endpoint: str):
    """Count and time one platform call made outside ``adapters.http`` (which reports by itself)."""
    started = time.monotonic()
    try:
        yield
    except Exception as exc:
        PLATFORM_API_REQUESTS.labels(platform, endpoint, "error").inc()
        PLATFORM_API_ERRORS.labels(platform, endpoint, type(exc).__name__).inc()
        raise
    else:
        PLATFORM_API_REQUESTS.labels(platform, endpoint, "ok").inc()
    finally:
        PLATFORM_API_LATENCY.labels(platform, endpoint).observe(time.monotonic() - started)


def record_circuit_breaker_state_change(platform: str, from_state: str, to_state: str) -> None:
    CIRCUIT_BREAKER_STATE_CHANGES.labels(platform, from_state, to_state).inc()
    CIRCUIT_BREAKER_STATE.labels(platform).set(BREAKER_STATE_VALUES[to_state])


def update_rate_limiter_usage(platform: str, account: str, usage: int) -> None:
    RATE_LIMITER_USAGE.labels(platform, account).set(usage)


def record_webhook_received(platform: str, event_type: str, status: str, seconds: float | None = None) -> None:
    WEBHOOKS_RECEIVED.labels(platform, event_type, status).inc()
    if seconds is not None:
        WEBHOOK_DURATION.labels(platform).observe(seconds)


def _observe_platform_call(record: http.CallRecord) -> None:
    status = str(record.status) if record.status is not None else (record.error or "error")
    PLATFORM_API_REQUESTS.labels(record.platform, record.endpoint, status).inc()
    PLATFORM_API_LATENCY.labels(record.platform, record.endpoint).observe(record.seconds)
    if record.error or (record.status or 0) >= 400:
        PLATFORM_API_ERRORS.labels(record.platform, record.endpoint, record.error or f"http_{record.status}").inc()


def _observe_refusal(platform: str, endpoint: str, error_type: str) -> None:
    PLATFORM_API_ERRORS.labels(platform, endpoint, error_type).inc()


if _observe_refusal not in http.refusal_observers:
    http.refusal_observers.append(_observe_refusal)
if _observe_platform_call not in http.observers:
    http.observers.append(_observe_platform_call)
