"""Booking.com's notify ping carries no data: it only means "pull now"."""

import json

import pytest

from channelmgr.models import InboundEvent

from .conftest import queued

pytestmark = pytest.mark.django_db(transaction=True)


def ping(hotel="4711", reservation="3001") -> bytes:
    return json.dumps({"hotel_id": hotel, "reservation_id": reservation}).encode()


def test_a_ping_is_stored_as_a_pull_request_and_enqueued(client, connect, broker):
    connection = connect("booking_com", "4711")

    response = client.post("/webhooks/booking-com", data=ping(), content_type="application/json")

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert (event.kind, event.connection, event.event_key) == ("pull_now", connection, "ping:4711:3001")
    assert queued(broker) == 1


def test_a_repeated_ping_is_a_duplicate(client, connect, broker):
    connect("booking_com", "4711")

    for _ in range(3):
        client.post("/webhooks/booking-com", data=ping(), content_type="application/json")

    assert InboundEvent.objects.count() == 1 and queued(broker) == 1


def test_a_ping_for_an_unknown_hotel_is_ignored(client, connect, broker):
    connect("booking_com", "4711")

    client.post("/webhooks/booking-com", data=ping(hotel="999"), content_type="application/json")

    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
    assert queued(broker) == 0


def test_a_burst_of_pings_costs_one_pull_and_a_later_ping_another(client, connect, broker, monkeypatch):
    from django.core.cache import cache

    from channelmgr.inbound import polling
    from channelmgr.inbound.processing import inbound_event_process

    cache.clear()
    connect("booking_com", "4711")
    pulls = []
    monkeypatch.setattr(polling, "_read_pages", lambda connection, result: pulls.append(connection.pk))
    for reservation in ("3001", "3002", "3003", "3004", "3005"):
        client.post("/webhooks/booking-com", data=ping(reservation=reservation), content_type="application/json")
    burst = list(InboundEvent.objects.order_by("received_at", "pk"))

    for event in burst:  # the worker reaches them one after another, behind the rate limit
        assert inbound_event_process(event_id=event.pk) == InboundEvent.Status.PROCESSED
    assert len(pulls) == 1
    covered = InboundEvent.objects.filter(error="covered by a later pull").count()
    assert covered == 4

    client.post("/webhooks/booking-com", data=ping(reservation="3006"), content_type="application/json")
    later = InboundEvent.objects.get(event_key="ping:4711:3006")
    inbound_event_process(event_id=later.pk)
    assert len(pulls) == 2  # it arrived after the pull began: only a new pull can have seen it


def test_a_failed_pull_covers_no_ping(client, connect, broker, monkeypatch):
    from django.core.cache import cache

    from adapters.base import PlatformAPIError
    from channelmgr.inbound import polling
    from channelmgr.inbound.processing import inbound_event_process

    cache.clear()
    connect("booking_com", "4711")
    attempts = []

    def refused(connection, result):
        attempts.append(1)
        raise PlatformAPIError("bad credentials", permanent=True, status=401)

    monkeypatch.setattr(polling, "_read_pages", refused)
    for reservation in ("3001", "3002"):
        client.post("/webhooks/booking-com", data=ping(reservation=reservation), content_type="application/json")
    for event in InboundEvent.objects.order_by("received_at", "pk"):
        inbound_event_process(event_id=event.pk)
    assert len(attempts) == 2
