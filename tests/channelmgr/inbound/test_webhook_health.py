"""GET /webhooks/health: what arrived per platform in the last hour."""

import datetime as dt

import pytest
from django.utils import timezone

from channelmgr.models import InboundEvent


@pytest.mark.django_db
def test_it_counts_events_received_in_the_last_hour_per_platform(client):
    InboundEvent.objects.create(platform="airbnb", event_key="a1")
    InboundEvent.objects.create(platform="airbnb", event_key="a2")
    old = InboundEvent.objects.create(platform="google", event_key="g1")
    InboundEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(hours=3))

    response = client.get("/webhooks/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["platforms"]["airbnb"]["received_last_hour"] == 2
    assert body["platforms"]["google"]["received_last_hour"] == 0
    assert body["platforms"]["google"]["last_received_at"] is not None
    assert body["platforms"]["expedia"] == {"received_last_hour": 0, "last_received_at": None}
