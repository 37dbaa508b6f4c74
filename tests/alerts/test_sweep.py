"""The scheduler's alerts job: it runs every minute under the scheduler's lease, asks for the mail of
every kind with pending alerts, and gives back the alerts of a mail whose sender died mid-send."""

from __future__ import annotations

import datetime as dt

import dramatiq
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from django.utils import timezone
from dramatiq.middleware import Middleware

from alerts.mailing import SENDING_GIVEN_UP_AFTER, alert_mail_send
from alerts.models import Alert, AlertKind, AlertMail
from alerts.recording import alert_record
from alerts.sweep import alerts_sweep
from channelmgr.scheduler import add_jobs

pytestmark = pytest.mark.django_db


def test_the_scheduler_runs_the_alerts_job_every_minute():
    scheduler = BackgroundScheduler()
    add_jobs(scheduler)
    job = scheduler.get_job("alerts")
    assert job is not None and job.trigger.interval == dt.timedelta(seconds=60)


class EnqueueSpy(Middleware):
    def __init__(self):
        self.sent = []

    def after_enqueue(self, broker, message, delay):
        if message.actor_name == "send_alert_mail":
            self.sent.append(tuple(message.args))


def test_the_sweep_asks_for_the_mail_of_every_kind_with_pending_alerts(org_a, org_b):
    alert_record(organization_id=org_a.pk, kind=AlertKind.OVERBOOKING, summary="a")
    alert_record(organization_id=org_a.pk, kind=AlertKind.OVERBOOKING, summary="b")
    alert_record(organization_id=org_b.pk, kind=AlertKind.CONNECTION, summary="c")
    broker, spy = dramatiq.get_broker(), EnqueueSpy()
    broker.add_middleware(spy)
    try:
        assert alerts_sweep() == 2
    finally:
        broker.middleware.remove(spy)
        broker.flush("alerts")
    assert sorted(spy.sent) == sorted([(org_a.pk, "overbooking"), (org_b.pk, "connection")])


def test_a_mail_stuck_in_sending_gives_its_alerts_back(org_a, recipients):
    alert_record(organization_id=org_a.pk, kind=AlertKind.OVERBOOKING, summary="stuck")
    claimed_at = timezone.now() - SENDING_GIVEN_UP_AFTER - dt.timedelta(minutes=1)
    stuck = AlertMail.objects.create(
        organization=org_a, kind=AlertKind.OVERBOOKING, created_at=claimed_at, subject="stuck"
    )
    Alert.objects.update(mail=stuck, created_at=claimed_at)
    alerts_sweep()
    assert AlertMail.objects.get(pk=stuck.pk).status == AlertMail.Status.FAILED
    sent = alert_mail_send(organization_id=org_a.pk, kind=AlertKind.OVERBOOKING)
    assert sent.status == AlertMail.Status.SENT and Alert.objects.get().mail == sent
