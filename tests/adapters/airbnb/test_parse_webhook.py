import json

import pytest

from adapters.airbnb.adapter import AirbnbAdapter
from adapters.base import Notification, NotificationKind, WebhookPayloadError


def event(**overrides):
    body = {
        "event_id": "ev-1",
        "type": "reservation.created",
        "listing_id": "L-100",
        "confirmation_code": "HM1",
        "version": 3,
        "occurred_at": "2027-01-01T12:00:00Z",
    }
    body.update(overrides)
    return json.dumps(body).encode()


def parse(body):
    return AirbnbAdapter.parse_webhook(headers={}, body=body)


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("reservation.created", NotificationKind.BOOKING_CREATED),
        ("reservation.updated", NotificationKind.BOOKING_MODIFIED),
        ("reservation.cancelled", NotificationKind.BOOKING_CANCELLED),
    ],
)
def test_it_turns_a_reservation_event_into_a_notification(event_type, kind):
    assert parse(event(type=event_type)) == [
        Notification(
            platform="airbnb",
            kind=kind,
            event_key="ev-1",
            listing_id="L-100",
            channel_booking_id="HM1",
            version="0000000003",
        )
    ]


def test_it_ignores_an_event_type_it_does_not_handle():
    [notification] = parse(json.dumps({"event_id": "ev-9", "type": "listing.updated"}).encode())
    assert notification.kind is NotificationKind.IGNORED
    assert notification.event_key == "ev-9"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"\xff\xfe",
        event(event_id=""),
        event(event_id=None),
        event(confirmation_code=None),
        event(version="3"),
        event(version=-1),
    ],
)
def test_it_rejects_a_malformed_body(body):
    with pytest.raises(WebhookPayloadError):
        parse(body)
