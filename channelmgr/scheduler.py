"""The periodic jobs: polling, the outbox relay, the push sweep, token refresh, a daily reconcile.

``manage.py run_scheduler`` runs them in their own process (services mode); ``run_embedded`` runs the
same jobs in a thread of the web process. Each job is a small step that enqueues work or does a
little itself, and closes stale database connections, so a long-running scheduler stays healthy.
"""

from __future__ import annotations

import logging

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.db import close_old_connections
from django.utils import timezone

log = logging.getLogger(__name__)


def _job(fn):
    def run():
        close_old_connections()
        try:
            fn()
        except Exception:  # one failed pass must not stop the scheduler
            log.exception("scheduled job %s failed", fn.__name__)
        finally:
            close_old_connections()

    run.__name__ = fn.__name__
    return run


def relay_outbox():
    from pms_core.outbox import outbox_relay_step

    outbox_relay_step()


def sweep_pushes():
    from channelmgr.sync.outbound import push_sweep

    push_sweep()


def enqueue_due_polls():
    from channelmgr.inbound.polling import due_polls
    from channelmgr.inbound.tasks import poll_connection

    for connection_id in due_polls(timezone.now()):
        poll_connection.send(connection_id)


def enqueue_token_refreshes():
    from channelmgr.inbound.polling import tokens_due_for_refresh
    from channelmgr.inbound.tasks import refresh_connection_token

    for connection_id in tokens_due_for_refresh(timezone.now()):
        refresh_connection_token.send(connection_id)


def reconcile_all():
    from django.core.management import call_command

    call_command("reconcile", "--fix")


def update_gauges():
    import dramatiq
    from django.db.models import Count

    from channelmgr import metrics
    from channelmgr.models import ChannelConnection

    counts = dict(
        ChannelConnection.objects.filter(status=ChannelConnection.Status.ACTIVE)
        .values_list("platform_type")
        .annotate(n=Count("id"))
    )
    for slug, _name in ChannelConnection._meta.get_field("platform_type").choices:
        metrics.ACTIVE_CONNECTIONS.labels(slug).set(counts.get(slug, 0))
    broker = dramatiq.get_broker()
    for queue in ("outbox", "push", "inbound"):
        size = _queue_size(broker, queue)
        if size is not None:
            metrics.QUEUE_SIZE.labels(queue).set(size)


def _queue_size(broker, queue: str):
    client = getattr(broker, "client", None)
    if client is not None:  # Redis broker: the queue is a list under the namespace
        return client.llen(f"{broker.namespace}:{queue}")
    stub_queue = getattr(broker, "queues", {}).get(queue)
    return stub_queue.qsize() if stub_queue is not None else None


def add_jobs(scheduler) -> None:
    scheduler.add_job(_job(relay_outbox), IntervalTrigger(seconds=5), id="relay_outbox", max_instances=1, coalesce=True)
    scheduler.add_job(_job(enqueue_due_polls), IntervalTrigger(seconds=5), id="polls", max_instances=1, coalesce=True)
    scheduler.add_job(_job(sweep_pushes), IntervalTrigger(seconds=30), id="push_sweep", max_instances=1, coalesce=True)
    scheduler.add_job(
        _job(enqueue_token_refreshes), IntervalTrigger(minutes=5), id="token_refresh", max_instances=1, coalesce=True
    )
    scheduler.add_job(_job(update_gauges), IntervalTrigger(seconds=15), id="gauges", max_instances=1, coalesce=True)
    scheduler.add_job(
        _job(reconcile_all), CronTrigger(hour=3, minute=17), id="reconcile_daily", max_instances=1, coalesce=True
    )
