"""Events recorded with the change that caused them, numbered per organization, handed to the broker
on commit (``pms_core.outbox``'s hand-over and relay do the handing; this module only records)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from integrations.models import EventSequence, WebhookEvent


def sequence_next(*, organization_id: int) -> int:
    """The organization's next sequence number, under a row lock held until the caller's transaction
    ends: numbers are given in commit order, and a rolled-back change gives its number back."""
    EventSequence.objects.get_or_create(organization_id=organization_id)
    counter = EventSequence.objects.select_for_update().get(organization_id=organization_id)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last


def event_record(
    *, organization_id: int, event_type: str, data: dict, occurred_at: dt.datetime | None = None
) -> WebhookEvent:
    """Record an event inside the caller's transaction; it is handed to the broker once that commits
    (or by the relay, if the broker was down then)."""
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            organization_id=organization_id,
            sequence=sequence_next(organization_id=organization_id),
            event_type=event_type,
            occurred_at=occurred_at or timezone.now(),
            data=data,
        )
    transaction.on_commit(lambda: events_hand_over(event_ids=[event.pk]))
    return event


def events_hand_over(*, event_ids: list[int]) -> int:
    from integrations.tasks import deliver_event  # actors import the services; the hand-over needs one
    from pms_core.outbox import outbox_hand_over

    return outbox_hand_over(model=WebhookEvent, actor=deliver_event, ids=event_ids)
