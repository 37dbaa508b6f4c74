"""Delivering a subscription's events, one at a time and in sequence order.

A run claims the subscription (``delivering_until``, so two workers never send to one receiver at once),
then sends the next event it takes after ``delivered_sequence``; a 2xx moves the cursor past it and the
run goes on. A failure records the attempt, and the next try waits ``retry_delay(n)`` (exponential, from
1 s up to an hour). A subscription whose head event has failed for ``GIVE_UP_AFTER`` (24 h) is disabled
and its organization told (``selectors.webhook_notices``).

Never inside ``transaction.atomic()``: the run calls the receiver over the network.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from adapters import safe_http
from adapters.base import PlatformAPIError
from integrations import signing
from integrations.models import WebhookDelivery, WebhookEvent, WebhookSubscription

log = logging.getLogger(__name__)

GIVE_UP_AFTER = dt.timedelta(hours=24)
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 3600.0
# Longer than one attempt can take (connect 3 s + answer 10 s + reading 10 s).
RUN_LEASE = dt.timedelta(seconds=60)
EVENTS_PER_RUN = 100
TIMEOUT = (3.05, 10.0)
MAX_RESPONSE_BYTES = 64 * 1024
MAX_RESPONSE_SECONDS = 10.0
EXCERPT_CHARS = 500
WHAT = "webhook URL"


def retry_delay(failed_attempts: int) -> float:
    """Seconds before the next try after ``failed_attempts`` failures in a row: 1, 2, 4, ... 3600."""
    return min(FIRST_RETRY_SECONDS * 2 ** max(failed_attempts - 1, 0), MAX_RETRY_SECONDS)


def allow_private_network() -> bool:
    return settings.INTEGRATIONS_ALLOW_PRIVATE_URLS


def envelope(event: WebhookEvent) -> dict:
    """What a receiver gets: the event's id, type, sequence, time, and the object as the API shows it."""
    return {
        "id": event.pk,
        "type": event.event_type,
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def envelope_body(event: WebhookEvent) -> bytes:
    return json.dumps(envelope(event), separators=(",", ":"), sort_keys=True).encode()


def signing_secrets(subscription: WebhookSubscription, now: dt.datetime) -> list[str]:
    old = subscription.previous_secret
    expires = subscription.previous_secret_expires_at
    return [subscription.secret, old] if old and expires and expires > now else [subscription.secret]


@dataclass(frozen=True)
class Answer:
    """What one attempt got: a status (None when there was no answer) and an excerpt or an error."""

    status_code: int | None
    excerpt: str = ""
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


def post(url: str, *, body: bytes, headers: dict) -> Answer:
    """POST ``body`` to a receiver through the SSRF guard (public addresses only, no redirects, the
    answer capped at ``MAX_RESPONSE_BYTES``). Never raises for the receiver's faults."""
    started = time.monotonic()
    try:
        with safe_http.guarded_request(
            "POST",
            url,
            allow_private_network=allow_private_network(),
            what=WHAT,
            platform="webhooks",
            endpoint="deliver",
            timeout=TIMEOUT,
            data=body,
            headers=headers,
        ) as response:
            text = safe_http.read_body(
                response, max_bytes=MAX_RESPONSE_BYTES, max_seconds=MAX_RESPONSE_SECONDS, what=WHAT
            )
            # Without NULs: Postgres refuses them in text, and the log row of a POST the receiver took must
            # be written, or the event would be sent again and again.
            excerpt = text[: EXCERPT_CHARS * 4].decode(errors="replace").replace("\x00", "\ufffd")[:EXCERPT_CHARS]
            return Answer(response.status_code, excerpt=excerpt, seconds=time.monotonic() - started)
    except PlatformAPIError as exc:
        error = str(exc).replace("\x00", "\ufffd")[:EXCERPT_CHARS]
        return Answer(exc.status, error=error, seconds=time.monotonic() - started)


Sender = Callable[..., Answer]


def _claim(subscription_id: int, now: dt.datetime) -> bool:
    return bool(
        WebhookSubscription.objects.filter(pk=subscription_id, active=True, disabled_at__isnull=True)
        .filter(Q(delivering_until__isnull=True) | Q(delivering_until__lt=now))
        .update(delivering_until=now + RUN_LEASE)
    )


def next_event(subscription: WebhookSubscription) -> WebhookEvent | None:
    """The first event after the cursor that the subscription takes. Events it does not take are
    stepped over (the cursor moves past them), so a quiet subscription never looks behind."""
    events = WebhookEvent.objects.filter(
        organization_id=subscription.organization_id, sequence__gt=subscription.delivered_sequence
    )
    # Read the newest number first: an event committed after this read is not stepped over.
    newest = events.aggregate(newest=Max("sequence"))["newest"]
    if newest is None:
        return None
    event = events.filter(sequence__lte=newest, event_type__in=subscription.event_types).order_by("sequence").first()
    if event is None:
        _advance(subscription, newest)
        return None
    if event.sequence - 1 > subscription.delivered_sequence:
        _advance(subscription, event.sequence - 1)
    return event


def _advance(subscription: WebhookSubscription, sequence: int) -> bool:
    """Move the cursor, unless someone (a replay) moved it meanwhile; False then."""
    moved = WebhookSubscription.objects.filter(
        pk=subscription.pk, delivered_sequence=subscription.delivered_sequence
    ).update(delivered_sequence=sequence, failed_attempts=0, failing_since=None, next_attempt_at=None)
    if moved:
        subscription.delivered_sequence = sequence
        subscription.failed_attempts, subscription.failing_since = 0, None
    return bool(moved)


def attempt(subscription: WebhookSubscription, event: WebhookEvent, *, now: dt.datetime, send: Sender) -> Answer:
    """Send one event once, and log the attempt."""
    body = envelope_body(event)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        signing.HEADER: signing.signature_header(
            secrets_=signing_secrets(subscription, now), timestamp=timestamp, body=body
        ),
        "Webhook-Id": str(event.pk),
        "Webhook-Sequence": str(event.sequence),
    }
    answer = send(subscription.url, body=body, headers=headers)
    WebhookDelivery.objects.create(
        subscription=subscription,
        event=event,
        attempt=subscription.failed_attempts + 1,
        replay=event.sequence <= subscription.replay_until,
        succeeded=answer.ok,
        status_code=answer.status_code,
        duration_ms=round(answer.seconds * 1000),
        response_excerpt=answer.excerpt,
        error=answer.error or ("" if answer.ok else f"HTTP {answer.status_code}"),
    )
    return answer


