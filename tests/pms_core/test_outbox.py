"""The outbox loses nothing: a broker that is down at commit leaves the event for the relay."""

import dramatiq
import pytest
from django.core.management import call_command
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from pms_core.models import OutboxEvent
from pms_core.outbox import outbox_dispatch
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
    # The outbox queue only: what earlier tests left in other queues (pushes to platforms that are not
    # running here, retried with backoff) must not hold the one thread this test waits on.
    worker = dramatiq.Worker(broker, queues={"outbox"}, worker_timeout=100, worker_threads=1)
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


def _drain(broker, worker):
    """Until the outbox queue is empty and the worker idle. The stub broker's join() also waits for
    messages earlier tests' workers left unfinished, so on it this watches the outbox queues alone;
    Redis's join() counts the named queue and its delay queue."""
    if isinstance(broker, StubBroker):
        empty = lambda: all(q.qsize() == 0 for name, q in broker.queues.items() if name.startswith("outbox"))  # noqa: E731
        assert wait_for(empty, timeout=10)
    else:
        broker.join("outbox", timeout=10_000)
    worker.join()


def _wait_consumed(broker, worker, event_id):
    _drain(broker, worker)
    return OutboxEvent.objects.get(pk=event_id).consumed_at


@pytest.mark.django_db(transaction=True)
def test_an_event_survives_a_broker_outage_and_the_relay_delivers_it(unit, day, broker, worker, unreachable_broker):
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    event = OutboxEvent.objects.get(booking=booking)
    assert event.dispatched_at is None and event.dispatch_attempts == 1

    dramatiq.set_broker(broker)  # the broker is back
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=event.created_at.replace(year=2000))
    call_command("relay_outbox", "--once")
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert _wait_consumed(broker, worker, event.pk) is not None


@pytest.mark.django_db(transaction=True)
def test_an_event_delivered_twice_changes_nothing_the_second_time(unit, day, broker, worker):
    from channelmgr.models import ChannelConnection, DirtyRange

    ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="L1"
    )
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    event = OutboxEvent.objects.get(booking=booking)
    # The close-out is pushed at once (leading edge) and fails here (no platform), which adds a
    # re-check row with ``not_before``: count the rows the event itself marked.
    marked = DirtyRange.objects.filter(not_before__isnull=True)
    assert _wait_consumed(broker, worker, event.pk) is not None
    assert marked.count() == 1

    assert outbox_dispatch(event_ids=[event.pk]) == 1  # a duplicate delivery
    _drain(broker, worker)
    assert marked.count() == 1
