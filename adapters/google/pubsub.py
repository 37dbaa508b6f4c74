"""Google Cloud Pub/Sub push: the OIDC token check and the message envelope.

Pub/Sub signs each push with a Google-issued JWT (RS256) in ``Authorization: Bearer``. We accept it only
when the key named by its ``kid`` is in the cached JWKS, the audience is our push URL, the issuer is
Google and the signer is the configured, verified service account. Time claims are checked against
the injected ``now``, not the wall clock, so tests pin time.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping

import jwt

from adapters.base import UnknownSigningKeyError, WebhookPayloadError, WebhookSignatureError
from adapters.webhook_input import json_object, json_value

ISSUERS = {"accounts.google.com", "https://accounts.google.com"}
LEEWAY_SECONDS = 60
ALGORITHM = "RS256"


def _bearer(headers: Mapping[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise WebhookSignatureError("no Bearer token")
    return token.strip()


def _key_for(token: str, jwks: Mapping[str, object] | None):
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise WebhookSignatureError(f"unreadable token: {exc}") from None
    if header.get("alg") != ALGORITHM:
        # Refuses "alg": "none" and HS256 signed with the public key as the secret.
        raise WebhookSignatureError(f"token algorithm {header.get('alg')!r} is not {ALGORITHM}")
    kid = header.get("kid")
    keys = (jwks or {}).get("keys") or []
    for candidate in keys if isinstance(keys, list) else []:
        if isinstance(candidate, dict) and candidate.get("kid") == kid and candidate.get("kty") == "RSA":
            try:
                return jwt.PyJWK(candidate, algorithm=ALGORITHM).key
            except jwt.PyJWTError as exc:
                raise WebhookSignatureError(f"unusable key {kid!r}: {exc}") from None
    raise UnknownSigningKeyError(f"unknown signing key {kid!r}")


def verify(*, headers: Mapping[str, str], audience: str, service_account_email: str, jwks, now: dt.datetime) -> dict:
    """Return the verified claims or raise ``WebhookSignatureError``."""
    if not audience or not service_account_email:
        raise WebhookSignatureError("Pub/Sub push audience or service account is not configured")
    token = _bearer(headers)
    key = _key_for(token, jwks)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            # Time is checked below against the injected clock.
            options={
                "require": ["exp", "iat", "iss", "aud"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise WebhookSignatureError(f"invalid token: {exc}") from None
    if claims.get("iss") not in ISSUERS:
        raise WebhookSignatureError(f"unexpected issuer {claims.get('iss')!r}")
    if claims.get("email") != service_account_email or claims.get("email_verified") is not True:
        raise WebhookSignatureError("token is not from the configured, verified service account")
    _check_time(claims, now)
    return claims


def _check_time(claims: dict, now: dt.datetime) -> None:
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    moment = now.timestamp()
    try:
        expires, issued = float(claims["exp"]), float(claims["iat"])
    except (TypeError, ValueError, KeyError):
        raise WebhookSignatureError("exp/iat are not numbers") from None
    if expires < moment - LEEWAY_SECONDS:
        raise WebhookSignatureError("token expired")
    if issued > moment + LEEWAY_SECONDS:
        raise WebhookSignatureError("token issued in the future")
    nbf = claims.get("nbf")
    if isinstance(nbf, (int, float)) and nbf > moment + LEEWAY_SECONDS:
        raise WebhookSignatureError("token not valid yet")


def decode_push(body: bytes) -> tuple[str, dict]:
    """``(messageId, event)`` from a push body; raises ``WebhookPayloadError``."""
    envelope = json_value(body, what="push body")
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise WebhookPayloadError("push body without a message object")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise WebhookPayloadError("push message without messageId")
    data = message.get("data")
    if not isinstance(data, str) or not data:
        raise WebhookPayloadError("push message without data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            raise WebhookPayloadError("message.data is not base64") from None
    return message_id, json_object(raw, what="message.data")
