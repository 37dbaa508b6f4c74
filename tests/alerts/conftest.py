"""Alerts fixtures: alice's organization chose ops@ as its recipient, charlie's chose its own; a worker
on the configured broker sends the mails (the locmem backend collects them in ``mail.outbox``)."""

from __future__ import annotations

import dramatiq
import pytest


@pytest.fixture
def recipients(org_a, org_b):
    from alerts.models import AlertRecipient

    return (
        AlertRecipient.objects.create(organization=org_a, email="ops@alice.example", name="Alice ops"),
        AlertRecipient.objects.create(organization=org_b, email="ops@charlie.example"),
    )


@pytest.fixture
def alert_worker(transactional_db):
    """A worker for the alert mails; ``alert_worker()`` waits until every enqueued mail is handled."""
    from django.core.cache import cache

    broker = dramatiq.get_broker()
    broker.flush_all()
    cache.clear()  # limiter windows and breaker states of earlier tests
    # Only the mails: pushes and imports the test causes stay queued, their platforms are not faked.
    worker = dramatiq.Worker(broker, queues={"alerts"}, worker_timeout=50, worker_threads=1)
    worker.start()

    def drain():
        broker.join("alerts", timeout=30_000)
        worker.join()

    yield drain
    worker.stop()
    broker.flush_all()
