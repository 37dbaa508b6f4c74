"""Do the alerts of deploy/prometheus/alerts.yml fire when their condition happens, and only then?

Each test reads the alert rules and the runbook (docs/operations.md) as an operator would, and drives the
code that feeds the metric in-process (embedded mode: SQLite, the local-memory cache, the stub broker).
Docstrings starting "Used to fail" describe a gap the test proved by failing before its fix (found in
review, 2026-12-06); the others were checked and hold. tests/deploy/test_runbook.py already checks metric
names and runbook anchors: not repeated here.

The Prometheus side is emulated where it matters: ``increase()`` and ``rate()`` need at least two samples
of a series inside their range, so a series that first appears already at 1 shows no increase.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import responses
import time_machine
import yaml
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
RUNBOOK = ROOT / "docs" / "operations.md"


# --- helpers ---------------------------------------------------------------------------------------


def _rules() -> dict[str, dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def _collectors() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each channel_manager_* metric the app registers: name (without ``_total``) -> (type, label names)."""
    import channelmgr.metrics  # noqa: F401
    import pms_core.metrics  # noqa: F401

    found = {}
    for collector in list(REGISTRY._collector_to_names):
        name = getattr(collector, "_name", "")
        if name.startswith("channel_manager_"):
            found[name] = (collector._type, tuple(collector._labelnames))
    return found


def _metric_of(sample_name: str) -> str | None:
    collectors = _collectors()
    for suffix in ("_total", "_bucket", "_count", "_sum", "_created", ""):
        if sample_name.endswith(suffix):
            base = sample_name[: len(sample_name) - len(suffix)] if suffix else sample_name
            if base in collectors:
                return base
    return None


def _scrape(client) -> dict[str, list]:
    """Sample name -> samples, from the app's own /metrics (as Prometheus scrapes it)."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(answer.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _prometheus_increase(scrapes: list[float | None]) -> float:
    """``increase()`` over one range holding these scrapes of a series (None: the series was absent).
    Prometheus only sees the samples that exist; with fewer than two there is no result (no alert),
    and a counter's first sample is its baseline, not an increase."""
    present = [value for value in scrapes if value is not None]
    if len(present) < 2:
        return 0.0
    return present[-1] - present[0]


def _series(samples: dict[str, list], name: str, **labels) -> float | None:
    for sample in samples.get(name, []):
        if all(sample.labels.get(key) == value for key, value in labels.items()):
            return sample.value
    return None


# --- increase() alerts on counters whose series appear only with their first event ----------------


def _platforms() -> list[str]:
    from adapters import registry

    return list(registry.adapters())


def _guarded_platforms() -> list[str]:
    from django.conf import settings

    return [slug for slug, values in settings.PLATFORMS.items() if values.get("rate_limit") is not None]


def _given_up_actors() -> list[str]:
    """The actor names ``attempt_begin`` counts under ``task`` (read from the code that calls it)."""
    names = set()
    for path in (ROOT / "channelmgr").rglob("*.py"):
        names |= set(re.findall(r'attempt_begin\(actor_name="(\w+)"', path.read_text()))
    return sorted(names)


ZERO_SERIES = {
    "ChannelManagerOverbooking": ("channel_manager_double_booking_attempts_total", "platform", _platforms, {}),
    "ChannelManagerMessagesGivenUp": (
        "channel_manager_task_failures_total",
        "task",
        _given_up_actors,
        {"error_type": "attempts_exhausted"},
    ),
    "ChannelManagerBreakerKeepsOpening": (
        "channel_manager_circuit_breaker_state_changes_total",
        "platform",
        _guarded_platforms,
        {"to_state": "open"},
    ),
}


