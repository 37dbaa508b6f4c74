"""An iCal feed's URL is its owner's secret: it never appears in an API response, a DEBUG log line, a
sync log, an admin page or a plain dump of the database, whether its token sits in the query
(Airbnb, Booking.com) or in the path (Vrbo)."""

from __future__ import annotations

import importlib
import logging

import pytest
import requests
import responses

from adapters import http
from adapters.base import PlatformAPIError
from channelmgr.accounts import redact, secrets_of
from channelmgr.inbound.tasks import poll_connection
from channelmgr.models import ChannelConnection, SyncLog
from tests.channelmgr.test_credentials_at_rest import _dump_database

pytestmark = pytest.mark.django_db

QUERY_TOKEN = "Qt9kX2mP7rL4vN8wB3cZ6yH1"
PATH_TOKEN = "0f8fa1c2b3d44e5fa6b7c8d9e0f1a2b3"
NEW_TOKEN = "Nw5hJ8kQ2pR6tV9xZ3bD7fG1"
FEED_A = f"https://feeds.example.test/calendar/ical/48213577.ics?s={QUERY_TOKEN}&locale=de"
FEED_B = f"https://feeds.example.test/icalendar/{PATH_TOKEN}.ics"
FEED_NEW = f"https://feeds.example.test/calendar/ical/48213578.ics?s={NEW_TOKEN}"
SECRETS = [QUERY_TOKEN, PATH_TOKEN, NEW_TOKEN]
FEED = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN\r\n"
    "BEGIN:VEVENT\r\nDTSTAMP:20270601T120000Z\r\nDTSTART;VALUE=DATE:20270701\r\nDTEND;VALUE=DATE:20270704\r\n"
    "SUMMARY:Reserved\r\nUID:a1@airbnb.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _poll(connection) -> None:
    """One poll as the worker runs it; a failed fetch raises for dramatiq's retry, after recording it."""
    try:
        poll_connection.fn(connection.pk)
    except PlatformAPIError:
        pass


@pytest.fixture
def staff(client, org_a):
    from pms_core.models import User

    client.force_login(User.objects.create_superuser("staff", password="staff-pass-123", organization=org_a))
    return client


@responses.activate
def test_no_feed_url_appears_in_any_response_log_line_sync_log_admin_page_or_dump(
    alice_api, staff, unit, villa, caplog, settings
):
    from pms_core.models import Unit

    settings.ALLOW_PRIVATE_NETWORK_FETCH = True  # no DNS in tests; the fetch is faked below
    caplog.set_level(logging.DEBUG)
    other = Unit.objects.create(property=villa, name="Studio", base_price="80.00")
    # A readable feed, a feed that fails (its error names the URL, as requests' errors do), a 404.
    responses.get(FEED_A.split("?")[0], body=FEED, content_type="text/calendar")
    responses.get(FEED_B, body=requests.ConnectionError(f"Max retries exceeded with url: {FEED_B}"))
    responses.get(FEED_NEW.split("?")[0], status=404)

    answers = [
        alice_api.post(
            "/channel-connections",
            {"unit": unit.pk, "platform_type": "ical", "platform_listing_id": "airbnb-cal", "feed_url": FEED_A},
            format="json",
        ),
        alice_api.post(
            "/channel-connections",
            {"unit": other.pk, "platform_type": "ical", "platform_listing_id": "vrbo-cal", "feed_url": FEED_B},
            format="json",
        ),
        # Bad input echoes field errors: the URL must not come back in them.
        alice_api.post(
            "/channel-connections",
            {
                "unit": other.pk,
                "platform_type": "ical",
                "platform_listing_id": "x",
                "feed_url": f"ftp://feeds.example.test/{PATH_TOKEN}",
                "platform_metadata": {"feed_url": FEED_A},
            },
            format="json",
        ),
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 400]
    first, second = (ChannelConnection.objects.get(pk=answer.json()["id"]) for answer in answers[:2])
    assert (first.feed_url, second.feed_url) == (FEED_A, FEED_B)
    assert answers[0].json()["credentials_set"]["feed_url"] is True

    for connection in (first, second):
        url = f"/channel-connections/{connection.pk}"
        answers += [
            alice_api.get(url),
            alice_api.post(f"{url}/test"),
            alice_api.post(f"{url}/sync", {"sync_type": "bookings"}, format="json"),
            alice_api.get(f"{url}/sync-logs"),
            staff.get(f"/admin/channelmgr/channelconnection/{connection.pk}/change/"),
        ]
        _poll(connection)  # the poll the scheduler runs: its sync log and log lines
    answers.append(alice_api.patch(f"/channel-connections/{first.pk}", {"feed_url": FEED_NEW}, format="json"))
    _poll(first)  # the new URL answers 404: a permanent error on the connection
    answers += [
        alice_api.get("/channel-connections"),
        alice_api.get(f"/channel-connections/{first.pk}"),
        alice_api.get(f"/channel-connections/{first.pk}/sync-logs"),
        staff.get("/admin/channelmgr/channelconnection/"),
        staff.get(f"/admin/channelmgr/channelconnection/{first.pk}/change/"),
        staff.get("/admin/channelmgr/synclog/"),
        *(staff.get(f"/admin/channelmgr/synclog/{pk}/change/") for pk in SyncLog.objects.values_list("pk", flat=True)),
        staff.post(
            "/admin/channelmgr/channelconnection/",
            {"action": "test_connections", "_selected_action": [first.pk, second.pk]},
            follow=True,
        ),
        alice_api.get("/api/schema/"),
    ]
    assert all(answer.status_code < 500 for answer in answers), [a.status_code for a in answers]
    assert ChannelConnection.objects.get(pk=first.pk).feed_url == FEED_NEW
    assert SyncLog.objects.filter(connection=second).exclude(error="").exists()  # the failure was recorded
    assert any("feeds.example.test" in record.getMessage() for record in caplog.records)  # fetches were logged

    captured = [answer.content.decode() for answer in answers]
    captured += [record.getMessage() for record in caplog.records]
    captured += [repr(row) for row in SyncLog.objects.values()]
    captured += [repr(row) for row in ChannelConnection.objects.values("last_error", "platform_metadata")]
    captured.append(_dump_database())
    everything = "\n".join(captured)
    for secret in SECRETS:
        assert secret not in everything, f"{secret} leaked"


