import datetime as dt
import hashlib
import hmac

import pytest

from adapters.airbnb.adapter import AirbnbAdapter
from adapters.base import WebhookConfig, WebhookSignatureError

SECRET = "whsec-current"
NOW = dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC)
BODY = b'{"event_id":"ev-1","type":"reservation.created","listing_id":"L-100","confirmation_code":"HM1","version":1}'


def signed(body=BODY, secret=SECRET, t=None):
    t = int(NOW.timestamp()) if t is None else t
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Airbnb-Signature": f"t={t},v1={digest}"}


def verify(headers, body=BODY, secrets=(SECRET,), now=NOW):
    AirbnbAdapter.verify_webhook_signature(headers=headers, body=body, config=WebhookConfig(secrets=secrets), now=now)


def test_it_accepts_a_correctly_signed_webhook():
    verify(signed())


def test_it_reads_the_header_whatever_its_case():
    verify({"x-airbnb-signature": signed()["X-Airbnb-Signature"]})


def test_it_rejects_a_tampered_body():
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(signed(), body=BODY.replace(b"HM1", b"HM2"))


def test_it_rejects_a_signature_made_with_another_secret():
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(signed(secret="someone-else"))


def test_it_rejects_a_replayed_webhook():
    stale = int(NOW.timestamp()) - 301
    with pytest.raises(WebhookSignatureError, match="replay window"):
        verify(signed(t=stale))


def test_it_accepts_a_webhook_at_the_edge_of_the_window():
    verify(signed(t=int(NOW.timestamp()) - 300))


def test_it_rejects_a_timestamp_from_the_future():
    with pytest.raises(WebhookSignatureError, match="replay window"):
        verify(signed(t=int(NOW.timestamp()) + 301))


def test_it_accepts_either_secret_during_a_rotation():
    verify(signed(secret="whsec-old"), secrets=("whsec-old", SECRET))
    verify(signed(secret=SECRET), secrets=("whsec-old", SECRET))


def test_it_accepts_any_of_several_v1_signatures():
    t = int(NOW.timestamp())
    old = signed(secret="whsec-old")["X-Airbnb-Signature"].split(",")[1]
    new = signed()["X-Airbnb-Signature"].split(",")[1]
    verify({"X-Airbnb-Signature": f"t={t},{old},{new}"})


def test_it_rejects_a_missing_header():
    with pytest.raises(WebhookSignatureError, match="missing"):
        verify({})


@pytest.mark.parametrize("value", ["v1=abc", "t=abc,v1=abc", "t=1", "garbage"])
def test_it_rejects_a_malformed_header(value):
    with pytest.raises(WebhookSignatureError):
        verify({"X-Airbnb-Signature": value})


def test_it_rejects_everything_when_no_secret_is_configured():
    with pytest.raises(WebhookSignatureError, match="no webhook secret"):
        verify(signed(), secrets=())
