import base64
import datetime as dt
import hashlib
import hmac

import pytest

from adapters.airbnb.adapter import AirbnbAdapter
from adapters.base import WebhookConfig, WebhookSignatureError
from adapters.fewo_direkt.adapter import FewoDirektAdapter

SECRET = "fewo-current"
NOW = dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC)
BODY = b'{"eventId":"e-1","eventType":"RESERVATION_CREATED","reservationId":"R-1","listingId":"F-7","revision":1}'


def signed(body=BODY, secret=SECRET, t=None):
    t = str(int(NOW.timestamp()) if t is None else t)
    digest = hmac.new(secret.encode(), t.encode() + b"\n" + body, hashlib.sha256).digest()
    return {"X-FeWo-Timestamp": t, "X-FeWo-Signature": base64.b64encode(digest).decode()}


def verify(headers, body=BODY, secrets=(SECRET,), now=NOW):
    FewoDirektAdapter.verify_webhook_signature(
        headers=headers, body=body, config=WebhookConfig(secrets=secrets), now=now
    )


def test_it_accepts_a_correctly_signed_webhook():
    verify(signed())


def test_it_rejects_a_tampered_body():
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(signed(), body=BODY.replace(b"R-1", b"R-2"))


def test_it_rejects_a_signature_made_with_another_secret():
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(signed(secret="other"))


def test_it_rejects_a_replayed_webhook():
    with pytest.raises(WebhookSignatureError, match="replay window"):
        verify(signed(t=int(NOW.timestamp()) - 301))


def test_it_rejects_a_timestamp_from_the_future():
    with pytest.raises(WebhookSignatureError, match="replay window"):
        verify(signed(t=int(NOW.timestamp()) + 301))


def test_it_accepts_either_secret_during_a_rotation():
    verify(signed(secret="fewo-old"), secrets=("fewo-old", SECRET))
    verify(signed(), secrets=("fewo-old", SECRET))


def test_it_rejects_a_changed_timestamp_header():
    headers = signed()
    headers["X-FeWo-Timestamp"] = str(int(NOW.timestamp()) + 1)
    with pytest.raises(WebhookSignatureError):
        verify(headers)


def test_it_rejects_missing_headers():
    with pytest.raises(WebhookSignatureError, match="missing"):
        verify({"X-FeWo-Timestamp": str(int(NOW.timestamp()))})


def test_an_airbnb_style_signature_does_not_pass():
    t = int(NOW.timestamp())
    hexdigest = hmac.new(SECRET.encode(), f"{t}.".encode() + BODY, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookSignatureError):
        verify({"X-FeWo-Timestamp": str(t), "X-FeWo-Signature": hexdigest})
    with pytest.raises(WebhookSignatureError):
        AirbnbAdapter.verify_webhook_signature(
            headers=signed(), body=BODY, config=WebhookConfig(secrets=(SECRET,)), now=NOW
        )
