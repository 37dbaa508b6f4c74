"""The periodic jobs: polling, the outbox relay, the push sweep, token refresh, a daily reconcile.

``manage.py run_scheduler`` runs them in their own process (services mode); ``run_embedded`` runs the
same jobs in a thread of the web process. Each job is a small step that enqueues work or does a
little itself, and closes stale database connections, so a long-running scheduler stays healthy.

Several ``run_scheduler`` processes may run: one lease (``channelmgr/resilience/lease.py``, in Redis)
decides which one runs the jobs. ``lead`` starts the scheduler paused and a keeper thread that resumes it
when the lease is acquired and pauses it when the lease is lost. Every job also checks that this process
still holds the lease before it does anything: a scheduler frozen past its lease wakes with jobs overdue,
and they must not run. The others stand by and take the lease over within one lease of the active
one's death.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections
from django.utils import timezone

from channelmgr.resilience.lease import Lease, LeaseKeeper, MemoryLeaseStore, RedisLeaseStore

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
# When the daily reconcile last ran to its end (the cache: Redis in services mode), so a scheduler taking
# the lease over knows whether the one before it ran today's.
RECONCILE_DONE_KEY = "scheduler:reconcile_daily:done"

_running = threading.local()  # the lease the job running in this thread runs under


def still_leading() -> bool:
    """Whether the job running in this thread may go on: its scheduler still holds the lease. A job that
    sends work checks it before each send: a holder frozen past its lease (a stalled VM) wakes in the
    middle of a job, and what it claimed before is the new holder's to send."""
    lease = getattr(_running, "lease", None)
    return lease is None or lease.held()


def _job(fn, lease: Lease | None = None):
    def run():
        if lease is not None and not lease.held():
            # Only in the moment between losing the lease and the keeper pausing the scheduler.
            log.warning("job %s skipped: this scheduler does not hold the lease", fn.__name__)
            return
        started = time.time()
        result = None
        close_old_connections()
        outer, _running.lease = getattr(_running, "lease", None), lease
        try:
            result = fn()
        except Exception:  # one failed pass must not stop the scheduler
            log.exception("scheduled job %s failed", fn.__name__)
        finally:
            _running.lease = outer
            close_old_connections()
        if lease is not None:
            log.debug(
                "job %s ran: owner=%s term=%d start=%.3f end=%.3f result=%s",
                fn.__name__,
                lease.owner,
                lease.term,
                started,
                time.time(),
                result,
            )

    run.__name__ = fn.__name__
    return run


def relay_outbox():
    from pms_core.outbox import outbox_relay_step

    outbox_relay_step()


def relay_inbound():
    from channelmgr.inbound.dispatch import inbound_relay_step

    inbound_relay_step()


def sweep_pushes():
    from channelmgr.sync.outbound import push_sweep

    push_sweep()


def mark_window_edges():
    from channelmgr.sync.window import window_edges_mark

    return window_edges_mark()


def enqueue_due_polls():
    from channelmgr.inbound.polling import due_polls
    from channelmgr.inbound.tasks import poll_connection

    claimed = due_polls(timezone.now())
    for sent, connection_id in enumerate(claimed):
        if not still_leading():  # the claims come due again after a period, for the new holder
            log.warning("polls: lease lost after claiming; %d of %d not sent", len(claimed) - sent, len(claimed))
            return sent
        poll_connection.send(connection_id)
    return len(claimed)


def enqueue_token_refreshes():
    from channelmgr.inbound.polling import tokens_due_for_refresh
    from channelmgr.inbound.tasks import refresh_connection_token

    for connection_id in tokens_due_for_refresh(timezone.now()):
        refresh_connection_token.send(connection_id)


def reconcile_all():
    from django.core.management import call_command

    call_command("reconcile", "--fix")


