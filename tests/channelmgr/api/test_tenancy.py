"""BOLA matrix: charlie (another tenant) gets 404 on every id-bearing endpoint of alice's connection,
and nothing changes; bob (alice's team) gets through."""

import pytest

from channelmgr.models import ChannelConnection, SyncLog

ENDPOINTS = [
    ("get", "/channel-connections/{id}", None),
    ("put", "/channel-connections/{id}", {"platform_listing_id": "STOLEN"}),
    ("patch", "/channel-connections/{id}", {"platform_listing_id": "STOLEN"}),
    ("delete", "/channel-connections/{id}", None),
    ("post", "/channel-connections/{id}/test", None),
    ("post", "/channel-connections/{id}/sync", {"sync_type": "full"}),
    ("get", "/channel-connections/{id}/sync-logs", None),
    ("post", "/channel-connections/{id}/pause", None),
    ("post", "/channel-connections/{id}/resume", None),
    ("get", "/channel-connections/{id}/oauth/start", None),
    ("get", "/units/{unit}/ical-export", None),
]


def _call(api, method, path, body, connection):
    url = path.format(id=connection.pk, unit=connection.unit_id)
    return getattr(api, method)(url, body, format="json") if body else getattr(api, method)(url)


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_charlie_gets_404_on_alices_connection(charlie_api, connection, method, path, body):
    before = ChannelConnection.objects.filter(pk=connection.pk).values().get()
    answer = _call(charlie_api, method, path, body, connection)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    assert "AIR-100" not in answer.content.decode()
    assert ChannelConnection.objects.filter(pk=connection.pk).values().get() == before
    assert not SyncLog.objects.exists()


def test_charlie_does_not_see_alices_connection_in_lists(charlie_api, connection):
    assert charlie_api.get("/channel-connections").json()["count"] == 0
    assert charlie_api.get(f"/channel-connections?unit={connection.unit_id}").json()["count"] == 0


def test_charlie_cannot_connect_alices_unit(charlie_api, unit):
    body = {"unit": unit.pk, "platform_type": "fewo_direkt", "platform_listing_id": "FW-9"}
    assert charlie_api.post("/channel-connections", body, format="json").status_code == 400
    assert not ChannelConnection.objects.exists()


@pytest.mark.parametrize(
    "method,path,body",
    [e for e in ENDPOINTS if e[0] in ("get", "patch") or e[1].endswith(("pause", "resume"))],
)
def test_bob_on_alices_team_gets_through(bob_api, connection, method, path, body):
    answer = _call(bob_api, method, path, body, connection)
    assert answer.status_code in (200, 302)
