"""``GET /inbound-events``: read-only webhook deliveries for support staff, filtered by platform, status
and time, scoped to the staff user's organization, with no secret in what it shows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from channelmgr.models import InboundEvent
from tests.channelmgr.api.conftest import SECRETS

T0 = timezone.make_aware(dt.datetime(2027, 3, 1, 12, 0))


def _event(key, *, platform="airbnb", connection=None, status="processed", minutes=0, payload=None, error=""):
    event = InboundEvent.objects.create(
        platform=platform,
        event_key=key,
        connection=connection,
        kind="booking_created",
        status=status,
        error=error,
        payload=payload or {"platform": platform, "event_key": key},
    )
    InboundEvent.objects.filter(pk=event.pk).update(received_at=T0 + dt.timedelta(minutes=minutes))
    return event


@pytest.fixture
def staff_api(api_for, org_a):
    from pms_core.models import User

    return api_for(User.objects.create_user("dora", password="dora-pass-123", organization=org_a, is_staff=True))


def _keys(answer):
    assert answer.status_code == 200, answer.content
    return [event["event_key"] for event in answer.json()["results"]]


def test_staff_see_their_organizations_events_newest_first_and_superusers_see_all(
    staff_api, api_for, connection, org_b
):
    from pms_core.models import User

    _event("a-1", connection=connection, minutes=1)
    _event("a-2", connection=connection, minutes=2)
    _event("unclaimed", minutes=3)  # no connection for its listing
    assert _keys(staff_api.get("/inbound-events")) == ["a-2", "a-1"]

    other_staff = api_for(User.objects.create_user("erin", password="erin-pass-123", organization=org_b, is_staff=True))
    assert _keys(other_staff.get("/inbound-events")) == []
    root = api_for(User.objects.create_superuser("root", password="root-pass-123"))
    assert _keys(root.get("/inbound-events")) == ["unclaimed", "a-2", "a-1"]


def test_users_who_are_not_staff_get_a_403(alice_api, connection):
    _event("a-1", connection=connection)
    answer = alice_api.get("/inbound-events")
    assert answer.status_code == 403 and answer.json()["error"] == "permission_denied"


def test_events_are_filtered_by_platform_status_and_a_half_open_time_range(staff_api, connection, org_a, unit):
    from channelmgr.services.connections import connection_create

    fewo = connection_create(organization=org_a, unit=unit, platform_type="fewo_direkt", platform_listing_id="FW-9")
    _event("air-ok", connection=connection, minutes=0)
    _event("air-failed", connection=connection, status="failed", minutes=10)
    _event("fewo-ok", platform="fewo_direkt", connection=fewo, minutes=20)

    assert _keys(staff_api.get("/inbound-events?platform=fewo_direkt")) == ["fewo-ok"]
    assert _keys(staff_api.get("/inbound-events?status=failed")) == ["air-failed"]
    start, end = (T0 + dt.timedelta(minutes=10)).isoformat(), (T0 + dt.timedelta(minutes=20)).isoformat()
    assert _keys(staff_api.get("/inbound-events", {"start": start, "end": end})) == ["air-failed"]
    assert _keys(staff_api.get("/inbound-events?page_size=1"))[0] == "fewo-ok"


@pytest.mark.parametrize(
    "query", ["platform=nope", "status=lost", "start=yesterday", "end=2027-13-01", "page_size=501"]
)
def test_a_bad_filter_is_a_400_naming_it(staff_api, query):
    answer = staff_api.get(f"/inbound-events?{query}")
    assert answer.status_code == 400
    assert query.split("=")[0] in answer.json()["fields"]


def test_no_secret_of_the_connection_or_the_platform_is_shown(staff_api, connection, monkeypatch):
    from django.conf import settings

    platform_secret = "SECRET-platform-hook-5u7w9y"
    monkeypatch.setitem(settings.PLATFORMS["airbnb"], "webhook_secrets", [platform_secret])
    payload = {
        "platform": "airbnb",
        "listing_id": "AIR-100",
        "booking": {"guest": {"name": SECRETS["access_token"], "email": f"x{SECRETS['password']}@example.com"}},
        "headers": {"X-Airbnb-Signature": "sha256=abcdef", "Authorization": "Bearer whatever-it-is"},
        "notes": [f"echo {platform_secret}", {"api_key": "anything"}],
    }
    _event("leaky", connection=connection, payload=payload, error=f"platform said {SECRETS['refresh_token']}")

    answer = staff_api.get("/inbound-events")
    text = answer.content.decode()
    for secret in [*SECRETS.values(), platform_secret, "sha256=abcdef", "whatever-it-is", "anything"]:
        assert secret not in text, f"{secret} leaked"
    (event,) = answer.json()["results"]
    assert event["payload"]["listing_id"] == "AIR-100"  # the rest is shown as stored
    assert event["payload"]["headers"] == {"X-Airbnb-Signature": "[redacted]", "Authorization": "[redacted]"}
    assert event["error"] == "platform said [redacted]"


def test_the_admin_shows_an_event_redacted_as_the_api_does(client, admin_user, connection, monkeypatch):
    """The admin's read-only event page showed the stored payload and error as they were."""
    from django.conf import settings

    platform_secret = "SECRET-platform-hook-5u7w9y"
    monkeypatch.setitem(settings.PLATFORMS["airbnb"], "webhook_secrets", [platform_secret])
    payload = {
        "listing_id": "AIR-100",
        "booking": {"guest": {"name": SECRETS["access_token"]}},
        "headers": {"Authorization": "Bearer whatever-it-is"},
        "notes": [f"echo {platform_secret}"],
    }
    event = _event("leaky-admin", connection=connection, payload=payload, error=f"said {SECRETS['refresh_token']}")
    client.force_login(admin_user)
    page = client.get(f"/admin/channelmgr/inboundevent/{event.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    for secret in [SECRETS["access_token"], SECRETS["refresh_token"], platform_secret, "whatever-it-is"]:
        assert secret not in text, f"{secret} leaked"
    assert "AIR-100" in text
