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

# Replays reach back this far; older events (and their delivery log) are deleted, once every subscription
# of the organization got them (a subscription disabled after a day of failures gets what it missed when
# it is activated again), and after UNDELIVERED_RETENTION whatever happened.
EVENT_RETENTION = dt.timedelta(days=30)
UNDELIVERED_RETENTION = dt.timedelta(days=90)
PRUNE_BATCH = 1000


def events_prune(*, now=None) -> int:
    """Delete one batch of events past their retention; returns how many."""
    now = now or timezone.now()
    waiting = WebhookSubscription.objects.filter(
        organization_id=OuterRef("organization_id"), delivered_sequence__lt=OuterRef("sequence")
    )
    old = WebhookEvent.objects.filter(created_at__lt=now - EVENT_RETENTION).filter(
        Q(created_at__lt=now - UNDELIVERED_RETENTION) | ~Exists(waiting)
    )
    batch = list(old.values_list("pk", flat=True)[:PRUNE_BATCH])
    if batch:
        WebhookEvent.objects.filter(pk__in=batch).delete()
    return len(batch)


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
