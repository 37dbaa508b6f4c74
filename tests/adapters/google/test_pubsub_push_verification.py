"""The Pub/Sub push OIDC token: RS256 only, known kid, our audience, Google's issuer, our service account."""

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.base import WebhookSignatureError
from adapters.google.adapter import GoogleAdapter
from tests.adapters.google.conftest import NOW


def verify(token: str, config, now=NOW):
    GoogleAdapter.verify_webhook_signature(
        headers={"Authorization": f"Bearer {token}"}, body=b"{}", config=config, now=now
    )


def test_a_valid_google_token_is_accepted(token, config):
    verify(token(), config)


def test_the_bare_issuer_form_is_accepted_too(token, config):
    verify(token(iss="accounts.google.com"), config)


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://attacker.test/webhooks/google"},
        {"email": "someone@evil.iam.gserviceaccount.com"},
        {"email_verified": False},
        {"email_verified": None},
        {"iss": "https://evil.example"},
        {"exp": int(NOW.timestamp()) - 3600},
        {"iat": int(NOW.timestamp()) + 3600, "exp": int(NOW.timestamp()) + 7200},
        {"exp": None},
    ],
    ids=[
        "wrong aud",
        "wrong email",
        "email unverified",
        "no email_verified",
        "wrong iss",
        "expired",
        "issued in the future",
        "no exp",
    ],
)
def test_a_token_with_a_wrong_claim_is_refused(token, config, overrides):
    with pytest.raises(WebhookSignatureError):
        verify(token(**overrides), config)


def test_expiry_is_judged_by_the_injected_clock_not_the_wall_clock(token, config):
    # Valid now, but an hour and a bit later it has expired.
    verify(token(), config)
    with pytest.raises(WebhookSignatureError):
        verify(token(), config, now=NOW + dt.timedelta(hours=1, minutes=5))


def test_a_token_from_an_unknown_kid_is_refused(token, config):
    with pytest.raises(WebhookSignatureError, match="unknown signing key"):
        verify(token(kid="key-2"), config)


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(token, config):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(WebhookSignatureError):
        verify(token(key=other), config)


def test_hs256_signed_with_the_public_key_is_refused(token, config, signing_key):
    # "Algorithm confusion": use the published RSA public key as an HMAC secret.
    import base64
    import hashlib
    import hmac
    import json

    public_pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    claims = b64(
        json.dumps(
            {
                "iss": "https://accounts.google.com",
                "aud": config.audience,
                "email": config.service_account_email,
                "email_verified": True,
                "iat": int(NOW.timestamp()),
                "exp": int(NOW.timestamp()) + 600,
            }
        ).encode()
    )
    signature = b64(hmac.new(public_pem, header + b"." + claims, hashlib.sha256).digest())
    forged = (header + b"." + claims + b"." + signature).decode()
    with pytest.raises(WebhookSignatureError, match="HS256"):
        verify(forged, config)


def test_alg_none_is_refused(config):
    import jwt

    unsigned = jwt.encode({"aud": config.audience}, key=None, algorithm="none", headers={"kid": "key-1"})
    with pytest.raises(WebhookSignatureError):
        verify(unsigned, config)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer not.a.jwt"}])
def test_a_missing_or_garbled_authorization_is_refused(config, headers):
    with pytest.raises(WebhookSignatureError):
        GoogleAdapter.verify_webhook_signature(headers=headers, body=b"{}", config=config, now=NOW)


def test_an_unconfigured_audience_refuses_everything(token, config):
    from dataclasses import replace

    with pytest.raises(WebhookSignatureError):
        verify(token(), replace(config, audience=""))
