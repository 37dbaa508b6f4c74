"""Backpressure on a real dramatiq Worker and the configured broker (stub, or Redis with REDIS_URL).

The broker is built from ``settings.DRAMATIQ_BROKER`` (same class, same middleware list), in a
namespace of its own so a running worker never sees these messages.
"""

from __future__ import annotations

import threading
import time
import uuid

import dramatiq
import pytest
from django.conf import settings
from django.utils.module_loading import import_string
from django_dramatiq.utils import load_middleware
from dramatiq.middleware import CurrentMessage, Middleware

from channelmgr.resilience.dramatiq_backpressure import BackpressureRetries
from channelmgr.resilience.errors import Backpressure

from .conftest import redis_client_or_skip


@pytest.fixture
def broker():
    conf = settings.DRAMATIQ_BROKER
    options = dict(conf.get("OPTIONS", {}))
    namespace = f"test-backpressure-{uuid.uuid4().hex[:10]}"
    if "namespace" in options:
        redis_client_or_skip()
        options["namespace"] = namespace
    broker = import_string(conf["BROKER"])(middleware=[load_middleware(p) for p in conf["MIDDLEWARE"]], **options)
    assert any(isinstance(m, BackpressureRetries) for m in broker.middleware), "settings must install it"
    yield broker
    broker.flush_all()
    broker.close()


@pytest.fixture
def run_worker(broker):
    workers = []

    def start():
        worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=20)
        worker.start()
        workers.append(worker)

    yield start
    for worker in workers:
        worker.stop()


class EnqueueSpy(Middleware):
    """Records every enqueue with its delay, as the broker saw it."""

    def __init__(self):
        self.enqueued = []

    def after_enqueue(self, broker, message, delay):
        self.enqueued.append((message.options.get("retries", 0), delay))


def wait_for(event: threading.Event, seconds: float) -> None:
    assert event.wait(seconds), "the actor did not finish in time"


def dead_letters(broker, queue_name: str) -> int:
    if hasattr(broker, "dead_letters_by_queue"):
        return len(broker.dead_letters_by_queue[queue_name])
    return broker.client.zcard(f"{broker.namespace}:{queue_name}.XQ")


def test_backpressure_re_enqueues_after_its_delay_and_leaves_the_retries_alone(broker, run_worker):
    runs, done, spy = [], threading.Event(), EnqueueSpy()
    broker.add_middleware(spy)

    def deferred_once():
        message = CurrentMessage.get_current_message()
        runs.append((time.time(), message.options.get("retries", 0)))
        if len(runs) == 1:
            raise Backpressure(0.4, "rate_limited")
        done.set()

    actor = dramatiq.actor(deferred_once, broker=broker, queue_name=f"bp-{uuid.uuid4().hex[:6]}", max_retries=0)
    run_worker()
    actor.send()
    wait_for(done, 10)
    (first_at, first_retries), (second_at, second_retries) = runs
    assert first_retries == second_retries == 0
    assert spy.enqueued[:2] == [(0, None), (0, 400)], "sent, then re-enqueued with the delay and retries untouched"
    assert second_at >= first_at + 0.4
    assert dead_letters(broker, actor.queue_name) == 0


def test_a_message_rescheduled_100_times_is_never_dead_lettered(broker, run_worker):
    seen_retries, done = [], threading.Event()

    def always_busy():
        seen_retries.append(CurrentMessage.get_current_message().options.get("retries", 0))
        if len(seen_retries) <= 100:
            raise Backpressure(0, "circuit_open")
        done.set()

    actor = dramatiq.actor(always_busy, broker=broker, queue_name=f"bp-{uuid.uuid4().hex[:6]}", max_retries=1)
    run_worker()
    actor.send()
    wait_for(done, 60)
    assert len(seen_retries) == 101
    assert set(seen_retries) == {0}
    assert dead_letters(broker, actor.queue_name) == 0


def test_real_failures_still_back_off_exponentially_and_dead_letter_when_retries_run_out(broker, run_worker):
    runs, gave_up = [], threading.Event()

    def broken():
        runs.append((time.time(), CurrentMessage.get_current_message().options.get("retries", 0)))
        if len(runs) == 3:
            gave_up.set()
        raise RuntimeError("platform payload we cannot build")

    actor = dramatiq.actor(
        broken, broker=broker, queue_name=f"bp-{uuid.uuid4().hex[:6]}", max_retries=2, min_backoff=100, max_backoff=400
    )
    run_worker()
    actor.send()
    wait_for(gave_up, 15)
    deadline = time.time() + 5
    while dead_letters(broker, actor.queue_name) == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert [retries for _, retries in runs] == [0, 1, 2]
    assert dead_letters(broker, actor.queue_name) == 1
    assert runs[1][0] - runs[0][0] >= 0.1 * 0.5, "backed off (dramatiq jitters by up to half)"


def test_the_default_backoff_is_capped_at_five_minutes():
    middleware = BackpressureRetries()
    assert (middleware.min_backoff, middleware.max_backoff) == (1_000, 300_000)
