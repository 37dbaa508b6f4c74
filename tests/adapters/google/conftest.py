import datetime as dt
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.base import Credentials, PlatformAccount, WebhookConfig
from adapters.booking_com import ota
from adapters.google.adapter import GoogleAdapter

BASE = "https://travelpartner.google.test/google"
AUDIENCE = "https://cm.example.test/webhooks/google"
EMAIL = "pubsub@sandbox-vr.iam.gserviceaccount.com"
NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def jwks(signing_key):
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    return {"keys": [{**public, "kid": "key-1", "alg": "RS256", "use": "sig"}]}


@pytest.fixture
def config(jwks):
    return WebhookConfig(audience=AUDIENCE, service_account_email=EMAIL, jwks=jwks)


@pytest.fixture
def token(signing_key):
    def make(*, kid="key-1", key=None, algorithm="RS256", **overrides):
        claims = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "email": EMAIL,
            "email_verified": True,
            "iat": int(NOW.timestamp()) - 10,
            "exp": int(NOW.timestamp()) + 3600,
            "sub": "1234567890",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or signing_key, algorithm=algorithm, headers={"kid": kid})

    return make


@pytest.fixture(autouse=True)
def pinned_timestamp(monkeypatch):
    monkeypatch.setattr(ota, "now_stamp", lambda: "2027-06-01T12:00:00+00:00")


@pytest.fixture
def account():
    return PlatformAccount(
        listing_id="villa-9",
        credentials=Credentials(access_token="ya29.token", refresh_token="1//refresh"),
        base_url=BASE,
        oauth_client_id="sandbox-google-client",
        oauth_client_secret="sandbox-google-secret",
    )


@pytest.fixture
def adapter(account):
    return GoogleAdapter(account)
