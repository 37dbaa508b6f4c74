"""A subscription the system disabled (deliveries kept failing for 24 h) is told to its organization on
the staff home, with a link to fix it, and to no other organization."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from integrations.models import WebhookSubscription
from integrations.subscriptions import subscription_create
from pms_core.models import User

pytestmark = pytest.mark.django_db


def _staff(name, org):
    user = User.objects.create_user(name, password=f"pw-{name}-1", organization=org, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def test_a_disabled_subscription_is_a_notice_on_its_organizations_home_only(client, org_a, org_b, public_dns):
    subscription, _secret = subscription_create(
        organization_id=org_a.pk, url="https://pms.example.test/hooks", event_types=["booking.created"]
    )
    client.force_login(_staff("alice-staff", org_a))
    assert 'id="notices"' not in client.get("/admin/").content.decode()  # nothing to tell yet

    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        active=False, disabled_at=timezone.now(), disabled_reason="deliveries failed for 24 h; last: HTTP 503"
    )
    page = client.get("/admin/").content.decode()
    assert 'id="notices"' in page and "pms.example.test/hooks" in page and "HTTP 503" in page
    assert f"/admin/integrations/webhooksubscription/{subscription.pk}/change/" in page
    assert client.get("/admin/home.json").json()["counts"]["notices"] == 1

    client.force_login(_staff("charlie-staff", org_b))
    assert "pms.example.test" not in client.get("/admin/").content.decode()
    assert client.get("/admin/home.json").json()["counts"]["notices"] == 0
