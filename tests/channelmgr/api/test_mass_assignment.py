"""Organization, status (outside pause/resume), health fields, ids and sync bookkeeping can't be set."""

import pytest

from channelmgr.models import ChannelConnection

REFUSED = {
    "organization": None,
    "status": "paused",
    "healthy": True,
    "last_health_check_at": "2027-01-01T00:00:00Z",
    "last_error": "",
    "last_sync_at": "2027-01-01T00:00:00Z",
    "id": 4242,
    "sync_cursor": "x",
    "last_push_at": "2027-01-01T00:00:00Z",
    "created_at": "2020-01-01T00:00:00Z",
}


@pytest.mark.parametrize("field", sorted(REFUSED))
def test_a_create_that_sets_a_protected_field_is_refused(alice_api, unit, org_b, field):
    value = org_b.pk if field == "organization" else REFUSED[field]
    body = {"unit": unit.pk, "platform_type": "airbnb", "platform_listing_id": "AIR-1", field: value}
    answer = alice_api.post("/channel-connections", body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    assert not ChannelConnection.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("field", sorted(REFUSED))
def test_an_update_that_sets_a_protected_field_is_refused(alice_api, connection, org_b, field, method):
    value = org_b.pk if field == "organization" else REFUSED[field]
    before = ChannelConnection.objects.filter(pk=connection.pk).values().get()
    body = {"platform_listing_id": "AIR-100", field: value}
    answer = getattr(alice_api, method)(f"/channel-connections/{connection.pk}", body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    assert ChannelConnection.objects.filter(pk=connection.pk).values().get() == before


def test_a_booking_cannot_be_created_with_a_platform_source_or_status(alice_api, unit, day):
    body = {
        "unit": unit.pk,
        "check_in": str(day(1)),
        "check_out": str(day(3)),
        "source": "airbnb",
        "status": "overbooked",
    }
    answer = alice_api.post("/bookings", body, format="json")
    assert answer.status_code == 400
    assert {"source", "status"} <= set(answer.json()["fields"])


def test_a_unit_cannot_be_moved_to_another_organizations_property(alice_api, unit, other_unit):
    answer = alice_api.patch(f"/units/{unit.pk}", {"property": other_unit.property_id}, format="json")
    assert answer.status_code == 400
    unit.refresh_from_db()
    assert unit.property.organization.name == "Alice Holiday Homes"
