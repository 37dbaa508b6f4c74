"""Google Pub/Sub push: an RS256 JWT checked against Google's cached signing keys."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from channelmgr.models import InboundEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks(signing_key):
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    return {"keys": [{**public, "kid": "key-1", "alg": "RS256", "use": "sig"}]}


@pytest.fixture
def certs(platform_http, settings, jwks):
    return platform_http.add("GET", settings.PLATFORMS["google"]["PUBSUB_CERTS_URL"], json=jwks)


@pytest.fixture
def google(connect):
    return connect("google", "villa-9")


def bearer(settings, key, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": settings.PLATFORMS["google"]["PUBSUB_AUDIENCE"],
        "email": settings.PLATFORMS["google"]["PUBSUB_SERVICE_ACCOUNT"],
        "email_verified": True,
        "iat": now - 10,
        "exp": now + 3600,
        **overrides,
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "key-1"})
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def push(message_id="m-1", reservation="G-1") -> bytes:
    event = {"eventType": "RESERVATION_CREATED", "reservationId": reservation, "listingId": "villa-9", "revision": 2}
    return json.dumps(
        {
            "message": {
                "data": base64.b64encode(json.dumps(event).encode()).decode(),
                "attributes": {"eventType": "RESERVATION_CREATED"},
                "messageId": message_id,
                "publishTime": "2027-06-01T12:00:00Z",
            },
            "subscription": "projects/sandbox/subscriptions/vr",
        }
    ).encode()


def post(client, body, headers):
    return client.post("/webhooks/google", data=body, content_type="application/json", **headers)


def test_a_push_with_a_valid_token_is_stored(client, settings, signing_key, certs, google, broker):
    response = post(client, push(), bearer(settings, signing_key))

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert (event.event_key, event.channel_booking_id, event.connection) == ("m-1", "G-1", google)


def test_the_signing_keys_are_fetched_once_and_cached(client, settings, signing_key, certs, google, broker):
    post(client, push("m-1"), bearer(settings, signing_key))
    post(client, push("m-2", "G-2"), bearer(settings, signing_key))

    assert certs.call_count == 1
    assert InboundEvent.objects.count() == 2


def test_a_token_signed_by_another_key_gets_401(client, settings, certs, google):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    assert post(client, push(), bearer(settings, stranger)).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_a_token_for_another_audience_gets_401(client, settings, signing_key, certs, google):
    response = post(client, push(), bearer(settings, signing_key, aud="https://evil.example/webhooks/google"))

    assert response.status_code == 401


def test_an_expired_token_gets_401(client, settings, signing_key, certs, google):
    response = post(
        client, push(), bearer(settings, signing_key, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    )

    assert response.status_code == 401


def test_unreachable_signing_keys_get_503_so_pubsub_retries(client, settings, signing_key, platform_http, google):
    platform_http.add("GET", settings.PLATFORMS["google"]["PUBSUB_CERTS_URL"], status=503)

    response = post(client, push(), bearer(settings, signing_key))

    assert response.status_code == 503
    assert InboundEvent.objects.count() == 0
