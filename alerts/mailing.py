"""Sending the alert mails, grouped per organization and kind.

The grouping rule: the first alert of a kind goes out within a minute, with every repeat that came in
the ``ALERT_GATHER_SECONDS`` after it grouped into it; a mail opens a window of ``ALERT_GROUP_MINUTES``,
and every alert of that kind and organization that comes within it waits and goes out as one digest when
the window closes (the sweep looks every minute). So an organization gets
at most one mail per kind per window, and none is lost: an alert belongs to exactly one mail that was
sent, or it is still pending. A failed send gives its alerts back for the next try.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from alerts.models import SUBSCRIPTION_FLAG, Alert, AlertKind, AlertMail, AlertRecipient
from pms_core.models import Organization

log = logging.getLogger(__name__)

# A mail stuck in "sending" this long died with its worker: its alerts go in the next mail.
SENDING_GIVEN_UP_AFTER = dt.timedelta(minutes=10)
# Mails that open a window; a failed one or one with no recipient does not.
WINDOW_OPENERS = (AlertMail.Status.SENDING, AlertMail.Status.SENT)


def group_window() -> dt.timedelta:
    return dt.timedelta(minutes=settings.ALERT_GROUP_MINUTES)


def alert_recipients(*, organization_id: int, kind: str) -> list[str]:
    flag = SUBSCRIPTION_FLAG[AlertKind(kind)]
    return list(
        AlertRecipient.objects.filter(organization_id=organization_id, is_active=True, **{flag: True})
        .order_by("email")
        .values_list("email", flat=True)
    )


def window_closes_at(*, organization_id: int, kind: str) -> dt.datetime | None:
    """When the window of the last mail of this kind closes; None when no window is open or ever was."""
    last = (
        AlertMail.objects.filter(organization_id=organization_id, kind=kind, status__in=WINDOW_OPENERS)
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    return last + group_window() if last else None


def _claim(organization_id: int, kind: str, now: dt.datetime) -> tuple[AlertMail, list[Alert]] | None:
    """Claim every pending alert of this kind into a new mail, unless a window is open. Concurrent
    callers queue on the alerts' row locks (SQLite: on the write lock) and find nothing left to claim."""
    with transaction.atomic():
        pending = list(
            Alert.objects.select_for_update()
            .filter(organization_id=organization_id, kind=kind, mail__isnull=True)
            .order_by("created_at", "pk")
        )
        if not pending:
            return None
        closes = window_closes_at(organization_id=organization_id, kind=kind)
        if closes is not None and now < closes:
            return None  # held: they go together when the window closes
        if now < pending[0].created_at + dt.timedelta(seconds=settings.ALERT_GATHER_SECONDS):
            return None  # gathering: repeats of the next seconds go in this mail (the sweep sends it)
        recipients = alert_recipients(organization_id=organization_id, kind=kind)
        mail = AlertMail.objects.create(
            organization_id=organization_id,
            kind=kind,
            created_at=now,
            status=AlertMail.Status.SENDING if recipients else AlertMail.Status.NO_RECIPIENTS,
            recipients=", ".join(recipients),
            subject=_subject(organization_id, kind, pending)[:300],
        )
        Alert.objects.filter(pk__in=[alert.pk for alert in pending]).update(mail=mail)
    return mail, pending


def alert_mail_send(*, organization_id: int, kind: str, now: dt.datetime | None = None) -> AlertMail | None:
    """Send the pending alerts of one kind of one organization, if its window allows; returns the mail
    (whatever its status) or None when nothing was claimed. Never raises for a failed send."""
    claimed = _claim(organization_id, kind, now or timezone.now())
    if claimed is None:
        return None
    mail, alerts = claimed
    if mail.status == AlertMail.Status.NO_RECIPIENTS:
        log.info("%s alert for organization %s: no recipient chose this kind", kind, organization_id)
        return mail
    message = EmailMessage(
        subject=mail.subject, body=_body(kind, alerts), from_email=None, to=mail.recipients.split(", ")
    )
    try:
        # After the claim committed: the network never holds a database lock.
        message.send()
    except Exception as exc:  # SMTP down or refusing: the next sweep tries again
        log.warning(
            "alert mail %s to organization %s failed, its alerts wait for the next: %s", mail.pk, organization_id, exc
        )
        alert_mail_give_back(mail=mail, error=f"{type(exc).__name__}: {exc}")
        mail.status = AlertMail.Status.FAILED
        return mail
    mail.sent_at = timezone.now()
    mail.status = AlertMail.Status.SENT
    AlertMail.objects.filter(pk=mail.pk).update(status=mail.status, sent_at=mail.sent_at)
    return mail


def alert_mail_give_back(*, mail: AlertMail, error: str) -> None:
    """A mail that was not sent: it opens no window and its alerts are pending again."""
    with transaction.atomic():
        AlertMail.objects.filter(pk=mail.pk).update(status=AlertMail.Status.FAILED, error=error[:2000])
        Alert.objects.filter(mail=mail).update(mail=None)


def alert_mails_unstick(*, now: dt.datetime) -> int:
    """Give back the alerts of mails whose sender died mid-send."""
    stuck = AlertMail.objects.filter(status=AlertMail.Status.SENDING, created_at__lt=now - SENDING_GIVEN_UP_AFTER)
    for mail in stuck:
        alert_mail_give_back(mail=mail, error="the sender stopped before the mail was sent")
    return len(stuck)


_NOUNS = {
    AlertKind.OVERBOOKING: ("overbooking", "overbookings"),
    AlertKind.CONNECTION: ("connection needs attention", "connections need attention"),
    AlertKind.UNACKNOWLEDGED: ("booking not acknowledged", "bookings not acknowledged"),
}


def _subject(organization_id: int, kind: str, alerts: list[Alert]) -> str:
    name = Organization.objects.filter(pk=organization_id).values_list("name", flat=True).first() or ""
    if len(alerts) == 1:
        return f"[{name}] {alerts[0].summary}"
    return f"[{name}] {len(alerts)} {_NOUNS[AlertKind(kind)][1]}, the first: {alerts[0].summary}"


def _body(kind: str, alerts: list[Alert]) -> str:
    base = settings.PUBLIC_BASE_URL
    return render_to_string(
        "alerts/alert_mail.txt",
        {
            "kind": AlertKind(kind).label,
            "alerts": [{"alert": alert, "url": f"{base}{alert.link}" if alert.link else ""} for alert in alerts],
            "minutes": settings.ALERT_GROUP_MINUTES,
            "recipients_url": f"{base}/admin/alerts/alertrecipient/",
        },
    )
