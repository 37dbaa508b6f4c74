"""Each organization chooses its recipients in the admin; staff see and change only their own
organization's recipients, alerts and mails (alice's team, never charlie's)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from alerts.models import Alert, AlertKind, AlertMail, AlertRecipient

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_staff(client, alice):
    alice.is_staff = True
    alice.save()
    alice.user_permissions.set(Permission.objects.filter(content_type__app_label="alerts"))
    client.force_login(alice)
    return client


@pytest.fixture
def charlies_records(org_b):
    alert_mail = AlertMail.objects.create(
        organization=org_b, kind=AlertKind.CONNECTION, created_at="2027-07-01T08:00Z", subject="charlie's mail"
    )
    alert = Alert.objects.create(
        organization=org_b, kind=AlertKind.CONNECTION, summary="charlie's alert", created_at="2027-07-01T08:00Z",
        mail=alert_mail,
    )  # fmt: skip
    return alert, alert_mail


def test_staff_list_only_their_own_recipients_alerts_and_mails(alice_staff, recipients, charlies_records):
    page = alice_staff.get("/admin/alerts/alertrecipient/")
    assert page.status_code == 200
    assert "ops@alice.example" in page.content.decode() and "ops@charlie.example" not in page.content.decode()
    for path in ("/admin/alerts/alert/", "/admin/alerts/alertmail/"):
        page = alice_staff.get(path)
        assert page.status_code == 200 and "charlie" not in page.content.decode(), path


def test_staff_reach_nothing_of_another_organization(alice_staff, recipients, charlies_records):
    _, charlies_recipient = recipients
    alert, alert_mail = charlies_records
    for path in (
        f"/admin/alerts/alertrecipient/{charlies_recipient.pk}/change/",
        f"/admin/alerts/alertrecipient/{charlies_recipient.pk}/delete/",
        f"/admin/alerts/alert/{alert.pk}/change/",
        f"/admin/alerts/alertmail/{alert_mail.pk}/change/",
    ):
        answer = alice_staff.get(path)
        assert answer.status_code in (302, 404), path  # the admin sends a missing object back to the index
        assert "charlie" not in answer.content.decode(), path


def test_staff_add_a_recipient_to_their_own_organization_only(alice_staff, org_a, org_b):
    form = alice_staff.get("/admin/alerts/alertrecipient/add/").content.decode()
    assert f'value="{org_a.pk}" selected' in form and f'value="{org_b.pk}"' not in form
    fields = {"email": "night-desk@alice.example", "is_active": "on", "overbookings": "on", "connections": "on"}
    refused = alice_staff.post("/admin/alerts/alertrecipient/add/", {**fields, "organization": org_b.pk})
    assert refused.status_code == 200 and not AlertRecipient.objects.exists()
    added = alice_staff.post("/admin/alerts/alertrecipient/add/", {**fields, "organization": org_a.pk})
    assert added.status_code == 302
    recipient = AlertRecipient.objects.get()
    assert (recipient.organization, recipient.unacknowledged) == (org_a, False)


def test_the_same_address_twice_is_a_form_error_not_a_crash(alice_staff, recipients, org_a):
    answer = alice_staff.post(
        "/admin/alerts/alertrecipient/add/", {"organization": org_a.pk, "email": "ops@alice.example"}
    )
    assert answer.status_code == 200 and "already exists" in answer.content.decode()
    assert AlertRecipient.objects.filter(organization=org_a).count() == 1
