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
