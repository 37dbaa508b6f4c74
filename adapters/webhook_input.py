"""Reading a webhook request nobody has vouched for yet: one JSON decoder and one guard around each step.

Webhook URLs are public, so their headers and body are whatever a stranger sends. Whatever that is,
checking a request ends in ``WebhookSignatureError`` (401) and parsing it in ``WebhookPayloadError``
(400 with the reason), never in another exception, which would surface as a 500:

- ``json_value``/``json_object`` are the only way a webhook body (or JSON inside it, like Pub/Sub's
  ``message.data``) is decoded: strict UTF-8, JSON's own constants only (no ``NaN``/``Infinity``),
  numbers that fit (finite floats, 64-bit integers) and nesting Python can parse (``RecursionError``);
- ``verify`` and ``parse`` call an adapter's ``verify_webhook_signature``/``parse_webhook`` and turn what
  a hostile shape makes plain Python raise (``MALFORMED``: a list where a dict was expected, a dict used
  as a key, a number or date out of range) into those two errors. ``parse`` also refuses identifiers
  that could not be stored (control characters, lone surrogates), so the store never fails on them.

This is the counterpart of ``adapters.xml.parse`` for XML bodies, which already refuses DTDs, entities,
malformed and overly deep documents with ``WebhookPayloadError``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Mapping

from adapters.base import (
    Notification,
    PlatformAdapter,
    WebhookConfig,
    WebhookPayloadError,
    WebhookSignatureError,
)

log = logging.getLogger(__name__)

# What malformed input makes ordinary parsing code raise: a shape it did not expect (TypeError,
# LookupError, AttributeError), a value it cannot convert (ValueError, which includes
# UnicodeDecodeError and Python's int-string conversion limit), a number or date out of range
# (ArithmeticError: OverflowError, decimal.InvalidOperation), nesting deeper than Python recurses.
MALFORMED = (RecursionError, ValueError, TypeError, LookupError, AttributeError, ArithmeticError)

MAX_INT = 2**63 - 1  # what a 64-bit column holds; no platform sends larger numbers
_MAX_INT_DIGITS = len(str(MAX_INT))

# Control characters (NUL included: Postgres refuses it in text) and lone surrogates (not UTF-8).
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
IDENTIFIERS = ("event_key", "listing_id", "channel_booking_id", "version")
# The longest each may be: the columns that store or match them (``ChannelConnection.platform_listing_id``,
# ``Booking.channel_booking_id``, ``Booking.source_version``). Cut to fit, a longer booking id failed its
# import on every retry. An event id of any length is kept (``inbound_event_store`` keys a long one by its
# digest): it is only a key, and cut to fit two events sharing their first 255 characters were one.
MAX_LENGTHS = {"event_key": None, "listing_id": 200, "channel_booking_id": 128, "version": 64}


def _int(text: str) -> int:
    # Checked before converting: Python refuses (ValueError) past 4300 digits, and slowly.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS or abs(value := int(text)) > MAX_INT:
        raise ValueError(f"integer {text[:24]}... is out of range")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:24]} is out of range")
    return value


def _constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def json_value(body: bytes | str, *, what: str = "body") -> object:
    """Decode untrusted JSON; raises ``WebhookPayloadError`` naming ``what`` and the reason."""
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise WebhookPayloadError(f"{what} is nested too deeply") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise WebhookPayloadError(f"{what} is not JSON: {str(exc)[:160]}") from None


def json_object(body: bytes | str, *, what: str = "body") -> dict:
    """``json_value`` that must be an object; raises ``WebhookPayloadError``."""
    value = json_value(body, what=what)
    if not isinstance(value, dict):
        raise WebhookPayloadError(f"{what} is not a JSON object")
    return value


def verify(
    adapter: type[PlatformAdapter],
    *,
    headers: Mapping[str, str],
    body: bytes,
    config: WebhookConfig,
    now: dt.datetime,
) -> None:
    """``adapter.verify_webhook_signature``; a request that makes the check itself fail is not authentic."""
    try:
        adapter.verify_webhook_signature(headers=headers, body=body, config=config, now=now)
    except MALFORMED as exc:
        log.warning("%s webhook check failed on malformed input", adapter.slug, exc_info=True)
        raise WebhookSignatureError(f"unverifiable request: {_reason(exc)}") from exc


def parse(adapter: type[PlatformAdapter], *, headers: Mapping[str, str], body: bytes) -> list[Notification]:
    """``adapter.parse_webhook``, with every failure a ``WebhookPayloadError`` and identifiers storable."""
    try:
        notifications = adapter.parse_webhook(headers=headers, body=body)
    except MALFORMED as exc:
        log.info("%s webhook body malformed", adapter.slug, exc_info=True)
        raise WebhookPayloadError(f"malformed {adapter.slug} notification: {_reason(exc)}") from exc
    for notification in notifications:
        _check_identifiers(notification)
    return notifications


def _reason(exc: BaseException) -> str:
    """Short: the text may quote the body (a ``KeyError`` names the key)."""
    return f"{type(exc).__name__}: {str(exc)[:160]}"


def _check_identifiers(notification: Notification) -> None:
    if not notification.event_key:
        raise WebhookPayloadError("notification without an event id")
    for name in IDENTIFIERS:
        value = getattr(notification, name)
        if not isinstance(value, str):
            raise WebhookPayloadError(f"{name} is not text")
        if _UNSTORABLE.search(value):
            raise WebhookPayloadError(f"{name} holds control characters or invalid text")
        if MAX_LENGTHS[name] is not None and len(value) > MAX_LENGTHS[name]:
            raise WebhookPayloadError(f"{name} is longer than {MAX_LENGTHS[name]} characters")