@pytest.mark.parametrize("alert", sorted(ZERO_SERIES))
def test_increase_alerts_read_series_that_exist_at_zero_before_their_first_event(alert, client):
    """Used to fail. ChannelManagerOverbooking (``increase(double_booking_attempts_total[10m]) > 0``),
    ChannelManagerMessagesGivenUp (``increase(task_failures_total[30m]) > 0``) and
    ChannelManagerBreakerKeepsOpening (``increase(state_changes_total{to_state="open"}[15m]) >= 3``)
    read labelled counters that have no series until their first event: the first overbooking of a
    platform, the first message given up by an actor, the first opening of a breaker in a pod's life
    appears as a brand-new series already at 1. Prometheus' increase() takes a series' first sample as
    its baseline, so that event is invisible: a single overbooking (the usual case, and every pod
    restart on a release starts over) never raises the ticket, a message given up once is never
    reported, and the breaker must open 4 times, not 3, before the page.
    Cause: channelmgr/metrics.py DOUBLE_BOOKING_ATTEMPTS, TASK_FAILURES, CIRCUIT_BREAKER_STATE_CHANGES
    are only ever touched through ``.labels(...).inc()`` at the event (channelmgr/inbound/importer.py
    booking_import, channelmgr/resilience/attempts.py attempt_begin, breaker.py _transition).
    Fix: create every known series at 0 at import (``.labels(slug)`` for each registry platform, each
    attempt-counted actor with ``attempts_exhausted``, each guarded platform with ``to_state="open"``
    and its from_states), as update_gauges does for connections_active; or write the alerts so a new
    series counts (e.g. ``... > 0 or (x unless x offset 10m)``)."""
    metric, label, values_of, fixed = ZERO_SERIES[alert]
    assert metric in _rules()[alert]["expr"], f"{alert} no longer reads {metric}"
    samples = _scrape(client)
    missing = [value for value in values_of() if _series(samples, metric, **{label: value, **fixed}) is None]
    assert not missing, (
        f"{alert}: no {metric} series at 0 for {label} in {missing}; the first event there creates the "
        "series at 1 and increase() reports 0"
    )


@pytest.mark.django_db
def test_a_first_overbooking_raises_the_overbooking_alert(client, unit, day):
    """Used to fail. the same gap shown end to end: a platform booking that clashes with a direct stay is
    stored overbooked and counted, but the scrapes Prometheus takes around it show the series only
    from the first moment it exists, at 1, so ``increase(channel_manager_double_booking_attempts_total
    [10m]) > 0`` evaluates 0 and ChannelManagerOverbooking stays silent for the clash it exists for.
    Cause: channelmgr/inbound/importer.py booking_import increments
    ``DOUBLE_BOOKING_ATTEMPTS.labels(platform)`` without the series having existed at 0
    (channelmgr/metrics.py). Fix: initialise ``DOUBLE_BOOKING_ATTEMPTS.labels(slug)`` for every
    registered platform at import."""
    from adapters.base import BookingData, BookingStatus, Guest
    from channelmgr.inbound.importer import Action, booking_import
    from channelmgr.models import ChannelConnection
    from pms_core.services.bookings import booking_create

    platform = "fewo_direkt"  # a platform no other metric test overbooks on
    connection = ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type=platform,
        platform_listing_id="FD-REVIEW",
        api_key="k",
    )
    booking_create(unit=unit, check_in=day(1), check_out=day(4), guest_name="Direct")
    metric = "channel_manager_double_booking_attempts_total"
    before = _series(_scrape(client), metric, platform=platform)
    data = BookingData(
        platform=platform,
        channel_booking_id="FD-CLASH-1",
        listing_id="FD-REVIEW",
        status=BookingStatus.CONFIRMED,
        check_in=day(2),
        check_out=day(5),
        guest=Guest(name="Gast"),
        version="1",
    )
    _booking, action = booking_import(connection=connection, data=data)
    assert action == Action.OVERBOOKED
    after = _series(_scrape(client), metric, platform=platform)
    assert after is not None and after >= 1, "the overbooking was not counted at all"
    # Two scrapes inside the alert's 10 minutes, one before the clash and one after (and more at 1).
    assert _prometheus_increase([before, after, after]) > 0, (
        f"series before the clash: {before!r}, after: {after!r}: increase() over them is 0"
    )


