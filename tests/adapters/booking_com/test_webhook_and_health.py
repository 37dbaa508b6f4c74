import datetime as dt
import json

import pytest

from adapters.base import NotificationKind, WebhookConfig, WebhookPayloadError
from adapters.booking_com.adapter import BookingComAdapter
from tests.adapters.booking_com.conftest import BASE

PING = f"{BASE}/hotels/ota/OTA_Ping"
NOW = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)


def test_the_notify_ping_is_accepted_without_a_secret():
    body = json.dumps({"hotel_id": "4711", "reservation_id": "3001"}).encode()
    BookingComAdapter.verify_webhook_signature(headers={}, body=body, config=WebhookConfig(), now=NOW)


def test_the_notify_ping_only_says_pull_now():
    body = json.dumps({"hotel_id": "4711", "reservation_id": "3001"}).encode()
    (notification,) = BookingComAdapter.parse_webhook(headers={}, body=body)
    assert notification.kind == NotificationKind.PULL_NOW
    assert (notification.listing_id, notification.channel_booking_id) == ("4711", "3001")
    assert notification.booking is None
    assert notification.event_key == "ping:4711:3001"


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"reservation_id": "1"}'])
def test_a_malformed_ping_is_a_payload_error(body):
    with pytest.raises(WebhookPayloadError):
        BookingComAdapter.parse_webhook(headers={}, body=body)


def test_health_is_an_ota_ping_that_echoes(adapter, http):
    from lxml import etree

    def echo(request):
        data = etree.fromstring(request.body).findtext("{http://www.opentravel.org/OTA/2003/05}EchoData")
        body = (
            '<OTA_PingRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Success/>'
            f"<EchoData>{data}</EchoData></OTA_PingRS>"
        )
        return 200, {}, body

    http.add_callback("POST", PING, callback=echo)
    assert adapter.check_health().healthy


def test_health_is_unhealthy_on_bad_credentials(adapter, http):
    http.post(
        PING,
        status=401,
        body=b'<OTA_PingRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Errors>'
        b'<Error Type="4" Code="497">Authorization error</Error></Errors></OTA_PingRS>',
    )
    result = adapter.check_health()
    assert not result.healthy
    assert "497" in result.message
