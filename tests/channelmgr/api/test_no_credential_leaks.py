"""No response, log line or SyncLog contains a credential: store known secrets, exercise every
endpoint, and grep everything captured."""

from __future__ import annotations

import logging

import responses
from django.conf import settings

from channelmgr.models import SyncLog
from tests.channelmgr.api.conftest import SECRETS

NEW_SECRETS = {name: f"{value}-v2" for name, value in SECRETS.items()}


@responses.activate
def test_no_secret_appears_in_any_response_log_line_or_sync_log(
    alice_api, connection, unit, villa, org_a, client, caplog
):
    from pms_core.models import Unit, User

    caplog.set_level(logging.DEBUG)
    base = settings.PLATFORMS["airbnb"]["base_url"]
    # The platform echoes what it got, the worst case for an error message.
    responses.get(
        f"{base}/v2/users/me", status=401, json={"error": "invalid_token", "error_message": SECRETS["access_token"]}
    )
    other = Unit.objects.create(property=villa, name="Studio", base_price="80.00")
    staff = User.objects.create_superuser("staff", password="staff-pass-123", organization=org_a)
    client.force_login(staff)
    url = f"/channel-connections/{connection.pk}"

    answers = [
        alice_api.get("/channel-connections"),
        alice_api.get(url),
        alice_api.post(
            "/channel-connections",
            {"unit": other.pk, "platform_type": "fewo_direkt", "platform_listing_id": "FW-1", **NEW_SECRETS},
            format="json",
        ),
        alice_api.put(url, {"platform_listing_id": "AIR-100", **SECRETS}, format="json"),
        alice_api.patch(url, {"api_key": SECRETS["api_key"]}, format="json"),
        # Bad input echoes field errors: a secret must not come back in them.
        alice_api.post("/channel-connections", {"unit": other.pk, "platform_type": "nope", **SECRETS}, format="json"),
        alice_api.post(f"{url}/test"),
        alice_api.post(f"{url}/sync", {"sync_type": "full"}, format="json"),
        alice_api.get(f"{url}/sync-logs"),
        alice_api.post(f"{url}/pause"),
        alice_api.post(f"{url}/resume"),
        alice_api.get(f"{url}/oauth/start"),
        client.get("/admin/channelmgr/channelconnection/"),
        client.get(f"/admin/channelmgr/channelconnection/{connection.pk}/change/"),
        client.get("/admin/channelmgr/synclog/"),
        client.post(
            "/admin/channelmgr/channelconnection/",
            {"action": "test_connections", "_selected_action": [connection.pk]},
            follow=True,
        ),
        alice_api.get("/api/schema/"),
    ]
    assert all(answer.status_code < 500 for answer in answers)
    assert answers[6].json()["healthy"] is False

    captured = [answer.content.decode() for answer in answers]
    captured += [answer.get("Location", "") for answer in answers]
    captured += [record.getMessage() for record in caplog.records]
    captured += [repr(row) for row in SyncLog.objects.values()]
    everything = "\n".join(captured)
    assert SyncLog.objects.filter(kind="health").count() == 2
    for secret in [*SECRETS.values(), *NEW_SECRETS.values()]:
        assert secret not in everything, f"{secret} leaked"