@pytest.mark.django_db
def test_an_overbooked_booking_modified_by_its_platform_is_not_a_new_double_booking(unit, day):
    """Used to fail. ChannelManagerOverbooking says "a booking clashed with a stay and was stored overbooked",
    and booking_import's docstring counts "a new booking that clashes". But a platform's later change of
    an overbooking still waiting for staff (a guest count, a name, a price) counts again in
    ``channel_manager_double_booking_attempts_total`` (and as ``action="overbooked"`` in
    bookings_imported_total): the ticket fires again for the same old clash on every modification.
    Cause: channelmgr/inbound/importer.py _modify returns ``Action.OVERBOOKED`` whenever the stored
    booking *is* overbooked after the change, and booking_import counts that action as a new clash.
    Fix: count a double booking only when the status becomes overbooked (was not before), e.g. return
    ``Action.MODIFIED`` from _modify when ``existing.status`` was already ``overbooked``."""
    from adapters.base import BookingData, BookingStatus, Guest
    from channelmgr.inbound.importer import Action, booking_import
    from channelmgr.models import ChannelConnection
    from pms_core.services.bookings import booking_create

    platform = "fewo_direkt"
    connection = ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type=platform,
        platform_listing_id="FD-REVIEW-2",
        api_key="k",
    )
    booking_create(unit=unit, check_in=day(1), check_out=day(4), guest_name="Direct")
    first = BookingData(
        platform=platform,
        channel_booking_id="FD-CLASH-2",
        listing_id="FD-REVIEW-2",
        status=BookingStatus.CONFIRMED,
        check_in=day(2),
        check_out=day(5),
        guest=Guest(name="Gast"),
        guests_count=2,
        version="1",
    )
    metric = "channel_manager_double_booking_attempts_total"
    start = _value(metric, platform=platform)
    _booking, action = booking_import(connection=connection, data=first)
    assert action == Action.OVERBOOKED
    assert _value(metric, platform=platform) == start + 1
    # The platform reports one more guest: same nights, same clash, nothing new for staff.
    later = BookingData(**{**first.__dict__, "guests_count": 3, "version": "2"})
    booking_import(connection=connection, data=later)
    assert _value(metric, platform=platform) == start + 1, "the same clash was counted as a new double booking"


# --- gauges written by the active scheduler ---------------------------------------------------------


