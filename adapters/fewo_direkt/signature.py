"""FeWo-direkt's webhook signature (a decision in docs/platforms.md, the real API is closed).

``X-FeWo-Timestamp: <unix seconds>`` and ``X-FeWo-Signature: <base64 HMAC-SHA256(secret,
"<timestamp>\\n" + raw body)>``. Base64 and a newline (Airbnb uses hex and a dot) so that mixing the
two schemes up fails loudly. Several secrets may be active during a rotation.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping

from adapters.base import WebhookSignatureError

TIMESTAMP_HEADER = "X-FeWo-Timestamp"
SIGNATURE_HEADER = "X-FeWo-Signature"
REPLAY_WINDOW_SECONDS = 300
# Unix seconds have 10 digits until 2286: a longer timestamp is no time at all, and would overflow the
# float arithmetic of the replay check.
MAX_TIMESTAMP_DIGITS = 12


def header_value(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup (Django's ``HttpHeaders`` is, a plain dict is not)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secrets: tuple[str, ...],
    now: dt.datetime,
) -> None:
    """Raise ``WebhookSignatureError`` unless the signature matches and the timestamp is fresh."""
    timestamp = header_value(headers, TIMESTAMP_HEADER).strip()
    given = header_value(headers, SIGNATURE_HEADER).strip()
    if not timestamp or not given:
        raise WebhookSignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    if not secrets:
        raise WebhookSignatureError("no webhook secret configured")
    # ASCII only: "²".isdigit() is true, and int() refuses it.
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise WebhookSignatureError("signature timestamp is not unix seconds")
    if abs(now.timestamp() - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        raise WebhookSignatureError("signature timestamp outside the replay window")
    matched = False
    for secret in secrets:
        # The exact header text is signed, so a reformatted timestamp ("0123") does not verify.
        matched |= hmac.compare_digest(sign(secret, timestamp, body).encode(), given.encode())
    if not matched:
        raise WebhookSignatureError("signature does not match")
