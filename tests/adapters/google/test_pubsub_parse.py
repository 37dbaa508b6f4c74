import base64
import json

import pytest

from adapters.base import NotificationKind, WebhookPayloadError
from adapters.google.adapter import GoogleAdapter


def push(event: dict | None = None, *, data: str | None = None, message_id: str = "9001") -> bytes:
    if data is None:
        data = base64.b64encode(json.dumps(event).encode()).decode()
    return json.dumps(
        {
            "message": {"data": data, "attributes": {}, "messageId": message_id, "publishTime": "2027-06-01T12:00:00Z"},
            "subscription": "projects/sandbox/subscriptions/vr",
        }
    ).encode()


def test_a_reservation_event_is_decoded_from_base64_data():
    body = push({"eventType": "RESERVATION_UPDATED", "reservationId": "G-1", "listingId": "villa-9", "revision": 3})
    (notification,) = GoogleAdapter.parse_webhook(headers={}, body=body)
    assert notification.kind == NotificationKind.BOOKING_MODIFIED
    assert notification.event_key == "9001"
    assert (notification.listing_id, notification.channel_booking_id) == ("villa-9", "G-1")
    assert notification.version == "0000000003"


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("RESERVATION_CREATED", NotificationKind.BOOKING_CREATED),
        ("RESERVATION_CANCELLED", NotificationKind.BOOKING_CANCELLED),
    ],
)
def test_event_types_map_to_kinds(event_type, kind):
    body = push({"eventType": event_type, "reservationId": "G-1", "listingId": "villa-9", "revision": 1})
    assert GoogleAdapter.parse_webhook(headers={}, body=body)[0].kind == kind


def test_an_unknown_event_type_is_ignored():
    (notification,) = GoogleAdapter.parse_webhook(headers={}, body=push({"eventType": "LISTING_UPDATED"}))
    assert notification.kind == NotificationKind.IGNORED


def test_revisions_sort_as_strings():
    versions = [
        GoogleAdapter.parse_webhook(
            headers={},
            body=push({"eventType": "RESERVATION_UPDATED", "reservationId": "G", "listingId": "v", "revision": r}),
        )[0].version
        for r in (2, 10)
    ]
    assert versions[0] < versions[1]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"message": {"messageId": "1"}}',
        push(data="!!!not base64!!!"),
        push(data=base64.b64encode(b"not json").decode()),
        push(data=base64.b64encode(b"[1, 2]").decode()),
        push({"eventType": "RESERVATION_CREATED", "listingId": "v", "revision": 1}),
        push({"eventType": "RESERVATION_CREATED", "reservationId": "G", "listingId": "v", "revision": "7"}),
        push({"eventType": "RESERVATION_CREATED"}, message_id=""),
    ],
)
def test_a_malformed_push_is_a_payload_error(body):
    with pytest.raises(WebhookPayloadError):
        GoogleAdapter.parse_webhook(headers={}, body=body)
