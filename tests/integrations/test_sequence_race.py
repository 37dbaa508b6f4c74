"""Twenty changes of one organization commit at the same moment: their events get twenty distinct,
gapless sequence numbers (the counter row is locked until each transaction ends, created by the first)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from integrations.models import WebhookEvent
from integrations.outbox import event_record
from pms_core.models import Organization

THREADS = 20


@pytest.mark.django_db(transaction=True)
def test_simultaneous_events_get_distinct_gapless_sequences():
    org = Organization.objects.create(name="Race")
    barrier = threading.Barrier(THREADS)
    errors = []

    def change(n):
        try:
            barrier.wait()
            with transaction.atomic():
                event_record(organization_id=org.pk, event_type="booking.created", data={"object": {"n": n}})
        except Exception as exc:  # the assertion shows it
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=change, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [], (connection.vendor, errors)
    sequences = sorted(WebhookEvent.objects.filter(organization=org).values_list("sequence", flat=True))
    assert sequences == list(range(1, THREADS + 1)), connection.vendor
