"""The admin: a subscription made there shows its secret once, in the message after saving; the
delivery log is read-only; staff see only their organization's subscriptions and deliveries."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.outbox import event_record
from integrations.subscriptions import subscription_create
from pms_core.models import User

pytestmark = pytest.mark.usefixtures("public_dns")


@pytest.fixture
def staff_of_a(org_a):
    user = User.objects.create_user("alice-staff", password="pw-alice-staff-1", organization=org_a, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="integrations"))
    return user


def test_a_subscription_made_in_the_admin_shows_its_secret_once(client, staff_of_a, org_a):
    client.force_login(staff_of_a)
    answer = client.post(
        "/admin/integrations/webhooksubscription/add/",
        {
            "organization": org_a.pk,
            "url": "https://hooks.example.test/admin",
            "event_types": ["booking.created", "sync.failed"],
            "active": "on",
            "description": "PMS",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    subscription = WebhookSubscription.objects.get()
    assert subscription.event_types == ["booking.created", "sync.failed"]
    shown = client.get(answer.url).content.decode()  # the page after saving shows the message
    assert shown.count(subscription.secret) == 1
    again = client.get(f"/admin/integrations/webhooksubscription/{subscription.pk}/change/").content.decode()
    assert subscription.secret not in again


def test_a_private_url_is_a_form_error(client, staff_of_a, org_a):
    client.force_login(staff_of_a)
    answer = client.post(
        "/admin/integrations/webhooksubscription/add/",
        {"organization": org_a.pk, "url": "http://10.0.0.8/x", "event_types": ["booking.created"]},
    )
    assert answer.status_code == 200 and "non-public address" in answer.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_staff_see_only_their_organizations_subscriptions_and_deliveries(client, staff_of_a, org_a, org_b):
    mine, _ = subscription_create(
        organization_id=org_a.pk, url="https://mine.example.test/", event_types=["sync.failed"]
    )
    theirs, _ = subscription_create(
        organization_id=org_b.pk, url="https://theirs.example.test/", event_types=["sync.failed"]
    )
    for subscription in (mine, theirs):
        event = event_record(organization_id=subscription.organization_id, event_type="sync.failed", data={})
        WebhookDelivery.objects.create(subscription=subscription, event=event, attempt=1, status_code=500)
    client.force_login(staff_of_a)
    listed = client.get("/admin/integrations/webhooksubscription/").content.decode()
    assert "mine.example.test" in listed and "theirs.example.test" not in listed
    deliveries = client.get("/admin/integrations/webhookdelivery/").content.decode()
    assert "mine.example.test" in deliveries and "theirs.example.test" not in deliveries
    theirs_delivery = WebhookDelivery.objects.get(subscription=theirs)
    assert client.get(f"/admin/integrations/webhookdelivery/{theirs_delivery.pk}/change/").status_code in (302, 404)


def test_the_delivery_log_is_read_only(client, staff_of_a, org_a):
    subscription, _ = subscription_create(
        organization_id=org_a.pk, url="https://mine.example.test/", event_types=["sync.failed"]
    )
    event = event_record(organization_id=org_a.pk, event_type="sync.failed", data={})
    delivery = WebhookDelivery.objects.create(subscription=subscription, event=event, attempt=1, status_code=500)
    client.force_login(staff_of_a)
    assert client.get("/admin/integrations/webhookdelivery/add/").status_code == 403
    client.post(f"/admin/integrations/webhookdelivery/{delivery.pk}/change/", {"status_code": 200})
    client.post(f"/admin/integrations/webhookdelivery/{delivery.pk}/delete/", {"post": "yes"})
    delivery.refresh_from_db()
    assert delivery.status_code == 500


@pytest.mark.django_db
def test_a_staff_user_who_may_only_view_cannot_rotate_a_secret(client, org_a):
    """Rotating changes the subscription and shows the new secret: it needs the change permission."""
    subscription, secret = subscription_create(
        organization_id=org_a.pk, url="https://hooks.example.test/view-only", event_types=["booking.created"]
    )
    viewer = User.objects.create_user("viewer", password="pw-viewer-123", organization=org_a, is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_webhooksubscription"))
    client.force_login(viewer)
    answer = client.post(
        "/admin/integrations/webhooksubscription/",
        {"action": "rotate_secret", "_selected_action": [subscription.pk], "index": 0},
        follow=True,
    )
    subscription.refresh_from_db()
    assert subscription.secret == secret and "New secret" not in answer.content.decode()
