from __future__ import annotations

import pytest

from channelmgr.models import ChannelConnection
from channelmgr.services.connections_health import connection_mark_needs_attention


@pytest.fixture
def connection(org_a, unit):
    return ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="airbnb", platform_listing_id="L1"
    )


def test_a_permanent_error_marks_the_connection_as_needing_attention(connection):
    assert connection_mark_needs_attention(connection_id=connection.pk, error="401 bad credentials")
    connection.refresh_from_db()
    assert (connection.status, connection.last_error, connection.healthy) == (
        "needs_attention",
        "401 bad credentials",
        False,
    )


def test_a_deleted_connection_stays_deleted(connection):
    ChannelConnection.objects.filter(pk=connection.pk).update(status="deleted")
    assert connection_mark_needs_attention(connection_id=connection.pk, error="401") is False
    connection.refresh_from_db()
    assert connection.status == "deleted"
