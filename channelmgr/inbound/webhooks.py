"""Webhook views: cap the body, verify, parse, store, answer 2xx, and enqueue the import on commit.

A bad signature gets 401 and stores nothing; a malformed body 400 with the reason; a duplicate 200 and
changes nothing. Errors have the API's shape, ``{"error": code, "detail": reason}``. Everything slow
(fetching the booking, applying it) happens in the import actor.

The URLs are public, so the body and headers are anyone's: verifying and parsing go through
``adapters.webhook_input``, which turns whatever a hostile request makes them raise into 401 or 400.
No request is answered 5xx except when a platform's signing keys cannot be fetched (503: the platform
retries).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from adapters import registry, webhook_input, xml
from adapters.base import (
    NotificationKind,
    PlatformAdapter,
    UnknownSigningKeyError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from channelmgr import metrics
from channelmgr.inbound.dispatch import import_enqueue
from channelmgr.inbound.events import inbound_event_store
from channelmgr.inbound.webhook_config import SigningKeysUnavailable, may_refetch_signing_keys, webhook_config
from channelmgr.models import InboundEvent
from config.api_errors import error_response, require_methods
from config.logging import correlation

log = logging.getLogger(__name__)


def _read_body(request: HttpRequest) -> bytes | None:
    """The raw body, or None when it is over ``WEBHOOK_MAX_BODY_BYTES`` (read no further than that)."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _verify(adapter: type[PlatformAdapter], headers, body: bytes) -> None:
    """Raises ``WebhookSignatureError`` or ``SigningKeysUnavailable``."""
    now = timezone.now()
    try:
        webhook_input.verify(adapter, headers=headers, body=body, config=webhook_config(adapter), now=now)
    except UnknownSigningKeyError:
        # The platform may have rotated its keys since we cached them: one fresh fetch, rate-limited.
        if not adapter.signing_keys_setting or not may_refetch_signing_keys(adapter):
            raise
        config = webhook_config(adapter, refresh_keys=True)
        webhook_input.verify(adapter, headers=headers, body=body, config=config, now=now)


@csrf_exempt
@require_methods("POST")
def webhook_receive(request: HttpRequest, path: str) -> HttpResponse:
    started = time.monotonic()
    adapter = registry.by_webhook_path(path)
    if adapter is None:
        return error_response(404, "not_found", "no platform receives webhooks at this path")
    platform = adapter.slug
    body = _read_body(request)
    if body is None:
        metrics.record_webhook_received(platform, "unknown", "too_large")
        return error_response(413, "body_too_large", f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes")
    # An XML body is parsed with the safe parser before the credentials in it are checked, so an XXE
    # or billion-laughs body is a 400 naming the reason rather than an anonymous 401.
    if adapter.webhook_body == "xml":
        try:
            xml.parse(body)
        except WebhookPayloadError as exc:
            metrics.record_webhook_received(platform, "unknown", "malformed")
            return error_response(400, "malformed_body", str(exc))
    try:
        _verify(adapter, request.headers, body)
    except SigningKeysUnavailable:
        metrics.record_webhook_received(platform, "unknown", "keys_unavailable")
        return error_response(503, "signing_keys_unavailable", "signing keys unavailable, retry later")
    except WebhookSignatureError as exc:
        log.warning("%s webhook refused: %s", platform, exc)
        metrics.WEBHOOK_SIGNATURE_FAILURES.labels(platform).inc()
        metrics.record_webhook_received(platform, "unknown", "unauthorized")
        return error_response(401, "invalid_signature", "invalid signature")
    try:
        notifications = webhook_input.parse(adapter, headers=request.headers, body=body)
    except WebhookPayloadError as exc:
        metrics.record_webhook_received(platform, "unknown", "malformed")
        return error_response(400, "malformed_body", str(exc))

    with correlation(None) as correlation_id, transaction.atomic():
        for notification in notifications:
            event, created = inbound_event_store(notification=notification, correlation_id=correlation_id)
            outcome = "duplicate" if not created else event.status
            if created and event.status == InboundEvent.Status.RECEIVED:
                # Only once the row is committed, so the worker always finds it.
                transaction.on_commit(lambda pk=event.pk: import_enqueue(pk))
            if notification.kind == NotificationKind.IGNORED:
                log.info("%s webhook %s: event type not handled, acknowledged", platform, notification.event_key)
            metrics.record_webhook_received(platform, notification.kind.value, outcome)
    answer = adapter.webhook_answer(notifications)
    metrics.WEBHOOK_DURATION.labels(platform).observe(time.monotonic() - started)
    response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    response["X-Correlation-ID"] = correlation_id
    return response
