"""Does the database stay bounded for a steady workload, does pruning keep what is still needed, and do the
hot queries stay indexed as the tables grow (docs/operations.md: Sizing and Housekeeping)?

"Scheduled" is checked by running every job the scheduler adds (``channelmgr.scheduler.add_jobs``: the
built-in ones and those other apps register: ``relay_webhooks``, ``alerts``, ``alerts_purge``) once, against
rows far older than any retention could want, then looking at what is left. Index tests read the model's
Meta (an unconditional index led by the filtered column, or the field's ``db_index``) and cite the query.
Tests whose docstring starts "Used to fail" failed before their fix (found in review, 2026-12-06).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertKind, AlertMail
from channelmgr import scheduler
from channelmgr.models import ChannelConnection, DirtyRange, InboundEvent, SyncLog, TaskAttempt
from idempotency.keys import TTL, idempotency_purge
from idempotency.models import IdempotencyKey
from integrations.delivery import Answer, subscription_deliver
from integrations.events import EVENT_TYPES
from integrations.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from integrations.outbox import event_record
from integrations.relay import EVENT_RETENTION, events_prune
from integrations.subscriptions import subscription_update
from pms_core.models import Booking, BookingRevision, BookingTransition, OutboxEvent
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LONG_AGO = dt.timedelta(days=400)  # past any retention an operator could want


# --- helpers ------------------------------------------------------------------------------------


class _Recorder:
    """Stands in for APScheduler: remembers every job ``add_jobs`` adds."""

    def __init__(self):
        self.jobs: dict[str, object] = {}

    def add_job(self, fn, trigger, *, id, **_kwargs):  # noqa: A002 - APScheduler's own keyword
        self.jobs[id] = fn


def run_every_scheduled_job(monkeypatch) -> list[str]:
    """Run each job the scheduler would run, once, in this test's transaction; returns their ids.

    ``_job`` is bypassed (it closes the database connection, which would end the test's transaction) and
    every job must run without an exception, so a row left behind is not a purge that crashed."""
    monkeypatch.setattr(scheduler, "_job", lambda fn, lease=None: fn)
    recorder = _Recorder()
    scheduler.add_jobs(recorder)
    assert {"relay_outbox", "idempotency_purge", "relay_webhooks", "alerts"} <= set(recorder.jobs)
    for fn in recorder.jobs.values():
        fn()  # an exception fails the test
    return sorted(recorder.jobs)


def _indexed_by(model, name: str) -> bool:
    """Whether a lookup on ``name`` alone can use an index: the field's own (db_index, unique) or an
    unconditional Meta index / unique constraint led by it."""
    field = model._meta.get_field(name)
    if field.db_index or field.unique:
        return True
    for index in model._meta.indexes:
        if index.condition is None and index.fields and index.fields[0].lstrip("-") == name:
            return True
    for constraint in model._meta.constraints:
        fields = getattr(constraint, "fields", ())
        if getattr(constraint, "condition", None) is None and fields and fields[0] == name:
            return True
    return False


def _composite_led_by(model, first: str, second: str) -> bool:
    for index in model._meta.indexes:
        names = [f.lstrip("-") for f in index.fields]
        if index.condition is None and names[:2] == [first, second]:
            return True
    return False


@pytest.fixture
def paused_connection(org_a, unit):
    """A connection no job talks to a platform for (paused), so the jobs can run without a sandbox."""
    return ChannelConnection.objects.create(
        organization=org_a,
        unit=unit,
        platform_type="airbnb",
        platform_listing_id="AIR-RETENTION",
        status=ChannelConnection.Status.PAUSED,
    )


def _sync_log(connection, *, age: dt.timedelta, status=SyncLog.Status.SUCCESS, error="") -> SyncLog:
    row = SyncLog.objects.create(
        connection=connection,
        direction=SyncLog.Direction.INBOUND,
        kind=SyncLog.Kind.BOOKINGS,
        status=status,
        error=error,
    )
    at = timezone.now() - age
    SyncLog.objects.filter(pk=row.pk).update(started_at=at, finished_at=at)
    return row


# --- HOLES: tables that grow with traffic and that no scheduled job prunes ----------------------


def test_old_sync_logs_are_pruned_by_a_scheduled_job(paused_connection, monkeypatch):
    """Used to fail. channelmgr_synclog grows for ever. Every push, poll and deferral writes a row (docs/operations.md
    Sizing: ~1.5 million rows, about 1 GB a day per 1,000 units at the default poll intervals) and no
    scheduled job deletes any: a 400-day-old row of a connection that has newer ones survives a run of
    every job. Consequence: the disk fills at ~1 GB/day per 1,000 units until an operator notices and runs
    the manual shell snippet of "Housekeeping" (which itself deletes rows staff still need, see
    test_the_documented_sync_log_cleanup_keeps_each_connections_last_log), and the SyncLog queries of the
    admin and the staff home slow down as it grows. Cause: channelmgr/scheduler.py:add_jobs has no
    purge for SyncLog (only idempotency_purge; docs admit "Nothing prunes history yet"). Fix: a scheduled
    ``sync_logs_purge`` (e.g. hourly, in batches, via an index on started_at which exists) deleting
    finished rows older than a retention setting (e.g. SYNC_LOG_RETENTION_DAYS=30), never a connection's
    newest row of each kind nor a running one."""
    old = _sync_log(paused_connection, age=LONG_AGO)
    _sync_log(paused_connection, age=dt.timedelta(minutes=5))  # the newest, which staff still see

    run_every_scheduled_job(monkeypatch)

    assert not SyncLog.objects.filter(pk=old.pk).exists(), (
        "a 400-day-old sync log survived every scheduled job: nothing prunes channelmgr_synclog"
    )


def test_old_task_attempts_are_pruned_by_a_scheduled_job(db, monkeypatch):
    """Used to fail. channelmgr_taskattempt gains a row per message (push, poll, deferral, import; ~185 B each,
    docs Sizing) and nothing scheduled deletes it, although a row only counts the attempts of a message
    that is long gone. Consequence: unbounded disk growth in step with SyncLog (millions of rows a day
    at 1,000 units). Cause: channelmgr/scheduler.py:add_jobs schedules no purge of TaskAttempt; the
    docs leave it to a manual monthly shell snippet. Fix: a scheduled purge of rows whose ``updated_at``
    is older than a few days past dramatiq's longest retry horizon (e.g. 7 days), with an index on
    updated_at."""
    row = TaskAttempt.objects.create(message_id="m-ancient", actor_name="push_connection", attempts=1)
    TaskAttempt.objects.filter(pk=row.pk).update(updated_at=timezone.now() - LONG_AGO)

    run_every_scheduled_job(monkeypatch)

    assert not TaskAttempt.objects.filter(pk=row.pk).exists(), (
        "a 400-day-old task attempt counter survived every scheduled job: nothing prunes channelmgr_taskattempt"
    )


def test_old_consumed_outbox_events_are_pruned_by_a_scheduled_job(unit, day, monkeypatch):
    """Used to fail. pms_core_outboxevent gains a row per domain change (every booking, price and availability
    change) and a consumed one is never read again by the relay, yet nothing deletes it. Consequence:
    unbounded disk growth; and the staff home's sync-lag query filters it by correlation_id without an
    index (test_outbox_correlation_id_lookup_of_the_staff_home_is_indexed), so the home page slows as
    it grows. Cause: channelmgr/scheduler.py:add_jobs has no outbox purge (docs: "Keep ... outbox
    events until you have a reason and a tested query"). Fix: a scheduled purge of events with
    ``consumed_at`` older than e.g. 30 days (never an unconsumed or undispatched one), batched, with an
    index on consumed_at."""
    booking_create(unit=unit, check_in=day(1), check_out=day(3))
    event = OutboxEvent.objects.get()
    long_ago = timezone.now() - LONG_AGO
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=long_ago, dispatched_at=long_ago, consumed_at=long_ago)

    run_every_scheduled_job(monkeypatch)

    assert not OutboxEvent.objects.filter(pk=event.pk).exists(), (
        "an outbox event consumed 400 days ago survived every scheduled job: nothing prunes pms_core_outboxevent"
    )


def test_old_processed_inbound_events_are_pruned_by_a_scheduled_job(db, monkeypatch):
    """Used to fail. channelmgr_inboundevent stores every webhook with its full payload (a few per booking, a few
    thousand a day per 1,000 units, docs Sizing "Web") and nothing deletes them, not even processed ones
    far older than any platform's re-delivery window. Consequence: unbounded disk growth, mostly JSON
    payloads with guest personal data kept for ever (also a data-retention problem). Cause:
    channelmgr/scheduler.py:add_jobs schedules no inbound purge (docs: "Keep inbound events"). Fix: a
    scheduled purge of ``processed``/``ignored`` events older than e.g. 90 days (well past the platforms'
    retry horizons, so a late re-delivery is still a no-op), never ``received`` or ``failed`` ones staff
    must replay; received_at is already indexed."""
    event = InboundEvent.objects.create(
        platform="airbnb",
        event_key="evt-ancient",
        status=InboundEvent.Status.PROCESSED,
        payload={"guest": {"name": "Old Guest", "email": "old@example.test"}},
    )
    long_ago = timezone.now() - LONG_AGO
    InboundEvent.objects.filter(pk=event.pk).update(received_at=long_ago, processed_at=long_ago, dispatched_at=long_ago)

    run_every_scheduled_job(monkeypatch)

    assert not InboundEvent.objects.filter(pk=event.pk).exists(), (
        "a webhook processed 400 days ago (with its guest data) survived every scheduled job"
    )


def test_old_acknowledged_booking_revisions_are_pruned_by_a_scheduled_job(unit, day, monkeypatch):
    """Used to fail. pms_core_bookingrevision keeps a full JSON snapshot of the booking for every change, and an
    acknowledged revision is never read again by a polling integrator (docs Housekeeping), yet nothing
    scheduled deletes them: the docs only suggest a manual ``filter(acknowledged_at__lt=cutoff).delete()``.
    Consequence: the largest rows of the booking tables (a snapshot each) grow for ever. Cause:
    channelmgr/scheduler.py:add_jobs has no revision purge. Fix: a scheduled purge of revisions
    acknowledged more than e.g. 90 days ago (never an unacknowledged one), batched, with an index on
    acknowledged_at (only the unacknowledged partial indexes exist)."""
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    revision = BookingRevision.objects.get(booking=booking)
    long_ago = timezone.now() - LONG_AGO
    BookingRevision.objects.filter(pk=revision.pk).update(
        created_at=long_ago, acknowledged_at=long_ago, acknowledged_by="api:pms"
    )

    run_every_scheduled_job(monkeypatch)

    assert not BookingRevision.objects.filter(pk=revision.pk).exists(), (
        "a booking revision acknowledged 400 days ago survived every scheduled job"
    )


def test_old_alerts_and_their_mails_are_pruned_by_a_scheduled_job(org_a, monkeypatch):
    """Used to fail. alerts_alert and alerts_alertmail gain rows with every overbooking, connection failure and
    late acknowledgement (the ``alerts`` sweep records one per delivery still unacknowledged after 30 min),
    and nothing deletes them; docs/operations.md does not mention them at all in Housekeeping or Sizing.
    Consequence: slow unbounded growth, and the ``alerts`` job's ``alert_mails_unstick`` (every 60 s:
    AlertMail status=sending, created_at<…) has no index led by status, so it scans the whole mail table
    each minute. Cause: no purge in alerts/ nor in channelmgr/scheduler.py:add_jobs. Fix: a scheduled
    purge of mails sent (or given up) more than e.g. 180 days ago and the alerts they carried, and an
    index on AlertMail(status, created_at)."""
    long_ago = timezone.now() - LONG_AGO
    mail = AlertMail.objects.create(
        organization=org_a,
        kind=AlertKind.OVERBOOKING,
        status=AlertMail.Status.SENT,
        created_at=long_ago,
        sent_at=long_ago,
        subject="Overbooking",
    )
    alert = Alert.objects.create(
        organization=org_a, kind=AlertKind.OVERBOOKING, summary="Overbooked", created_at=long_ago, mail=mail
    )

    run_every_scheduled_job(monkeypatch)

    left = [m for m, exists in (("mail", AlertMail.objects.filter(pk=mail.pk).exists()),
                                ("alert", Alert.objects.filter(pk=alert.pk).exists())) if exists]  # fmt: skip
    assert not left, f"400-day-old {' and '.join(left)} survived every scheduled job: nothing prunes alerts"


# --- HOLES: pruning that deletes what is still needed -------------------------------------------


def test_pruning_keeps_events_a_disabled_subscription_has_not_received(org_a):
    """Used to fail. ``events_prune`` deletes every WebhookEvent older than 30 days, including events a
    subscription has not been delivered yet. A subscription the system disabled (24 h of failures) holds
    its cursor; docs/integrators.md says that re-activating it (PATCH active=true) "then gets what it
    missed, in order". After a month, the events it missed are pruned, and ``delivery.next_event`` steps
    the cursor silently over the gap (``_advance(subscription, event.sequence - 1)``): the integrator
    never learns of those bookings, whereas a replay over the same gap is refused with a 400. Consequence:
    lost booking events for an integrator's PMS, without an error. Cause: integrations/relay.py:
    events_prune (filters only ``created_at``), integrations/delivery.py:next_event. Fix: prune only
    events at or below every subscription's ``delivered_sequence`` of the organization (or keep
    undelivered ones up to a longer cap), and make re-activation refuse/announce a gap as
    ``subscription_replay`` does."""
    now = timezone.now()
    subscription = WebhookSubscription.objects.create(
        organization=org_a,
        url="https://hooks.example.test/in",
        event_types=list(EVENT_TYPES),
        secret="whsec-test",
        delivered_sequence=0,
        active=False,
        failed_attempts=40,
        failing_since=now - dt.timedelta(days=32),
        disabled_at=now - dt.timedelta(days=31),
        disabled_reason="deliveries failed for 24 h; last: HTTP 500",
    )
    missed = event_record(organization_id=org_a.pk, event_type=EVENT_TYPES[0], data={"object": {"id": 1}})
    WebhookEvent.objects.filter(pk=missed.pk).update(created_at=now - dt.timedelta(days=32))
    event_record(organization_id=org_a.pk, event_type=EVENT_TYPES[0], data={"object": {"id": 2}})

    events_prune(now=now)  # what relay_webhooks does every 5 s
    # Staff follow the notice: activate it again (PATCH active=true), and the receiver is back up.
    subscription_update(subscription=subscription, active=True)
    received = []

    def receiver_up(url, *, body, headers):
        received.append(int(headers["Webhook-Sequence"]))
        return Answer(200, excerpt="ok")

    subscription_deliver(subscription_id=subscription.pk, send=receiver_up)

    assert received == [1, 2], (
        f"re-activated subscription received events {received}: event #1, never delivered to it, was pruned "
        f"({WebhookEvent.objects.filter(pk=missed.pk).exists()=}) and the cursor stepped over it silently"
    )


def test_the_sync_log_purge_keeps_what_staff_still_need(paused_connection, monkeypatch):
    """Used to fail: the cleanup docs/operations.md ("Housekeeping") told operators to run monthly deleted every
    SyncLog older than 30 days, including a connection's last one. A connection that needs attention
    since a failed poll 40 days ago then showed no sync log at all on its admin page, although the runbook
    (ChannelManagerPollFailing, ChannelManagerPushFailures) sends staff there for the failure, and
    ``plain_error`` truncates ``last_error`` because "the whole text stays in the sync log". The product's
    purge keeps each connection's newest log per direction and kind, every failed log of a connection
    that needs attention, and running ones; the docs describe it instead of a snippet."""
    ChannelConnection.objects.filter(pk=paused_connection.pk).update(
        status=ChannelConnection.Status.NEEDS_ATTENTION, healthy=False, last_error="401 Unauthorized: token rev…"
    )
    failed = [
        _sync_log(
            paused_connection, age=dt.timedelta(days=days), status=SyncLog.Status.FAILED, error="401 " + "x" * 200
        )
        for days in (50, 40)
    ]
    older = _sync_log(paused_connection, age=dt.timedelta(days=60))
    running = _sync_log(paused_connection, age=dt.timedelta(days=45), status=SyncLog.Status.RUNNING)

    run_every_scheduled_job(monkeypatch)

    assert set(SyncLog.objects.values_list("pk", flat=True)) == {failed[0].pk, failed[1].pk, running.pk}, older
    assert "Nothing prunes history" not in (ROOT / "docs" / "operations.md").read_text()


# --- HOLES: hot queries on growing tables without a matching index ------------------------------


def test_the_connection_pages_recent_sync_logs_are_indexed():
    """Used to fail. the connection's admin page (channelmgr/admin.py:SyncLogInline.get_queryset:
    ``filter(connection_id=…).order_by("-started_at", "-id")[:20]``) and ``GET
    /channel-connections/{id}/sync-logs`` (channelmgr/api/connections.py: ``connection.sync_logs.order_by(
    "-started_at", "-id")``) read one connection's newest logs from a table that grows by ~1.5 million
    rows a day per 1,000 units. Only separate indexes exist (the FK's connection_id, started_at): the
    database either sorts all of the connection's rows (an Expedia connection polled every 60 s has 43,000
    a month) or walks started_at backwards through every connection's rows until 20 match (a quiet iCal
    or paused connection: the whole table). Consequence: the page the runbook sends staff to gets slower
    every day. Cause: channelmgr/models.py:SyncLog.Meta.indexes. Fix: ``models.Index(fields=["connection",
    "-started_at"], name="synclog_connection_recent_idx")``."""
    assert _composite_led_by(SyncLog, "connection", "started_at"), (
        "no SyncLog index on (connection, started_at) for the connection page's newest sync logs"
    )


def test_the_staff_home_sync_lag_query_is_indexed():
    """Used to fail. the staff home (channelmgr/staff_home/selectors.py:sync_lag) reads
    ``SyncLog.filter(direction="outbound", status="success", kind__in=[…], finished_at__gte=now-1h)
    .order_by("-finished_at")[:2000]`` on every view, from the unpruned SyncLog table. No index covers
    ``finished_at`` (nor direction/status/kind), so each home page load scans the whole table (hundreds of
    millions of rows after a year at 1,000 units). Consequence: the staff home slows to a crawl as the
    table grows. Cause: channelmgr/models.py:SyncLog.Meta (indexes on started_at, correlation_id and a
    running-only partial index). Fix: ``models.Index(fields=["-finished_at"], condition=Q(direction=
    "outbound", status="success"), name="synclog_push_done_idx")`` (or on finished_at), plus pruning."""
    covered = SyncLog._meta.get_field("finished_at").db_index or any(
        index.fields and index.fields[0].lstrip("-") == "finished_at" for index in SyncLog._meta.indexes
    )
    assert covered, "no SyncLog index led by finished_at for the staff home's sync-lag query"


def test_outbox_correlation_id_lookup_of_the_staff_home_is_indexed():
    """Used to fail. the staff home's sync lag (channelmgr/staff_home/selectors.py:sync_lag) looks the changes a
    push carried up by ``OutboxEvent.objects.filter(correlation_id__in=ids[:500])`` on every view, in
    batches of 500, and pms_core_outboxevent is never pruned (one row per change). ``correlation_id`` has
    no index, so each batch is a full scan of the outbox. Consequence: a slower staff home every day, up
    to timeouts. Cause: pms_core/models.py:OutboxEvent.correlation_id (no db_index; the Meta indexes are
    partial ones on created_at/dispatched_at). Fix: ``db_index=True`` on OutboxEvent.correlation_id (as
    SyncLog has), plus pruning consumed events."""
    assert _indexed_by(OutboxEvent, "correlation_id"), "OutboxEvent.correlation_id is not indexed"


def test_the_webhook_event_prune_is_indexed():
    """Used to fail. ``relay_webhooks`` runs every 5 s and each run starts with integrations/relay.py:events_prune:
    ``WebhookEvent.filter(created_at__lt=now-30d).values_list("pk")[:1000]``. The only index with
    created_at is ``webhook_event_undispatched`` on (dispatched_at, created_at), led by dispatched_at, so
    it cannot serve a created_at range: once the backlog is pruned, every run finds nothing by scanning
    all 30 days of events, 17,280 times a day. Consequence: constant database load growing with the
    30-day event volume, on the active scheduler's hot loop. Cause: integrations/models.py:
    WebhookEvent.Meta.indexes. Fix: ``db_index=True`` on WebhookEvent.created_at (or
    ``models.Index(fields=["created_at"])``), and prune less often (hourly) than the 5 s relay."""
    assert _indexed_by(WebhookEvent, "created_at"), (
        "no index led by WebhookEvent.created_at for events_prune's created_at__lt filter"
    )


# --- Safe: what was checked and holds ----------------------------------------------------------


def test_scheduled_jobs_keep_every_row_that_is_still_needed(unit, day, paused_connection, monkeypatch):
    """Safe: running every scheduled job (including the only product purges: idempotency_purge and
    relay_webhooks' events_prune) against 400-day-old rows keeps an unconsumed outbox event, an
    unacknowledged booking revision, a failed inbound event staff must replay, a booking's transitions and
    a connection's last sync log. (Today trivially, since nothing prunes them; this guards future purges.)"""
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    long_ago = timezone.now() - LONG_AGO
    outbox = OutboxEvent.objects.get()
    OutboxEvent.objects.filter(pk=outbox.pk).update(created_at=long_ago, dispatched_at=long_ago, consumed_at=None)
    revision = BookingRevision.objects.get(booking=booking)
    BookingRevision.objects.filter(pk=revision.pk).update(created_at=long_ago)
    failed = InboundEvent.objects.create(
        platform="airbnb", event_key="evt-failed", status=InboundEvent.Status.FAILED, error="boom"
    )
    InboundEvent.objects.filter(pk=failed.pk).update(received_at=long_ago, dispatched_at=long_ago)
    BookingTransition.objects.filter(booking=booking).update(created_at=long_ago)
    transitions = set(BookingTransition.objects.filter(booking=booking).values_list("pk", flat=True))
    last_log = _sync_log(paused_connection, age=LONG_AGO)

    ran = run_every_scheduled_job(monkeypatch)

    assert "idempotency_purge" in ran and "relay_webhooks" in ran
    assert OutboxEvent.objects.filter(pk=outbox.pk, consumed_at__isnull=True).exists()
    assert BookingRevision.objects.filter(pk=revision.pk, acknowledged_at__isnull=True).exists()
    assert InboundEvent.objects.filter(pk=failed.pk, status=InboundEvent.Status.FAILED).exists()
    assert transitions and set(BookingTransition.objects.filter(booking=booking).values_list("pk", flat=True)) == (
        transitions
    )
    assert Booking.objects.filter(pk=booking.pk).exists()
    assert SyncLog.objects.filter(pk=last_log.pk).exists()


def test_idempotency_purge_deletes_only_keys_past_their_ttl(org_a):
    """Safe: idempotency_purge (scheduled hourly, ``idempotency_purge``) deletes keys created more than
    TTL (24 h, as documented) ago and keeps younger ones, done or still in progress; its filter
    (created_at__lte) is on an indexed column."""
    now = timezone.now()

    def key(name, age, state):
        return IdempotencyKey.objects.create(
            organization=org_a, key=name, fingerprint="f" * 64, state=state, claim="c",
            locked_at=now - age, created_at=now - age,
        )  # fmt: skip

    old = key("old", TTL + dt.timedelta(minutes=1), IdempotencyKey.State.DONE)
    young_done = key("young-done", TTL - dt.timedelta(minutes=5), IdempotencyKey.State.DONE)
    young_running = key("young-running", dt.timedelta(seconds=5), IdempotencyKey.State.IN_PROGRESS)

    assert idempotency_purge(now=now) == 1
    assert not IdempotencyKey.objects.filter(pk=old.pk).exists()
    assert set(IdempotencyKey.objects.values_list("pk", flat=True)) == {young_done.pk, young_running.pk}
    assert _indexed_by(IdempotencyKey, "created_at")


def test_events_prune_keeps_the_retention_window_and_takes_the_delivery_log_along(org_a):
    """Safe: events_prune deletes events older than EVENT_RETENTION (30 days, as documented) with their
    delivery log (WebhookDelivery cascades), and keeps younger events and their deliveries, so a replay
    reaches back 30 days; the delivery log's per-subscription reads are indexed."""
    now = timezone.now()
    subscription = WebhookSubscription.objects.create(
        organization=org_a, url="https://hooks.example.test/ok", event_types=list(EVENT_TYPES), secret="s"
    )
    old = event_record(organization_id=org_a.pk, event_type=EVENT_TYPES[0], data={})
    young = event_record(organization_id=org_a.pk, event_type=EVENT_TYPES[0], data={})
    WebhookEvent.objects.filter(pk=old.pk).update(created_at=now - EVENT_RETENTION - dt.timedelta(hours=1))
    WebhookEvent.objects.filter(pk=young.pk).update(created_at=now - EVENT_RETENTION + dt.timedelta(hours=1))
    for event in (old, young):
        WebhookDelivery.objects.create(subscription=subscription, event=event, attempt=1, succeeded=True)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(delivered_sequence=young.sequence)

    assert events_prune(now=now) == 1
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [young.pk]
    assert list(WebhookDelivery.objects.values_list("event_id", flat=True)) == [young.pk]
    assert _composite_led_by(WebhookDelivery, "subscription", "created_at")


def test_hot_relay_and_feed_queries_are_indexed():
    """Safe: the hot paths' filters on growing tables have matching indexes.
    - outbox relay (pms_core/outbox.py:outbox_stranded / outbox_unconsumed): partial indexes
      ``outbox_undispatched_idx`` (created_at WHERE dispatched_at IS NULL) and ``outbox_unconsumed_idx``
      (dispatched_at WHERE consumed_at IS NULL); the same stranded query on WebhookEvent uses
      (dispatched_at, created_at).
    - inbound relay (channelmgr/inbound/dispatch.py:inbound_relay_step: status='received',
      dispatched_at IS NULL, received_at<=…): status and received_at are indexed (few rows are 'received').
    - push sweep (channelmgr/sync/outbound.py:push_sweep): DirtyRange is bounded by design (a push deletes
      what it sent) and ``sync_logs_end_abandoned`` uses the running-only partial index ``synclog_running_idx``.
    - due polls (channelmgr/inbound/polling.py:due_polls): ChannelConnection, bounded by the units.
    - revision feed (pms_core/api/revisions.py, ?acknowledged=false ordered by id) and the overdue gauge:
      partial indexes on (organization, id) and created_at WHERE acknowledged_at IS NULL.
    - staff home pending acknowledgements: (acknowledged_at, received_at); alerts job: Alert.mail FK index."""
    outbox = {index.name: index for index in OutboxEvent._meta.indexes}
    assert outbox["outbox_undispatched_idx"].fields == ["created_at"]
    assert outbox["outbox_unconsumed_idx"].fields == ["dispatched_at"]
    assert [i.fields for i in WebhookEvent._meta.indexes][0] == ["dispatched_at", "created_at"]
    assert _indexed_by(InboundEvent, "status") and _indexed_by(InboundEvent, "received_at")
    assert "synclog_running_idx" in [i.name for i in SyncLog._meta.indexes]
    assert _composite_led_by(DirtyRange, "connection", "claimed_by") and _indexed_by(DirtyRange, "claimed_by")
    revision = {index.name: index for index in BookingRevision._meta.indexes}
    assert revision["booking_revision_unacked_idx"].fields == ["organization", "id"]
    assert revision["booking_revision_overdue_idx"].fields == ["created_at"]
    from channelmgr.models import BookingAcknowledgement

    assert [i.fields for i in BookingAcknowledgement._meta.indexes] == [["acknowledged_at", "received_at"]]
    assert Alert._meta.get_field("mail").db_index
