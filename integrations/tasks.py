"""Dramatiq actors for integrators' webhooks. Thin: ids in, a service call, idempotent."""

from __future__ import annotations

import dramatiq

from integrations.delivery import subscription_deliver
from integrations.models import WebhookEvent, WebhookSubscription

QUEUE = "webhooks"


@dramatiq.actor(queue_name=QUEUE, max_retries=20, min_backoff=500, max_backoff=60_000)
def deliver_event(event_id: int) -> None:
    """A new event: run every active subscription of its organization that takes its type."""
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if event is None:
        return
    subscriptions = WebhookSubscription.objects.filter(
        organization_id=event.organization_id, active=True, disabled_at__isnull=True
    ).values_list("pk", "event_types")
    for subscription_id, event_types in subscriptions:
        if event.event_type in event_types:
            deliver_webhooks.send(subscription_id)


# Retries are the subscription's own (next_attempt_at, with its backoff), not dramatiq's: a failed
# receiver holds back the events after it, so one message per try keeps them in order.
@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def deliver_webhooks(subscription_id: int) -> None:
    """Deliver the subscription's pending events in order; after a failure, come back when it is due."""
    outcome = subscription_deliver(subscription_id=subscription_id)
    if outcome.retry_in is not None:
        deliver_webhooks.send_with_options(args=(subscription_id,), delay=int(outcome.retry_in * 1000))
    elif outcome.more:
        deliver_webhooks.send(subscription_id)