def test_existing_feed_urls_move_from_the_metadata_into_the_encrypted_credential(org_a, unit):
    """The data migration's step, on a row as it was before it (the URL in the metadata)."""
    from django.apps import apps

    migration = importlib.import_module("channelmgr.migrations.0009_ical_feed_url_credential")
    old = ChannelConnection.objects.create(organization=org_a, unit=unit, platform_type="ical")
    ChannelConnection.objects.filter(pk=old.pk).update(platform_metadata={"feed_url": FEED_B, "poll_seconds": 60})
    migration.metadata_to_credential(apps, None)
    moved = ChannelConnection.objects.get(pk=old.pk)
    assert moved.feed_url == FEED_B and moved.platform_metadata == {"poll_seconds": 60}
    assert PATH_TOKEN not in _dump_database()
    migration.credential_to_metadata(apps, None)  # and back, for a rollback
    assert ChannelConnection.objects.get(pk=old.pk).platform_metadata["feed_url"] == FEED_B


def test_redaction_covers_every_part_of_a_feed_url_a_message_could_quote(org_a, unit):
    connection = ChannelConnection(organization=org_a, unit=unit, platform_type="ical", feed_url=FEED_A)
    for quoted in (FEED_A, f"/calendar/ical/48213577.ics?s={QUERY_TOKEN}&locale=de", f"token {QUERY_TOKEN}"):
        assert QUERY_TOKEN not in redact(f"GET {quoted} failed", secrets_of(connection))
    connection.feed_url = FEED_B
    assert PATH_TOKEN not in redact(f'"GET /icalendar/{PATH_TOKEN}.ics HTTP/1.1" 404', secrets_of(connection))


def test_a_platform_call_log_line_masks_a_token_in_the_path_and_keeps_ordinary_segments():
    assert http._public_url(FEED_B) == "https://feeds.example.test/icalendar/[token].ics"
    assert http._public_url(FEED_A) == "https://feeds.example.test/calendar/ical/48213577.ics"


def test_a_malformed_feed_url_is_redacted_whole_and_the_sync_log_still_reads(alice_api, connection):
    """A platform that reads no feed keeps whatever feed_url it is sent; one urlsplit cannot parse (an
    unbalanced "[" host) must neither crash redaction (the sync log API, the worker recording an error)
    nor leak."""
    malformed = f"https://[feeds.example.test/icalendar/{PATH_TOKEN}.ics"
    assert (
        alice_api.patch(f"/channel-connections/{connection.pk}", {"feed_url": malformed}, format="json").status_code
        == 200
    )
    connection.refresh_from_db()
    assert PATH_TOKEN not in redact(f"GET {malformed} failed", secrets_of(connection))
    SyncLog.objects.create(
        connection=connection, direction="outbound", kind="pricing", status="failed", error=f"GET {malformed}: 500"
    )
    answer = alice_api.get(f"/channel-connections/{connection.pk}/sync-logs")
    assert answer.status_code == 200 and PATH_TOKEN not in answer.content.decode()
