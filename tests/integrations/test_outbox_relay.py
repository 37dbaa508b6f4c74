"""The outbox: an event whose hand-over failed (broker down) waits, and the relay delivers it once the
broker is back; the relay also restarts a subscription whose retry message was lost."""

from __future__ import annotations

import datetime as dt

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

import integrations.tasks  # noqa: F401 - declares the actors on the test broker, before any swap
from channelmgr import scheduler
from integrations.models import WebhookEvent, WebhookSubscription
from integrations.relay import relay_webhooks, subscriptions_due
from pms_core.services import booking_create
from testkit import wait_for


@pytest.fixture
def broker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def worker(broker):
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def unreachable_broker(broker):
    """A real Redis client pointed at a port nothing listens on: every enqueue fails."""
    dead = RedisBroker(url="redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    dramatiq.set_broker(dead)
    yield dead
    dramatiq.set_broker(broker)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_urls")
def test_an_event_waits_out_a_broker_outage_and_is_delivered_after(
    unit, day, subscribe, receiver, broker, worker, unreachable_broker
):
    subscribe(receiver.url, receiver=receiver)
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    event = WebhookEvent.objects.get()
    assert event.dispatched_at is None and event.dispatch_attempts == 1
    assert receiver.received == []

    dramatiq.set_broker(broker)  # the broker is back
    WebhookEvent.objects.filter(pk=event.pk).update(created_at=event.created_at - dt.timedelta(minutes=1))
    assert relay_webhooks() >= 1
    assert wait_for(lambda: receiver.received, timeout=20)
    (delivery,) = receiver.received
    assert delivery.verified and delivery.envelope["data"]["object"]["id"] == booking.pk
    event.refresh_from_db()
    assert event.dispatched_at is not None


@pytest.mark.django_db
def test_the_relay_finds_subscriptions_due_and_leaves_the_others(subscribe, org_a, public_dns):
    from integrations.outbox import event_record

    now_due = subscribe("https://a.example.test/")
    waiting = subscribe("https://b.example.test/")
    running = subscribe("https://c.example.test/")
    idle_org_b = subscribe("https://d.example.test/")
    event_record(organization_id=org_a.pk, event_type="booking.created", data={})
    from django.utils import timezone

    later = timezone.now() + dt.timedelta(minutes=5)
    WebhookSubscription.objects.filter(pk=waiting.pk).update(next_attempt_at=later)
    WebhookSubscription.objects.filter(pk=running.pk).update(delivering_until=later)
    WebhookSubscription.objects.filter(pk=idle_org_b.pk).update(delivered_sequence=1)
    assert subscriptions_due() == [now_due.pk]


def test_the_relay_runs_in_the_scheduler():
    from apscheduler.schedulers.background import BackgroundScheduler

    jobs = BackgroundScheduler()
    scheduler.add_jobs(jobs)
    assert "relay_webhooks" in {job.id for job in jobs.get_jobs()}
