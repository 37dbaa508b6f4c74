"""The periodic safety net (a scheduler job): events the broker never took, subscriptions due a try, and
events past their retention.

A lost message (broker down at commit, a worker killed mid-run, a delayed retry gone with Redis) only
delays a delivery until the next pass.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from integrations.models import WebhookEvent, WebhookSubscription
from integrations.outbox import events_hand_over
from pms_core.outbox import outbox_stranded

# Replays reach back this far; older events (and their delivery log) are deleted.
EVENT_RETENTION = dt.timedelta(days=30)
PRUNE_BATCH = 1000


def events_prune(*, now=None) -> int:
    """Delete one batch of events older than ``EVENT_RETENTION``; returns how many."""
    cutoff = (now or timezone.now()) - EVENT_RETENTION
    old = list(WebhookEvent.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:PRUNE_BATCH])
    if old:
        WebhookEvent.objects.filter(pk__in=old).delete()
    return len(old)


def subscriptions_due(*, now=None) -> list[int]:
    """Active subscriptions with an event after their cursor, not waiting for a retry, not in a run."""
    now = now or timezone.now()
    pending = WebhookEvent.objects.filter(
        organization_id=OuterRef("organization_id"), sequence__gt=OuterRef("delivered_sequence")
    )
    return list(
        WebhookSubscription.objects.filter(active=True, disabled_at__isnull=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(delivering_until__isnull=True) | Q(delivering_until__lt=now))
        .filter(Exists(pending))
        .values_list("pk", flat=True)
    )


def relay_webhooks() -> int:
    """Hand over stranded events and start a run for each subscription due; returns how many messages."""
    from integrations.tasks import deliver_webhooks

    events_prune()
    handed = events_hand_over(event_ids=outbox_stranded(model=WebhookEvent))
    due = subscriptions_due()
    for subscription_id in due:
        deliver_webhooks.send(subscription_id)
    return handed + len(due)
