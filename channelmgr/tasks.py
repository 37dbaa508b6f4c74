"""Dramatiq actors. Thin: they take ids, load rows, call a service, and are idempotent."""

from __future__ import annotations

import logging

import dramatiq
from django.db import transaction

from pms_core.outbox import outbox_claim

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="outbox", max_retries=20, min_backoff=500, max_backoff=60_000)
def consume_outbox_event(event_id: int) -> None:
    """Turn one domain event into dirty ranges on the unit's connections (a repeat is a no-op)."""
    from channelmgr.sync.outbound import outbox_event_apply

    with transaction.atomic():
        event = outbox_claim(event_id=event_id)
        if event is None:
            log.info("outbox event %s already consumed", event_id)
            return
        outbox_event_apply(event=event)
