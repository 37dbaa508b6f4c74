"""Bad input gets 400 with field errors, and nothing is written."""

import pytest

from channelmgr.models import ChannelConnection, SyncLog


def _create(api, **body):
    return api.post("/channel-connections", body, format="json")


def _assert_rejected(answer, field):
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["error"] == "invalid"
    assert field in body["fields"], body


def test_an_unknown_platform_type_is_refused(alice_api, unit):
    _assert_rejected(
        _create(alice_api, unit=unit.pk, platform_type="myspace", platform_listing_id="X"), "platform_type"
    )
    assert not ChannelConnection.objects.exists()


def test_a_missing_listing_id_is_refused(alice_api, unit):
    _assert_rejected(_create(alice_api, unit=unit.pk, platform_type="airbnb"), "platform_listing_id")
    assert not ChannelConnection.objects.exists()


def test_a_unit_of_another_organization_is_refused(charlie_api, unit):
    _assert_rejected(_create(charlie_api, unit=unit.pk, platform_type="airbnb", platform_listing_id="X"), "unit")
    assert not ChannelConnection.objects.exists()


def test_a_second_live_connection_for_the_same_unit_and_platform_is_refused(alice_api, connection, unit):
    answer = _create(alice_api, unit=unit.pk, platform_type="airbnb", platform_listing_id="AIR-999")
    _assert_rejected(answer, "platform_type")
    assert ChannelConnection.objects.count() == 1


def test_a_listing_already_connected_elsewhere_is_refused(alice_api, connection, villa):
    from pms_core.models import Unit

    other = Unit.objects.create(property=villa, name="Studio", base_price="80.00")
    _assert_rejected(
        _create(alice_api, unit=other.pk, platform_type="airbnb", platform_listing_id="AIR-100"), "platform_listing_id"
    )
    assert ChannelConnection.objects.count() == 1


def test_an_ical_connection_needs_an_http_feed_url(alice_api, unit):
    answer = _create(
        alice_api,
        unit=unit.pk,
        platform_type="ical",
        platform_listing_id="feed",
        feed_url="file:///etc/passwd",
    )
    _assert_rejected(answer, "feed_url")
    assert not ChannelConnection.objects.exists()


def test_a_feed_url_in_the_metadata_is_refused_it_is_a_credential(alice_api, unit):
    answer = _create(
        alice_api,
        unit=unit.pk,
        platform_type="ical",
        platform_listing_id="feed",
        feed_url="https://feeds.example.test/cal.ics",
        platform_metadata={"feed_url": "https://feeds.example.test/cal.ics"},
    )
    _assert_rejected(answer, "platform_metadata")
    assert not ChannelConnection.objects.exists()


def test_metadata_that_postgres_cannot_store_is_a_400(alice_api, unit):
    answer = _create(
        alice_api, unit=unit.pk, platform_type="airbnb", platform_listing_id="A", platform_metadata={"x": "a\x00b"}
    )
    _assert_rejected(answer, "platform_metadata")


@pytest.mark.parametrize("body", [b'{"unit": 1, "platform_type": ', b"not json", b"[1, 2]"])
def test_malformed_json_is_a_400_and_writes_nothing(alice_api, unit, body):
    answer = alice_api.generic("POST", "/channel-connections", body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["error"] in ("parse_error", "invalid")
    assert not ChannelConnection.objects.exists()


@pytest.mark.parametrize("sync_type", ["everything", "", None, 7])
def test_an_invalid_sync_type_is_refused_and_starts_nothing(alice_api, connection, sync_type):
    answer = alice_api.post(f"/channel-connections/{connection.pk}/sync", {"sync_type": sync_type}, format="json")
    _assert_rejected(answer, "sync_type")
    assert not SyncLog.objects.exists()


def test_a_huge_id_is_a_404_not_a_server_error(alice_api, connection):
    assert alice_api.get("/channel-connections/99999999999999999999999").status_code == 404
    assert alice_api.get("/channel-connections/abc").status_code == 404
    answer = _create(alice_api, unit=10**30, platform_type="airbnb", platform_listing_id="X")
    _assert_rejected(answer, "unit")


def test_unit_and_platform_cannot_be_changed_by_an_update(alice_api, connection, villa):
    answer = alice_api.patch(f"/channel-connections/{connection.pk}", {"platform_type": "google"}, format="json")
    _assert_rejected(answer, "platform_type")
    connection.refresh_from_db()
    assert connection.platform_type == "airbnb"


@pytest.mark.parametrize("feed_url", ["https://[::1/cal.ics", "https://[feeds.example.test]/cal.ics"])
def test_a_malformed_feed_url_is_a_400_not_a_crash(alice_api, unit, feed_url):
    answer = _create(alice_api, unit=unit.pk, platform_type="ical", platform_listing_id="feed", feed_url=feed_url)
    _assert_rejected(answer, "feed_url")
    assert not ChannelConnection.objects.exists()
