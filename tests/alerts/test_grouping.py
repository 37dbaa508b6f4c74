"""The grouping rule, for any sequence of alerts and mail runs: the first alert of a kind goes at once,
those within the window after a mail wait and go together when it closes; no alert is lost or mailed
twice, and an organization never gets two mails of one kind within a window."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from alerts.mailing import alert_mail_send, group_window
from alerts.models import Alert, AlertKind, AlertMail
from alerts.recording import alert_record

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 7, 1, 8, 0, tzinfo=dt.UTC)
KIND = AlertKind.OVERBOOKING


def expected_mails(steps: list[tuple[int, int]], window_minutes: int) -> int:
    """The rule, on paper: a send at ``t`` mails what waits unless a mail went within the window."""
    last, pending, mails, t = None, 0, 0, T0
    for gap, count in steps:
        t += dt.timedelta(minutes=gap)
        pending += count
        if pending and (last is None or t >= last + dt.timedelta(minutes=window_minutes)):
            last, pending, mails = t, 0, mails + 1
    return mails + (1 if pending else 0)  # the sweep when the last window closes


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3)), min_size=1, max_size=12))
def test_any_sequence_of_alerts_gives_the_right_mails_and_loses_none(steps, recipients, org_a):
    Alert.objects.all().delete()
    AlertMail.objects.all().delete()
    mail.outbox.clear()
    window = group_window()
    t, recorded = T0, []
    for gap, count in steps:
        t += dt.timedelta(minutes=gap)
        for _ in range(count):
            summary = f"Overbooking number {len(recorded)}."
            alert_record(organization_id=org_a.pk, kind=KIND, summary=summary)
            recorded.append(summary)
        alert_mail_send(organization_id=org_a.pk, kind=KIND, now=t)  # the actor after commit, or the sweep
    alert_mail_send(organization_id=org_a.pk, kind=KIND, now=t + window)

    assert len(mail.outbox) == expected_mails(steps, window.seconds // 60)
    for summary in recorded:  # each alert in exactly one mail
        assert sum(summary in sent.body for sent in mail.outbox) == 1, summary
    assert not Alert.objects.filter(mail__isnull=True).exists()
    opened = sorted(AlertMail.objects.filter(status=AlertMail.Status.SENT).values_list("created_at", flat=True))
    assert all(later - earlier >= window for earlier, later in zip(opened, opened[1:], strict=False))


def test_without_a_recipient_nothing_is_mailed_and_no_window_opens(org_a):
    alert_record(organization_id=org_a.pk, kind=KIND, summary="nobody listens")
    sent = alert_mail_send(organization_id=org_a.pk, kind=KIND, now=T0)
    assert sent.status == AlertMail.Status.NO_RECIPIENTS and not mail.outbox
    assert not Alert.objects.filter(mail__isnull=True).exists()  # not kept to flood a recipient added later


def test_a_recipient_hears_only_of_the_kinds_it_chose(recipients, org_a):
    alice_ops, _ = recipients
    alice_ops.overbookings = False
    alice_ops.save()
    alert_record(organization_id=org_a.pk, kind=KIND, summary="an overbooking")
    alert_record(organization_id=org_a.pk, kind=AlertKind.CONNECTION, summary="a connection")
    alert_mail_send(organization_id=org_a.pk, kind=KIND, now=T0)
    alert_mail_send(organization_id=org_a.pk, kind=AlertKind.CONNECTION, now=T0)
    assert [m.subject for m in mail.outbox] == ["[Alice Holiday Homes] a connection"]


def test_a_failed_send_gives_its_alerts_to_the_next_mail(recipients, org_a, settings):
    settings.EMAIL_BACKEND = "tests.alerts.test_grouping.RefusingBackend"
    alert_record(organization_id=org_a.pk, kind=KIND, summary="first try fails")
    failed = alert_mail_send(organization_id=org_a.pk, kind=KIND, now=T0)
    assert failed.status == AlertMail.Status.FAILED
    assert AlertMail.objects.get(pk=failed.pk).error.startswith("ConnectionRefusedError")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # A failed mail opens no window: the retry a minute later goes at once.
    retried = alert_mail_send(organization_id=org_a.pk, kind=KIND, now=T0 + dt.timedelta(minutes=1))
    assert retried.status == AlertMail.Status.SENT and "first try fails" in mail.outbox[0].body


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server refused the connection")
