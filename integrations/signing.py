"""Signatures the way Stripe makes them: ``Webhook-Signature: t=<unix>,v1=<hex hmac-sha256 of "t.body">``.

While a rotated-out secret is in its grace period, the header carries one ``v1=`` per secret (the new
one first). Receivers check ``t`` against their clock with a tolerance (``TOLERANCE_SECONDS``,
documented in docs/integrators.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Webhook-Signature"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets_: list[str], timestamp: int, body: bytes) -> str:
    """The header's value, signed with every secret in ``secrets_`` (current first)."""
    return ",".join(
        [f"t={timestamp}", *(f"v1={signature(secret=s, timestamp=timestamp, body=body)}" for s in secrets_)]
    )
