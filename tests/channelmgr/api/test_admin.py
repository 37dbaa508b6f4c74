"""The staff admin: connection list filters, credentials shown as set/not set, actions through services."""

from __future__ import annotations

import pytest
import responses
from django.conf import settings

from channelmgr.models import ChannelConnection, SyncLog
from tests.channelmgr.api.conftest import SECRETS


@pytest.fixture
def staff_client(client, org_a):
    from pms_core.models import User

    client.force_login(User.objects.create_superuser("staff", password="staff-pass-123", organization=org_a))
    return client


def test_the_change_page_shows_whether_credentials_are_set_never_their_values(staff_client, connection):
    SyncLog.objects.create(connection=connection, direction="outbound", kind="pricing", error="boom at the platform")
    page = staff_client.get(f"/admin/channelmgr/channelconnection/{connection.pk}/change/").content.decode()
    assert "access token: set" in page and "boom at the platform" in page
    assert all(secret not in page for secret in SECRETS.values())


@pytest.mark.parametrize(
    "query", ["", "?platform_type__exact=airbnb", "?status__exact=active", "?healthy__isnull=True"]
)
def test_the_list_filters_by_platform_status_and_health(staff_client, connection, query):
    page = staff_client.get(f"/admin/channelmgr/channelconnection/{query}")
    assert page.status_code == 200
    assert "AIR-100" in page.content.decode()


def _change_form(connection, **extra) -> dict:
    form = {
        "unit": connection.unit_id,
        "platform_type": connection.platform_type,
        "platform_listing_id": connection.platform_listing_id,
        "platform_metadata": "{}",
        "sync_logs-TOTAL_FORMS": "0",
        "sync_logs-INITIAL_FORMS": "0",
        "sync_logs-MIN_NUM_FORMS": "0",
        "sync_logs-MAX_NUM_FORMS": "0",
    }
    return {**form, **extra}


def test_a_blank_credential_field_keeps_the_value_and_a_filled_one_replaces_it(staff_client, connection):
    answer = staff_client.post(
        f"/admin/channelmgr/channelconnection/{connection.pk}/change/",
        _change_form(connection, new_api_key="replaced-key-123", clear_webhook_secret="on"),
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    connection.refresh_from_db()
    assert connection.api_key == "replaced-key-123"
    assert connection.access_token == SECRETS["access_token"]
    assert connection.webhook_secret == ""


def _action(staff_client, action, connection):
    return staff_client.post(
        "/admin/channelmgr/channelconnection/", {"action": action, "_selected_action": [connection.pk]}, follow=True
    )


def test_the_pause_and_resume_actions(staff_client, connection):
    _action(staff_client, "pause", connection)
    connection.refresh_from_db()
    assert connection.status == "paused"
    _action(staff_client, "resume", connection)
    connection.refresh_from_db()
    assert connection.status == "active"


@responses.activate
def test_the_test_and_sync_actions_record_sync_logs(staff_client, connection):
    responses.get(f"{settings.PLATFORMS['airbnb']['base_url']}/v2/users/me", json={"user": {"id": 1}})
    page = _action(staff_client, "test_connections", connection).content.decode()
    assert "healthy" in page
    _action(staff_client, "sync_now", connection)
    kinds = set(SyncLog.objects.filter(connection=connection).values_list("kind", flat=True))
    assert "health" in kinds and len(kinds) > 1


def test_the_booking_admin_highlights_overbookings_and_filters(staff_client, unit, day):
    from pms_core.services import booking_create

    first = booking_create(unit=unit, check_in=day(1), check_out=day(4), source="airbnb", channel_booking_id="HM1")
    booking_create(
        unit=unit,
        check_in=day(2),
        check_out=day(5),
        source="booking_com",
        channel_booking_id="B1",
        overbook_on_clash=True,
    )
    page = staff_client.get("/admin/pms_core/booking/?status__exact=overbooked").content.decode()
    assert "OVERBOOKED" in page and f"clashes with #{first.pk}" in page
    assert staff_client.get("/admin/pms_core/booking/?q=HM1").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/admin/pms_core/organization/",
        "/admin/pms_core/user/",
        "/admin/pms_core/property/",
        "/admin/pms_core/unit/",
        "/admin/pms_core/calendarday/",
        "/admin/pms_core/booking/",
        "/admin/channelmgr/synclog/",
        "/admin/channelmgr/inboundevent/",
        "/admin/channelmgr/channelconnection/add/",
    ],
)
def test_every_admin_page_renders(staff_client, connection, path):
    assert staff_client.get(path).status_code == 200


def test_the_unit_page_shows_the_ical_export_url(staff_client, unit):
    page = staff_client.get(f"/admin/pms_core/unit/{unit.pk}/change/").content.decode()
    assert "/ical/" in page and ".ics" in page


def test_connections_admin_can_add_a_connection_for_a_unit(staff_client, unit):
    form = _change_form(
        ChannelConnection(unit=unit, platform_type="fewo_direkt", platform_listing_id="FW-7"), new_api_key="k-99999"
    )
    answer = staff_client.post("/admin/channelmgr/channelconnection/add/", form)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    created = ChannelConnection.objects.get(platform_listing_id="FW-7")
    assert created.organization_id == unit.property.organization_id and created.api_key == "k-99999"