def _recording_done(fn):
    """``fn`` (the daily reconcile), recording when it ran to its end (``RECONCILE_DONE_KEY``), whatever it
    found: a pass that could not read one connection of hundreds (the command then exits non-zero) still
    ran, and counted as missed it ran again at every takeover that day."""

    def run():
        try:
            return fn()
        finally:
            cache.set(RECONCILE_DONE_KEY, timezone.now().isoformat(), timeout=None)

    run.__name__ = fn.__name__
    return run


def _missed(trigger: CronTrigger, now: dt.datetime) -> bool:
    """Whether the daily run before ``now`` did not run to its end: its holder died before or during it,
    or the lease changed hands at that moment. No record (a new installation) counts as missed."""
    previous = trigger.get_next_fire_time(None, now - dt.timedelta(days=1))
    if previous is None or previous > now:
        return False
    try:
        done = cache.get(RECONCILE_DONE_KEY)
    except Exception:  # the cache down: the next 03:17 is the fallback, as before this record
        log.exception("cannot tell whether the last daily reconcile ran")
        return False
    return done is None or dt.datetime.fromisoformat(done) < previous


def update_gauges():
    import dramatiq
    from django.db.models import Count

    from channelmgr import metrics
    from channelmgr.models import ChannelConnection
    from pms_core.revisions import revisions_overdue_gauge_update

    counts = dict(
        ChannelConnection.objects.filter(status=ChannelConnection.Status.ACTIVE)
        .values_list("platform_type")
        .annotate(n=Count("id"))
    )
    for slug in _platform_slugs():
        metrics.ACTIVE_CONNECTIONS.labels(slug).set(counts.get(slug, 0))
    broker = dramatiq.get_broker()
    for queue in QUEUES:
        size = _queue_size(broker, queue)
        if size is not None:
            metrics.QUEUE_SIZE.labels(queue).set(size)
    revisions_overdue_gauge_update()
    metrics.SCHEDULER_HEARTBEAT.set(time.time())


QUEUES = ("outbox", "push", "inbound")


def gauges_reset() -> None:
    """A scheduler that lost the lease reports 0 where it reported counts: the docs read these with
    ``max``, and its last counts (a backlog, overdue revisions) would have outlived the facts, paging and
    scaling workers on them until its pod restarted. The new holder writes the real ones."""
    from channelmgr import metrics
    from pms_core.metrics import BOOKING_REVISIONS_UNACKNOWLEDGED

    for queue in QUEUES:
        metrics.QUEUE_SIZE.labels(queue).set(0)
    for slug in _platform_slugs():
        metrics.ACTIVE_CONNECTIONS.labels(slug).set(0)
    BOOKING_REVISIONS_UNACKNOWLEDGED.set(0)


def _platform_slugs() -> list[str]:
    """Every platform a connection may have: the labels of the per-platform gauges."""
    from channelmgr.models import ChannelConnection

    return [slug for slug, _name in ChannelConnection._meta.get_field("platform_type").choices]


def purge_idempotency_keys():
    from idempotency.keys import idempotency_purge

    return idempotency_purge()


def purge_history():
    from channelmgr.housekeeping import history_purge

    return history_purge()


def _queue_size(broker, queue: str):
    client = getattr(broker, "client", None)
    if client is not None:  # Redis broker: the queue is a list under the namespace
        return client.llen(f"{broker.namespace}:{queue}")
    stub_queue = getattr(broker, "queues", {}).get(queue)
    return stub_queue.qsize() if stub_queue is not None else None


# Jobs other apps add from their AppConfig.ready() (integrator webhooks' relay): channelmgr never
# imports them, they import this.
_registered_jobs: dict[str, tuple] = {}


def jobs_register(fn, *, seconds: float, job_id: str) -> None:
    """Run ``fn`` every ``seconds`` in the scheduler, under the same lease as the built-in jobs."""
    _registered_jobs[job_id] = (fn, seconds)


