"""POST /webhooks/<platform>: verify, parse, store, answer, enqueue."""

import json
import time

import pytest
from prometheus_client import REGISTRY

from channelmgr.models import InboundEvent

from .conftest import airbnb_event, airbnb_headers, fewo_headers, queued

pytestmark = pytest.mark.django_db(transaction=True)


def post(client, path, body, headers, content_type="application/json"):
    return client.post(path, data=body, content_type=content_type, **headers)


def test_a_valid_webhook_is_stored_answered_and_its_import_enqueued(client, airbnb, broker):
    body = airbnb_event("HM1")

    response = post(client, "/webhooks/airbnb", body, airbnb_headers(body))

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert (event.platform, event.event_key, event.kind) == ("airbnb", "evt-HM1-1", "booking_created")
    assert event.connection == airbnb and event.status == InboundEvent.Status.RECEIVED
    assert event.correlation_id and response["X-Correlation-ID"] == event.correlation_id
    assert queued(broker) == 1


def test_the_stored_payload_is_the_parsed_notification_without_body_or_signature(client, airbnb, broker):
    body = airbnb_event("HM1")
    headers = airbnb_headers(body)

    post(client, "/webhooks/airbnb", body, headers)

    payload = InboundEvent.objects.get().payload
    assert payload["channel_booking_id"] == "HM1" and payload["version"] == "0000000001"
    stored = json.dumps(payload)
    assert headers["HTTP_X_AIRBNB_SIGNATURE"].split("v1=")[1] not in stored
    assert "occurred_at" not in stored


def test_a_duplicate_delivered_ten_times_is_stored_and_enqueued_once(client, airbnb, broker):
    body = airbnb_event("HM1")

    answers = [post(client, "/webhooks/airbnb", body, airbnb_headers(body)).status_code for _ in range(10)]

    assert answers == [200] * 10
    assert InboundEvent.objects.count() == 1
    assert queued(broker) == 1


def test_a_bad_signature_gets_401_and_stores_nothing(client, airbnb, broker):
    body = airbnb_event("HM1")
    before = REGISTRY.get_sample_value("channel_manager_webhook_signature_failures_total", {"platform": "airbnb"}) or 0

    response = post(client, "/webhooks/airbnb", body, airbnb_headers(body, secret="not-the-secret"))

    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0 and queued(broker) == 0
    after = REGISTRY.get_sample_value("channel_manager_webhook_signature_failures_total", {"platform": "airbnb"})
    assert after == before + 1


def test_a_missing_signature_gets_401(client, airbnb):
    assert post(client, "/webhooks/airbnb", airbnb_event(), {}).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_it_rejects_a_replayed_webhook(client, airbnb):
    body = airbnb_event("HM1")

    response = post(client, "/webhooks/airbnb", body, airbnb_headers(body, at=int(time.time()) - 301))

    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


def test_a_malformed_body_gets_400_with_the_reason(client, airbnb):
    body = b'{"type": "reservation.created"'

    response = post(client, "/webhooks/airbnb", body, airbnb_headers(body))

    assert response.status_code == 400
    assert response.json()["error"]
    assert InboundEvent.objects.count() == 0


def test_an_oversized_body_gets_413_before_anything_else(client, airbnb, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    body = airbnb_event("HM1") + b" " * 200

    response = post(client, "/webhooks/airbnb", body, airbnb_headers(body))

    assert response.status_code == 413
    assert InboundEvent.objects.count() == 0


def test_get_is_not_allowed(client):
    assert client.get("/webhooks/airbnb").status_code == 405


def test_an_unknown_listing_is_stored_ignored_and_acknowledged(client, airbnb, broker):
    body = airbnb_event("HM9", listing="SOMEONE-ELSE")

    response = post(client, "/webhooks/airbnb", body, airbnb_headers(body))

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.IGNORED and "SOMEONE-ELSE" in event.error
    assert event.connection is None
    assert queued(broker) == 0


def test_an_event_type_we_do_not_handle_is_acknowledged_and_ignored(client, airbnb, broker):
    body = airbnb_event("HM1", type_="listing.updated")

    response = post(client, "/webhooks/airbnb", body, airbnb_headers(body))

    assert response.status_code == 200
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
    assert queued(broker) == 0


def test_a_deleted_connection_does_not_receive_events(client, airbnb, broker):
    airbnb.status = "deleted"
    airbnb.save()
    body = airbnb_event("HM1")

    post(client, "/webhooks/airbnb", body, airbnb_headers(body))

    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED


def test_a_fewo_direkt_webhook_with_a_valid_signature_is_stored(client, connect, broker):
    connect("fewo_direkt", "FW-1")
    body = json.dumps(
        {
            "eventId": "fw-evt-1",
            "eventType": "RESERVATION_CREATED",
            "reservationId": "FW-R-1",
            "listingId": "FW-1",
            "revision": 3,
            "timestamp": "2027-06-01T12:00:00Z",
        }
    ).encode()

    assert post(client, "/webhooks/fewo-direkt", body, fewo_headers(body)).status_code == 200
    assert post(client, "/webhooks/fewo-direkt", body, fewo_headers(body, secret="wrong")).status_code == 401

    event = InboundEvent.objects.get()
    assert (event.platform, event.channel_booking_id, event.status) == ("fewo_direkt", "FW-R-1", "received")
