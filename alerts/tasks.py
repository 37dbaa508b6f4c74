"""The alert mail actor: thin, idempotent (it sends only what is pending and due), keyed by ids."""

from __future__ import annotations

import logging

import dramatiq

from alerts.mailing import alert_mail_send

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="alerts", max_retries=3, min_backoff=5_000, max_backoff=60_000)
def send_alert_mail(organization_id: int, kind: str) -> None:
    """Mail the organization's pending alerts of ``kind`` if its grouping window allows."""
    alert_mail_send(organization_id=organization_id, kind=kind)


def alert_mail_enqueue(*, organization_id: int, kind: str) -> None:
    """Ask for the mail. Never raises: with the broker down the alerts stay pending for the sweep."""
    try:
        send_alert_mail.send(organization_id, str(kind))
    except Exception as exc:
        log.warning("could not enqueue the %s alert mail of organization %s: %s", kind, organization_id, exc)