def _failed(subscription: WebhookSubscription, answer: Answer, now: dt.datetime) -> float | None:
    """Record a failed attempt; the seconds until the next try, or None when the subscription was disabled."""
    failing_since = subscription.failing_since or now
    failures = subscription.failed_attempts + 1
    if now - failing_since >= GIVE_UP_AFTER:
        last = answer.error or f"HTTP {answer.status_code}"
        reason = f"deliveries failed for {GIVE_UP_AFTER.total_seconds() / 3600:.0f} h; last: {last}"
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            active=False, disabled_at=now, disabled_reason=reason, failed_attempts=failures, next_attempt_at=None
        )
        log.warning("webhook subscription %s disabled: %s", subscription.pk, reason)
        return None
    delay = retry_delay(failures)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        failed_attempts=failures, failing_since=failing_since, next_attempt_at=now + dt.timedelta(seconds=delay)
    )
    return delay


@dataclass(frozen=True)
class RunOutcome:
    delivered: int = 0
    retry_in: float | None = None  # seconds, after a failure
    more: bool = False  # stopped at EVENTS_PER_RUN with events left
    claimed: bool = True


def subscription_deliver(
    *, subscription_id: int, send: Sender = post, clock: Callable[[], dt.datetime] = timezone.now
) -> RunOutcome:
    """Deliver what the subscription has pending, in order, until a failure or nothing is left."""
    if not _claim(subscription_id, clock()):
        return RunOutcome(claimed=False)
    delivered = 0
    try:
        for _ in range(EVENTS_PER_RUN):
            subscription = WebhookSubscription.objects.filter(pk=subscription_id).first()
            now = clock()
            if (
                subscription is None
                or not subscription.active
                or (subscription.next_attempt_at and subscription.next_attempt_at > now)
            ):
                return RunOutcome(delivered)
            event = next_event(subscription)
            if event is None:
                return RunOutcome(delivered)
            WebhookSubscription.objects.filter(pk=subscription_id).update(delivering_until=now + RUN_LEASE)
            answer = attempt(subscription, event, now=now, send=send)
            if not answer.ok:
                return RunOutcome(delivered, retry_in=_failed(subscription, answer, clock()))
            _advance(subscription, event.sequence)
            delivered += 1
        return RunOutcome(delivered, more=True)
    finally:
        WebhookSubscription.objects.filter(pk=subscription_id).update(delivering_until=None)