def _lose_the_lease():
    """What ``run_scheduler`` does when its lease is lost (Redis blip, a stalled node): the keeper's on_lost."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from channelmgr.resilience.lease import Lease, MemoryLeaseStore
    from channelmgr.scheduler import lead

    lease = Lease(MemoryLeaseStore(), "scheduler", 15.0, owner="review-a")
    keeper = lead(BackgroundScheduler(timezone="UTC"), lease)
    keeper.on_lost(lease)


@pytest.fixture
def alice_api(alice):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(alice)
    return api


def _book(api, unit, day):
    answer = api.post("/bookings", {"unit": unit.pk, "check_in": str(day(1)), "check_out": str(day(4))}, format="json")
    assert answer.status_code == 201, answer.content
    return answer


def test_a_scheduler_that_lost_the_lease_stops_reporting_overdue_revisions(alice_api, unit, day, client):
    """Used to fail. ChannelManagerBookingRevisionsUnacknowledged reads ``max(..._unacknowledged)`` because
    "other pods report 0" (docs/operations.md, Metrics). A scheduler that *was* active and lost the lease
    (a Redis blip, a stalled node, a SIGTERM hand-over) does not report 0: it keeps its last count until
    its pod restarts, and max picks it. Once the integrator acknowledges everything the new holder writes
    0, but the old one's stale count keeps the ticket firing indefinitely (paging for nothing), with no
    hint in the runbook.
    Cause: channelmgr/scheduler.py lead().lost only pauses the APScheduler; nothing resets the gauges
    that update_gauges (pms_core/revisions.py revisions_overdue_gauge_update) set.
    Fix: in ``lost`` (and at start-up of a standby) set BOOKING_REVISIONS_UNACKNOWLEDGED to 0 (and the
    queue sizes, connections gauges: see the next test), or export a "leader" gauge and alert on
    ``max(x * on() group_left leader)``."""
    from channelmgr.scheduler import update_gauges

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _book(alice_api, unit, day)
    with time_machine.travel(start + dt.timedelta(minutes=31), tick=False):
        update_gauges()  # this process is the active scheduler
    assert _series(_scrape(client), "channel_manager_booking_revisions_unacknowledged") == 1

    _lose_the_lease()  # another scheduler is active now; it will write the real count
    for revision in alice_api.get("/booking-revisions?acknowledged=false").json()["results"]:
        alice_api.post(f"/booking-revisions/{revision['id']}/ack")  # the backlog is gone

    stale = _series(_scrape(client), "channel_manager_booking_revisions_unacknowledged")
    assert not stale, (
        f"a scheduler without the lease still reports {stale} overdue revisions; max() keeps the alert firing"
    )


@pytest.mark.django_db
def test_scheduler_silent_fires_when_no_scheduler_holds_the_lease(client):
    """Used to fail. ChannelManagerSchedulerSilent is ``absent(channel_manager_queue_size)``, and its runbook
    lists "both running but neither active (they cannot reach the lease in Redis)" as a cause. That case
    cannot fire it: the scheduler that was active last keeps exporting its last queue sizes after losing
    the lease (until its pod restarts), so the series is never absent while polls, the outbox relay and
    the push sweep have all stopped. The same stale value keeps ChannelManagerQueueBacklog (and the
    worker HPA, which reads ``max``) on a backlog that may be long gone.
    Cause: channelmgr/scheduler.py lead().lost pauses the jobs but leaves QUEUE_SIZE (and
    ACTIVE_CONNECTIONS, BOOKING_REVISIONS_UNACKNOWLEDGED) as update_gauges last set them; absent() is
    a test of existence, not of freshness.
    Fix: export a heartbeat set by the gauges job, e.g. ``channel_manager_scheduler_last_run_timestamp_seconds``
    (livemax), and alert on ``absent(...) or time() - max(...) > 60``; reset the scheduler's gauges to 0
    in ``lost``."""
    from channelmgr.scheduler import update_gauges

    rule = _rules()["ChannelManagerSchedulerSilent"]["expr"]
    assert "channel_manager_scheduler_heartbeat_timestamp_seconds" in rule and "time() -" in rule
    with time_machine.travel(dt.datetime(2027, 6, 1, 10, 0, tzinfo=dt.UTC), tick=False):
        update_gauges()  # this process is the active scheduler
    beat = _series(_scrape(client), "channel_manager_scheduler_heartbeat_timestamp_seconds")
    assert beat == dt.datetime(2027, 6, 1, 10, 0, tzinfo=dt.UTC).timestamp()
    _lose_the_lease()  # no process holds the lease now: nothing polls, relays or sweeps
    scraped = _scrape(client)
    # The heartbeat ages (time() - max > 60 a minute later), and the stale sizes read 0.
    assert _series(scraped, "channel_manager_scheduler_heartbeat_timestamp_seconds") == beat
    assert all(s.value == 0 for s in scraped.get("channel_manager_queue_size", []))


@pytest.mark.django_db
def test_a_standby_never_overwrites_the_scheduler_gauges():
    """Safe: a scheduler that does not hold the lease runs no job, the gauges job included
    (channelmgr/scheduler.py _job checks ``lease.held()``), so a standby never writes 0 over the active
    one's values; the docs' ``max`` then reads the active value."""
    from channelmgr import metrics
    from channelmgr.resilience.lease import Lease, MemoryLeaseStore
    from channelmgr.scheduler import _job, update_gauges

    store = MemoryLeaseStore()
    active = Lease(store, "scheduler", 15.0, owner="active")
    assert active.try_acquire()
    standby = Lease(store, "scheduler", 15.0, owner="standby")
    previous = _value("channel_manager_queue_size", queue="push")
    metrics.QUEUE_SIZE.labels("push").set(4242)
    try:
        _job(update_gauges, standby)()
        assert _value("channel_manager_queue_size", queue="push") == 4242
    finally:
        metrics.QUEUE_SIZE.labels("push").set(previous)


# --- what counts as a failure -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_deferred_poll_is_not_counted_as_a_failed_poll(unit):
    """Used to fail. ChannelManagerPollFailing pages on
    ``rate(channel_manager_sync_operations_total{operation="poll_bookings", status="failed"}) > 0 unless
    ... status="success"``. A poll that is only *deferred* (``Backpressure``: the account's pull already
    running, the rate limiter full or paused by a Retry-After, "Not a failure" per
    channelmgr/resilience/errors.py, and recorded as SKIPPED in the sync log) is counted as
    ``status="failed"``. Deferrals of a platform's polls that last 20 minutes (a long Retry-After pause)
    page the on-call for polls that did not fail; and every deferral inflates the "failed share" the
    Metrics table tells operators to watch.
    Cause: channelmgr/metrics.py track_sync_operation counts every exception as failed; the poll
    (channelmgr/inbound/polling.py connection_poll) and the pushes (channelmgr/sync/push.py push_request,
    _push_batch) raise Backpressure inside it.
    Fix: in track_sync_operation, count ``Backpressure`` as ``status="deferred"`` (or not at all) and
    re-raise; document the status value."""
    from django.core.cache import cache

    from channelmgr.inbound.polling import connection_poll
    from channelmgr.models import ChannelConnection
    from channelmgr.resilience.errors import Backpressure
    from channelmgr.resilience.platform_calls import rate_limit_account

    connection = ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="booking_com",
        platform_listing_id="4711",
        username="review-booking",
        password="x",
    )
    key = f"inbound:pulling:booking_com:{rate_limit_account(connection)}"
    labels = {"operation": "poll_bookings", "platform": "booking_com", "status": "failed"}
    before = _value("channel_manager_sync_operations_total", **labels)
    cache.add(key, 1, timeout=60)  # the account's scheduled pull is running
    try:
        with pytest.raises(Backpressure) as deferred:
            connection_poll(connection=connection)
    finally:
        cache.delete(key)
    assert deferred.value.reason == "pull_in_progress"
    after = _value("channel_manager_sync_operations_total", **labels)
    assert after == before, f"a deferral counted as a failed poll ({before} -> {after})"


def test_a_platform_error_in_a_200_answer_counts_as_a_platform_api_error():
    """Used to fail. ChannelManagerPlatformErrors is ``rate(platform_api_errors_total) /
    rate(platform_api_requests_total) > 0.1`` and its runbook says "``error_type`` says how ... our request no
    longer matches their format". Booking.com (and Expedia) answer most refusals with HTTP 200 and an
    ``<Errors>`` body: every such push or pull raises PlatformAPIError but is counted as a request with
    ``status="200"`` and never as an error, so the alert stays at 0% while every call to the platform is refused
    (a format change, an authorisation error Type 4, a processing exception Type 12). Cause:
    channelmgr/metrics.py _observe_platform_call counts an error only for a transport error or ``status >=
    400``; adapters/booking_com/ota.py check_answer and adapters/expedia/eqc.py check_answer raise on in-body
    Errors after the observer ran, without telling it. Fix: count in-body refusals (e.g. an observer hook from
    check_answer, ``error_type="ota_<Type>"``), or increment PLATFORM_API_ERRORS wherever a PlatformAPIError
    leaves the adapter (platform_call)."""
    import channelmgr.metrics  # noqa: F401  (registers the HTTP observer)
    from adapters.base import (
        AvailabilityRange,
        AvailabilityUpdate,
        Credentials,
        DayRange,
        PlatformAccount,
        PlatformAPIError,
    )
    from adapters.booking_com.adapter import BookingComAdapter

    base = "https://supply-xml.booking.test/booking_com"
    account = PlatformAccount(
        listing_id="4711",
        credentials=Credentials(username="u", password="p"),
        base_url=base,
        metadata={"room_id": "471101", "rate_plan_id": "RP1"},
    )
    body = (
        b'<OTA_HotelAvailNotifRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">'
        b'<Errors><Error Type="4" Code="497">Authorization error</Error></Errors></OTA_HotelAvailNotifRS>'
    )
    update = AvailabilityUpdate(
        "4711", (AvailabilityRange(range=DayRange(dt.date(2027, 7, 1), dt.date(2027, 7, 2)), available=True),)
    )

    def total(name: str, **labels) -> float:
        return sum(
            s.value
            for m in REGISTRY.collect()
            if m.name == name.removesuffix("_total")
            for s in m.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    errors, requests = "channel_manager_platform_api_errors_total", "channel_manager_platform_api_requests_total"
    before = (total(errors, platform="booking_com"), total(requests, platform="booking_com", status="200"))
    with responses.RequestsMock() as mock:
        mock.post(f"{base}/hotels/ota/OTA_HotelAvailNotif", body=body)
        with pytest.raises(PlatformAPIError) as refused:
            BookingComAdapter(account).update_availability(update)
    assert refused.value.permanent  # Type 4: refused for good
    assert total(requests, platform="booking_com", status="200") == before[1] + 1  # counted as a 200
    assert total(errors, platform="booking_com") > before[0], "a refused Booking.com call counted as a success only"


# --- thresholds against the documented volume --------------------------------------------------------


@pytest.mark.parametrize("alert", ["ChannelManagerWebhookSignatureFailures", "ChannelManagerWebhooksRefused"])
def test_webhook_alerts_fire_when_all_of_a_platforms_webhooks_are_refused(alert):
    """Used to fail. both webhook alerts need an absolute ``rate(...) > 0.05`` per platform, i.e. 3 refused
    webhooks a minute, for 10 minutes. docs/operations.md (Sizing) puts the whole installation's
    webhooks at "a few thousand a day" per 1,000 units. Even at 5,000 a day spread over the platforms
    that send webhooks, a platform whose *every* webhook is refused (its secret rotated on the platform's
    side, a format change) sends about 0.012 a second: the alert never fires at the documented scale,
    let alone for a 50- or 100-unit installation, while bookings only arrive through the slower polls.
    Cause: deploy/prometheus/alerts.yml, ChannelManagerWebhookSignatureFailures and
    ChannelManagerWebhooksRefused, an absolute rate threshold.
    Fix: alert on the refused share (``rate(refused) / rate(channel_manager_webhooks_received_total)
    > 0.5``) or on a small count (``increase(...[30m]) >= 3``)."""
    from adapters import registry
    from adapters.base import Capability

    rule = _rules()[alert]
    found = re.search(r"increase\(.*\[(\d+)m\]\)\s*\)\s*>=\s*([0-9.]+)\s*$", rule["expr"].strip(), re.S)
    assert found, rule["expr"]
    window, threshold = int(found.group(1)) * 60, float(found.group(2))
    webhook_platforms = [slug for slug, cls in registry.adapters().items() if Capability.WEBHOOKS in cls.capabilities]
    documented_per_day = 5000  # the upper end of "a few thousand a day" per 1,000 units
    refused_in_window = documented_per_day / len(webhook_platforms) / 86400 * window
    assert refused_in_window >= threshold, (
        f"{alert}: every webhook of one platform refused at the documented volume is {refused_in_window:.1f} in "
        f"{window} s, below the threshold {threshold}: it never fires"
    )
    assert threshold >= 2, "one stray request (a scanner's bad signature) must not open a ticket"


# --- Safe: names, labels, values, buckets, cardinality -----------------------------------------------


def test_every_metric_of_the_runbook_table_has_the_labels_it_names():
    """Safe: each row of docs/operations.md's Metrics table names a registered metric with exactly the
    label names the code gives it (the revision gauge: none)."""
    collectors = _collectors()
    rows = re.findall(r"^\| `(channel_manager_\w+)` \|([^|]*)\|", RUNBOOK.read_text(), re.MULTILINE)
    assert len(rows) >= 20
    wrong = {}
    for name, labels in rows:
        named = tuple(label.strip() for label in labels.split(",") if label.strip())
        metric = _metric_of(name)
        if metric is None or set(collectors[metric][1]) != set(named):
            wrong[name] = (named, collectors.get(metric or "", (None, None))[1])
    assert not wrong, wrong
    assert {_metric_of(name) for name, _ in rows} == set(collectors), "a registered metric missing from the table"


# Label values the code emits, read from channelmgr/metrics.py and its callers.
EMITTED_VALUES = {
    ("channel_manager_sync_operations_total", "status"): {"success", "failed"},
    ("channel_manager_sync_operations_total", "operation"): {
        "poll_bookings",
        "import_booking",
        "push_availability",
        "push_pricing",
    },
    ("channel_manager_circuit_breaker_state_changes_total", "to_state"): {"closed", "open", "half_open"},
    ("channel_manager_availability_updates_total", "status"): {"success", "failed"},
    ("channel_manager_rate_limiter_requests_total", "status"): {"granted", "rejected"},
}
WEBHOOK_STATUSES = {"too_large", "malformed", "keys_unavailable", "unauthorized", "duplicate", "received"}


def _selectors(expr: str):
    """(metric, {label: (op, value)}) for each ``metric{...}`` or bare metric in ``expr``."""
    for match in re.finditer(r"\b(channel_manager_\w+)(\{([^}]*)\})?", expr):
        matchers = {}
        for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', match.group(3) or ""):
            matchers[label] = (op, value)
        yield match.group(1), matchers


@pytest.mark.parametrize("alert", sorted(_rules()))
def test_every_alert_filters_and_groups_on_labels_and_values_the_code_emits(alert):
    """Safe: every label an alert's expression matches on or groups by belongs to the metrics it reads
    (``le`` on a histogram's buckets), every ``=`` or ``=~`` value is one the code emits, and ``!=``
    names a real platform slug."""
    from adapters import registry

    collectors = _collectors()
    expr = _rules()[alert]["expr"]
    names = set()
    for sample_name, matchers in _selectors(expr):
        metric = _metric_of(sample_name)
        assert metric, f"{alert}: {sample_name} is not registered"
        kind, labels = collectors[metric]
        allowed = set(labels) | ({"le"} if sample_name.endswith("_bucket") else set())
        names |= allowed
        for label, (op, value) in matchers.items():
            assert label in allowed, f"{alert}: {sample_name} has no label {label}"
            if label == "platform":
                assert set(value.split("|")) <= set(registry.adapters()), (alert, value)
                continue
            known = EMITTED_VALUES.get((sample_name, label))
            if sample_name == "channel_manager_webhooks_received_total" and label == "status":
                known = WEBHOOK_STATUSES
            assert known is not None, f"{alert}: no emitted values recorded for {sample_name}{{{label}}}"
            assert set(value.split("|")) <= known, f"{alert}: {sample_name}{{{label}{op}{value!r}}}: emitted {known}"
    for grouped in re.findall(r"\bby\s*\(([^)]*)\)", expr):
        for label in (part.strip() for part in grouped.split(",")):
            assert label in names, f"{alert}: groups by {label}, which none of its metrics carries"


def test_webhook_statuses_the_alert_filters_on_are_written_by_the_view():
    """Safe: the three refusal statuses ChannelManagerWebhooksRefused matches are literally written by
    channelmgr/inbound/webhooks.py (and ``unauthorized`` goes with the signature counter)."""
    source = (ROOT / "channelmgr" / "inbound" / "webhooks.py").read_text()
    for status in ("too_large", "malformed", "keys_unavailable", "unauthorized"):
        assert f'"unknown", "{status}")' in source, status
    assert "WEBHOOK_SIGNATURE_FAILURES.labels(platform).inc()" in source


def test_the_sync_lag_buckets_resolve_the_alerts_threshold():
    """Safe: ChannelManagerSyncLagHigh compares a p95 with 60 s; channel_manager_sync_lag_seconds has a
    bucket edge at 60 and edges well above it (up to 900 s), so histogram_quantile is not capped
    below the threshold (a histogram stopping at 1 s would make it meaningless)."""
    from channelmgr.metrics import SYNC_LAG

    threshold = float(re.search(r">\s*([0-9.]+)\s*$", _rules()["ChannelManagerSyncLagHigh"]["expr"].strip()).group(1))
    edges = list(SYNC_LAG._upper_bounds)
    assert threshold in edges
    assert max(e for e in edges if e != float("inf")) >= 10 * threshold
    assert min(edges) <= 1


def test_no_label_carries_an_unbounded_identifier():
    """Safe: no channel_manager_* metric is labelled by a booking, message, connection or request id,
    URL or free text; ``endpoint`` is an operation name chosen in the adapters, ``account`` is a 16-hex
    hash per platform account (bounded by the accounts, documented as "per account")."""
    forbidden = {"id", "booking_id", "booking", "message_id", "connection_id", "listing_id", "url", "path", "error"}
    for name, (_kind, labels) in _collectors().items():
        assert not set(labels) & forbidden, (name, labels)
    adapters_source = "\n".join(p.read_text() for p in (ROOT / "adapters").rglob("*.py"))
    endpoints = set(re.findall(r'endpoint="([^"]+)"', adapters_source))
    assert endpoints and all(re.fullmatch(r"[a-z_]+", e) for e in endpoints), endpoints


def test_scheduler_gauges_aggregate_as_the_docs_read_them():
    """Safe: the gauges the docs tell operators to read with ``max`` (queue sizes, connections, the
    revision gauge) use multiprocess mode ``livemax``, so a pod reports the largest of its live processes
    and a dead process's file does not count."""
    from channelmgr import metrics
    from pms_core import metrics as pms_metrics

    for gauge in (metrics.QUEUE_SIZE, metrics.ACTIVE_CONNECTIONS, pms_metrics.BOOKING_REVISIONS_UNACKNOWLEDGED):
        assert gauge._multiprocess_mode == "livemax", gauge._name
    assert "max by (queue) (channel_manager_queue_size)" in _rules()["ChannelManagerQueueBacklog"]["expr"]
    assert (
        "max(channel_manager_booking_revisions_unacknowledged)"
        in (_rules()["ChannelManagerBookingRevisionsUnacknowledged"]["expr"])
    )


def test_counters_are_read_with_rate_or_increase():
    """Safe: every counter an alert reads is wrapped in rate() or increase() (a counter resets to 0
    when its pod restarts; a raw comparison would fire or clear on restarts)."""
    collectors = _collectors()
    for alert, rule in _rules().items():
        expr = rule["expr"]
        for match in re.finditer(r"\b(channel_manager_\w+)", expr):
            metric = _metric_of(match.group(1))
            if collectors[metric][0] in {"counter", "histogram"}:
                before = expr[: match.start()]
                opened = max(before.rfind("rate("), before.rfind("increase("))
                assert opened != -1 and before.count("(", opened) > before.count(")", opened), (alert, match.group(1))
