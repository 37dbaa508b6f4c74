"""Airbnb's webhook signature: ``X-Airbnb-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The HMAC is over ``"<t>." + raw body``. During a secret rotation the header may carry several ``v1=``
values and we may hold several secrets: any pair that matches is enough.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping

from adapters.base import WebhookSignatureError

HEADER = "X-Airbnb-Signature"
REPLAY_WINDOW_SECONDS = 300
# Unix seconds have 10 digits until 2286: a longer ``t`` is no time at all, and would overflow the
# float arithmetic of the replay check.
MAX_TIMESTAMP_DIGITS = 12


def header_value(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup (Django's ``HttpHeaders`` is, a plain dict is not)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def parse_header(value: str) -> tuple[int, list[str]]:
    """Split ``t=..,v1=..,v1=..`` into the timestamp and the candidate signatures."""
    timestamp = None
    signatures = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t":
            if not (item.isascii() and item.isdigit()) or len(item) > MAX_TIMESTAMP_DIGITS:
                raise WebhookSignatureError("signature timestamp is not unix seconds")
            timestamp = int(item)
        elif key == "v1" and item:
            signatures.append(item.strip().lower())
    if timestamp is None:
        raise WebhookSignatureError("signature header has no timestamp")
    if not signatures:
        raise WebhookSignatureError("signature header has no v1 signature")
    return timestamp, signatures


def verify(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secrets: tuple[str, ...],
    now: dt.datetime,
) -> None:
    """Raise ``WebhookSignatureError`` unless a v1 signature matches and ``t`` is fresh."""
    value = header_value(headers, HEADER)
    if not value:
        raise WebhookSignatureError(f"missing {HEADER} header")
    if not secrets:
        raise WebhookSignatureError("no webhook secret configured")
    timestamp, signatures = parse_header(value)
    # Checked before the HMAC so a replayed request learns nothing about our secrets.
    if abs(now.timestamp() - timestamp) > REPLAY_WINDOW_SECONDS:
        raise WebhookSignatureError("signature timestamp outside the replay window")
    matched = False
    for secret in secrets:
        expected = sign(secret, timestamp, body).encode()
        for candidate in signatures:
            # No early exit: the time taken does not tell which secret or value matched.
            matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise WebhookSignatureError("signature does not match")
