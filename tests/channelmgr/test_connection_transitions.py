"""Every way into and out of "needs attention" tells the listeners (staff alerts, integrator webhooks)
exactly once: connection_needs_attention on the way in, connection_recovered on the way out."""

from __future__ import annotations

import pytest
import responses
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from adapters.base import TokenSet
from channelmgr.models import ChannelConnection
from channelmgr.services.connections import (
    connection_pause,
    connection_resume,
    connection_store_tokens,
    connection_test,
)
from channelmgr.services.connections_health import connection_mark_needs_attention, connection_recover
from channelmgr.signals import connection_needs_attention, connection_recovered

pytestmark = pytest.mark.django_db


@pytest.fixture
def told():
    heard = []

    def on_attention(sender, connection, reason, **kwargs):
        heard.append(("attention", connection.pk, connection.status))

    def on_recovered(sender, connection, **kwargs):
        heard.append(("recovered", connection.pk, connection.status))

    connection_needs_attention.connect(on_attention, dispatch_uid="test-attention")
    connection_recovered.connect(on_recovered, dispatch_uid="test-recovered")
    yield heard
    connection_needs_attention.disconnect(dispatch_uid="test-attention")
    connection_recovered.disconnect(dispatch_uid="test-recovered")


@pytest.fixture
def airbnb(unit):
    return ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="AIR-1",
        access_token="tok", refresh_token="ref",
    )  # fmt: skip


def _flag(connection):
    connection_mark_needs_attention(connection_id=connection.pk, error="401 invalid token")
    connection.refresh_from_db()


def test_resuming_tells_that_the_connection_recovered(airbnb, told):
    _flag(airbnb)
    connection_resume(connection=airbnb)
    assert told == [("attention", airbnb.pk, "needs_attention"), ("recovered", airbnb.pk, "active")]
    assert airbnb.status == "active" and airbnb.last_error == ""


def test_resuming_a_paused_connection_is_no_recovery(airbnb, told):
    connection_pause(connection=airbnb)
    connection_resume(connection=airbnb)
    assert told == [] and airbnb.status == "active"


def test_reconnecting_with_new_tokens_recovers_it(airbnb, told):
    _flag(airbnb)
    connection_store_tokens(
        connection=airbnb, tokens=TokenSet(access_token="new", refresh_token="new-ref", expires_at=None)
    )
    assert told[-1] == ("recovered", airbnb.pk, "active") and airbnb.status == "active"


@responses.activate
def test_a_successful_re_test_recovers_it_and_a_failed_one_does_not(airbnb, told):
    me = f"{settings.PLATFORMS['airbnb']['base_url']}/v2/users/me"
    _flag(airbnb)
    responses.get(me, status=403, json={"error": "forbidden", "error_message": "no access"})
    assert connection_test(connection=airbnb).healthy is False
    assert airbnb.status == "needs_attention" and len(told) == 1
    responses.replace(responses.GET, me, json={"user": {"id": 77}})
    assert connection_test(connection=airbnb).healthy is True
    airbnb.refresh_from_db()
    assert airbnb.status == "active" and airbnb.healthy is True
    assert told[-1] == ("recovered", airbnb.pk, "active")


def test_a_refused_token_refresh_flags_the_connection_and_says_so(airbnb, told, monkeypatch):
    from adapters.airbnb.adapter import AirbnbAdapter
    from adapters.base import TokenRefreshError
    from channelmgr.resilience import platform_calls

    def refused(self):
        raise TokenRefreshError("invalid_grant")

    monkeypatch.setattr(AirbnbAdapter, "refresh_access_token", refused)
    with pytest.raises(TokenRefreshError):
        platform_calls._refresh(airbnb)
    airbnb.refresh_from_db()
    assert airbnb.status == "needs_attention" and "token refresh refused" in airbnb.last_error
    assert told == [("attention", airbnb.pk, "needs_attention")]


@given(st.lists(st.sampled_from(["flag", "recover", "pause", "resume"]), max_size=12))
# Each example makes and deletes its own connection: sharing the unit between examples is safe.
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_sequence_tells_each_transition_once_and_in_turn(unit, steps):
    connection = ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="fewo_direkt", platform_listing_id="FW-1"
    )
    heard = []
    on_attention = lambda sender, connection, reason, **kw: heard.append("attention")  # noqa: E731
    on_recovered = lambda sender, connection, **kw: heard.append("recovered")  # noqa: E731
    connection_needs_attention.connect(on_attention, weak=False, dispatch_uid="seq-attention")
    connection_recovered.connect(on_recovered, weak=False, dispatch_uid="seq-recovered")
    try:
        expected, status = [], "active"
        for step in steps:
            if step == "flag":
                connection_mark_needs_attention(connection_id=connection.pk, error="403 forbidden")
                expected += ["attention"] if status != "needs_attention" else []
                status = "needs_attention"
            elif step == "recover":
                connection_recover(connection_id=connection.pk)
                expected += ["recovered"] if status == "needs_attention" else []
                status = "active" if status == "needs_attention" else status
            elif step == "pause":
                connection_pause(connection=connection)
                status = "paused"
            else:
                connection_resume(connection=connection)
                expected += ["recovered"] if status == "needs_attention" else []
                status = "active"
            connection.refresh_from_db()
            assert connection.status == status, steps
        assert heard == expected, steps
    finally:
        connection_needs_attention.disconnect(dispatch_uid="seq-attention")
        connection_recovered.disconnect(dispatch_uid="seq-recovered")
        connection.delete()


def test_resuming_a_feed_reads_it_again_instead_of_opening_pushes_it_cannot_take(unit, told):
    from channelmgr.models import SyncLog

    feed = ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="ical", platform_listing_id="feed-1",
        platform_metadata={"feed_url": "https://example.com/feed.ics"},
    )  # fmt: skip
    _flag(feed)
    connection_resume(connection=feed)
    assert list(SyncLog.objects.filter(connection=feed).values_list("kind", flat=True)) == ["bookings"]
    assert told[-1] == ("recovered", feed.pk, "active")
