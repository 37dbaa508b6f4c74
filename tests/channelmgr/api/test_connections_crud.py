import pytest

from channelmgr.models import ChannelConnection
from tests.channelmgr.api.conftest import SECRETS


def test_alice_connects_a_unit_and_sees_only_whether_each_credential_is_set(alice_api, unit):
    answer = alice_api.post(
        "/channel-connections",
        {"unit": unit.pk, "platform_type": "fewo_direkt", "platform_listing_id": "FW-1", "api_key": "k-123456"},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["credentials_set"] == {
        "access_token": False,
        "refresh_token": False,
        "api_key": True,
        "username": False,
        "password": False,
        "webhook_secret": False,
        "feed_url": False,
    }
    assert "api_key" not in body and "k-123456" not in answer.content.decode()
    assert body["status"] == "active" and body["property_id"] == unit.property_id
    assert ChannelConnection.objects.get(pk=body["id"]).api_key == "k-123456"


def test_bob_on_alices_team_sees_and_changes_her_connection(bob_api, connection):
    assert bob_api.get(f"/channel-connections/{connection.pk}").status_code == 200
    answer = bob_api.patch(f"/channel-connections/{connection.pk}", {"platform_listing_id": "AIR-200"}, format="json")
    assert answer.status_code == 200
    assert answer.json()["platform_listing_id"] == "AIR-200"


def test_every_endpoint_answers_with_and_without_a_trailing_slash(alice_api, connection):
    assert alice_api.get("/channel-connections").status_code == 200
    assert alice_api.get("/channel-connections/").status_code == 200
    assert alice_api.get(f"/channel-connections/{connection.pk}/").status_code == 200
    assert alice_api.get(f"/channel-connections/{connection.pk}/sync-logs/").status_code == 200


def test_the_list_is_paginated_and_filtered(alice_api, connection, unit, villa):
    from pms_core.models import Unit

    other = Unit.objects.create(property=villa, name="Studio", base_price="80.00")
    alice_api.post(
        "/channel-connections",
        {"unit": other.pk, "platform_type": "fewo_direkt", "platform_listing_id": "FW-2"},
        format="json",
    )
    everything = alice_api.get("/channel-connections").json()
    assert everything["count"] == 2 and {"next", "previous", "results"} <= set(everything)
    by_unit = alice_api.get(f"/channel-connections?unit={unit.pk}").json()["results"]
    assert [c["platform_listing_id"] for c in by_unit] == ["AIR-100"]
    assert alice_api.get("/channel-connections?platform_type=fewo_direkt").json()["count"] == 1
    assert alice_api.get(f"/channel-connections?property_id={villa.pk}").json()["count"] == 2
    assert alice_api.get("/channel-connections?status=paused").json()["count"] == 0


def test_a_credential_left_out_of_an_update_is_kept_and_an_empty_one_is_cleared(alice_api, connection):
    answer = alice_api.put(
        f"/channel-connections/{connection.pk}",
        {"platform_listing_id": "AIR-100", "access_token": "new-token-abcdef", "webhook_secret": ""},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    connection.refresh_from_db()
    assert connection.access_token == "new-token-abcdef"
    assert connection.webhook_secret == ""
    assert connection.api_key == SECRETS["api_key"]
    assert answer.json()["credentials_set"]["webhook_secret"] is False


def test_delete_is_soft_and_hides_the_connection(alice_api, connection):
    assert alice_api.delete(f"/channel-connections/{connection.pk}").status_code == 204
    connection.refresh_from_db()
    assert connection.status == "deleted"
    assert alice_api.get(f"/channel-connections/{connection.pk}").status_code == 404
    assert alice_api.get("/channel-connections").json()["count"] == 0
    assert alice_api.delete(f"/channel-connections/{connection.pk}").status_code == 404


def test_a_deleted_connection_frees_the_unit_for_a_new_one(alice_api, connection, unit):
    alice_api.delete(f"/channel-connections/{connection.pk}")
    answer = alice_api.post(
        "/channel-connections",
        {"unit": unit.pk, "platform_type": "airbnb", "platform_listing_id": "AIR-100"},
        format="json",
    )
    assert answer.status_code == 201


def test_pause_and_resume_change_the_status(alice_api, connection):
    paused = alice_api.post(f"/channel-connections/{connection.pk}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert alice_api.post(f"/channel-connections/{connection.pk}/pause").json()["status"] == "paused"
    resumed = alice_api.post(f"/channel-connections/{connection.pk}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    # Changes made while it was paused never reached the platform: resuming queues a full sync.
    kinds = set(connection.sync_logs.filter(details__requested="full").values_list("kind", flat=True))
    assert kinds == {"availability", "pricing", "bookings"}


def test_resume_brings_back_a_connection_that_needed_attention(alice_api, connection):
    connection.status, connection.last_error = "needs_attention", "HTTP 401: invalid_token"
    connection.save()
    resumed = alice_api.post(f"/channel-connections/{connection.pk}/resume")
    assert resumed.json()["status"] == "active"
    connection.refresh_from_db()
    assert connection.last_error == ""


@pytest.mark.parametrize("path", ["/channel-connections", "/properties", "/units", "/bookings"])
def test_anonymous_callers_get_401_in_the_error_shape(client, path, db):
    answer = client.get(path)
    assert answer.status_code == 401
    assert answer.json()["error"] == "not_authenticated"


def test_a_user_without_organization_sees_nothing(api_for, connection, db):
    from pms_core.models import User

    loner = User.objects.create_user("loner", password="x-pass-123")
    api = api_for(loner)
    assert api.get("/channel-connections").json()["count"] == 0
    assert api.get(f"/channel-connections/{connection.pk}").status_code == 404
    assert api.get("/units").json()["count"] == 0
