import json

import pytest

from adapters.base import Notification, NotificationKind, WebhookPayloadError
from adapters.fewo_direkt.adapter import FewoDirektAdapter


def event(**overrides):
    body = {
        "eventId": "e-1",
        "eventType": "RESERVATION_UPDATED",
        "reservationId": "R-1",
        "listingId": "F-7",
        "revision": 12,
        "timestamp": "2027-01-01T12:00:00Z",
    }
    body.update(overrides)
    return json.dumps(body).encode()


def parse(body):
    return FewoDirektAdapter.parse_webhook(headers={}, body=body)


def test_it_turns_an_update_into_a_modified_notification():
    assert parse(event()) == [
        Notification(
            platform="fewo_direkt",
            kind=NotificationKind.BOOKING_MODIFIED,
            event_key="e-1",
            listing_id="F-7",
            channel_booking_id="R-1",
            version="0000000012",
        )
    ]


def test_created_and_cancelled_events_have_their_kinds():
    assert parse(event(eventType="RESERVATION_CREATED"))[0].kind is NotificationKind.BOOKING_CREATED
    assert parse(event(eventType="RESERVATION_CANCELLED"))[0].kind is NotificationKind.BOOKING_CANCELLED


def test_it_ignores_an_event_type_it_does_not_handle():
    [notification] = parse(json.dumps({"eventId": "e-2", "eventType": "LISTING_UPDATED"}).encode())
    assert notification.kind is NotificationKind.IGNORED


@pytest.mark.parametrize("body", [b"{", b"1", event(eventId=None), event(reservationId=None), event(revision="x")])
def test_it_rejects_a_malformed_body(body):
    with pytest.raises(WebhookPayloadError):
        parse(body)