def add_jobs(scheduler, lease: Lease | None = None) -> None:
    """Add the jobs; with a ``lease`` each runs only while this process holds it (``run_embedded``
    passes none: its single process is the only scheduler there is)."""
    from channelmgr.inbound.polling import DUE_POLLS_EVERY_SECONDS

    jobs = [
        (relay_outbox, IntervalTrigger(seconds=5), "relay_outbox"),
        (relay_inbound, IntervalTrigger(seconds=5), "relay_inbound"),
        (enqueue_due_polls, IntervalTrigger(seconds=DUE_POLLS_EVERY_SECONDS), "polls"),
        (sweep_pushes, IntervalTrigger(seconds=30), "push_sweep"),
        (enqueue_token_refreshes, IntervalTrigger(minutes=5), "token_refresh"),
        (update_gauges, IntervalTrigger(seconds=15), "gauges"),
        (purge_idempotency_keys, IntervalTrigger(hours=1), "idempotency_purge"),
        (purge_history, IntervalTrigger(hours=1), "history_purge"),
        # Hourly: a property's day begins at its own midnight, and a missed run is caught up by the next.
        (mark_window_edges, IntervalTrigger(hours=1), "window_edges"),
        (_recording_done(reconcile_all), CronTrigger(hour=3, minute=17), "reconcile_daily"),
        *((fn, IntervalTrigger(seconds=seconds), job_id) for job_id, (fn, seconds) in _registered_jobs.items()),
    ]
    for fn, trigger, job_id in jobs:
        # However late a run starts (a busy moment, a pause), it runs, once (coalesced): APScheduler's
        # default drops a run more than a second late, and a dropped 03:17 reconcile waited a day.
        scheduler.add_job(
            _job(fn, lease),
            trigger,
            id=job_id,
            name=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )


def scheduler_lease(ttl: float | None = None) -> Lease:
    """The scheduler's lease: in Redis (under the cache's key prefix) in services mode, in this process's
    memory without ``REDIS_URL`` (then only this process is guarded)."""
    ttl = ttl or settings.SCHEDULER_LEASE_SECONDS
    if settings.REDIS_URL:
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
        store = RedisLeaseStore.from_url(
            settings.REDIS_URL, prefix=f"{prefix}:" if prefix else "", timeout=min(2.0, max(0.1, ttl / 5))
        )
    else:
        log.warning("no REDIS_URL: the scheduler's lease lives in this process; run only one scheduler")
        store = MemoryLeaseStore()
    return Lease(store, LEASE_NAME, ttl)


def lead(scheduler, lease: Lease) -> LeaseKeeper:
    """A keeper that runs ``scheduler`` (started paused) only while ``lease`` is held. On acquiring it,
    every interval job runs at once and then on its interval from then (the previous holder may have
    died just before its next run), and the daily reconcile runs at once if the last one did not run
    to its end (``_missed``), else at its next time; on losing it the scheduler pauses. Start the
    returned keeper after the scheduler."""

    def acquired(lease: Lease) -> None:
        if scheduler.state == STATE_STOPPED:
            return
        now = timezone.now()
        for job in scheduler.get_jobs():
            if isinstance(job.trigger, IntervalTrigger):  # the next run follows this one by the interval
                scheduler.modify_job(job.id, next_run_time=now)
            elif _missed(job.trigger, now):
                scheduler.modify_job(job.id, next_run_time=now)
            else:
                scheduler.reschedule_job(job.id, trigger=job.trigger)
        scheduler.resume()
        log.info("scheduler %s is active (term %d): running the jobs", lease.owner, lease.term)

    def lost(lease: Lease) -> None:
        if scheduler.state != STATE_STOPPED:
            scheduler.pause()
        try:
            gauges_reset()
        except Exception:  # the metrics must never keep the scheduler from standing down
            log.exception("could not reset the scheduler's gauges")
        log.warning("scheduler %s lost the lease (term %d): jobs paused", lease.owner, lease.term)

    return LeaseKeeper(lease, on_acquired=acquired, on_lost=lost)
