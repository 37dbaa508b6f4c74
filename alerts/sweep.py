"""The scheduler's alert job (every minute): alert bookings a platform has waited 30 minutes to see
acknowledged, give back mails whose sender died, and ask for the mail of every kind with pending alerts
(held digests go out here once their window closes)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from alerts.mailing import alert_mails_unstick
from alerts.models import Alert
from alerts.recording import unacknowledged_alert_record, unacknowledged_key
from alerts.tasks import alert_mail_enqueue
from channelmgr.inbound.acknowledgements import FALLBACK_AFTER, unacknowledged_bookings


def unacknowledged_alerts_record() -> int:
    """An alert for each delivery still unacknowledged after ``FALLBACK_AFTER``; once per delivery."""
    # One transaction: the mails are asked for after all are recorded, so one sweep's finds go in one mail.
    with transaction.atomic():
        return sum(
            unacknowledged_alert_record(acknowledgement=pending) is not None
            for pending in unacknowledged_bookings(older_than=FALLBACK_AFTER)
        )


def alerts_sweep(now: dt.datetime | None = None) -> int:
    """Returns how many (organization, kind) mails it asked for."""
    unacknowledged_alerts_record()
    alert_mails_unstick(now=now or timezone.now())
    due = list(Alert.objects.filter(mail__isnull=True).order_by().values_list("organization_id", "kind").distinct())
    for organization_id, kind in due:
        alert_mail_enqueue(organization_id=organization_id, kind=kind)
    return len(due)


def alerts_purge(now: dt.datetime | None = None) -> int:
    """Alerts and their mails older than ``HISTORY_RETENTION_DAYS`` (hourly): mails done with (sent, failed or
    without recipients) and the alerts they carried. A mail still sending, and an alert no mail took yet,
    stay however old."""
    from django.conf import settings

    from alerts.models import AlertMail
    from pms_core.housekeeping import delete_in_batches

    before = (now or timezone.now()) - dt.timedelta(days=settings.HISTORY_RETENTION_DAYS)
    done = AlertMail.objects.filter(created_at__lt=before).exclude(status=AlertMail.Status.SENDING)
    # An alert whose key still names a condition that holds (a delivery still unacknowledged) stays: gone,
    # the next sweep would record and mail it again as if it had just happened.
    holding = [unacknowledged_key(pending) for pending in unacknowledged_bookings(older_than=FALLBACK_AFTER)]
    old = Alert.objects.filter(created_at__lt=before, mail__in=done).exclude(key__in=holding)
    alerts = delete_in_batches(old)
    return alerts + delete_in_batches(done.filter(alerts__isnull=True))
