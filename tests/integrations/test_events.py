"""Events are recorded with the change, numbered per organization in commit order, and carry the object
as the API shows it."""

from __future__ import annotations

import pytest
from django.db import transaction

from channelmgr import signals as channel_signals
from channelmgr.models import ChannelConnection
from integrations.models import WebhookEvent
from pms_core.api.bookings import BookingOutputSerializer
from pms_core.services import booking_cancel, booking_create


def events_of(organization):
    return list(WebhookEvent.objects.filter(organization=organization).order_by("sequence"))


def test_a_booking_and_its_cancellation_are_two_events_in_order(unit, day, org_a):
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Ada")
    booking_cancel(booking=booking)
    created, cancelled = events_of(org_a)
    assert (created.event_type, created.sequence) == ("booking.created", 1)
    assert (cancelled.event_type, cancelled.sequence) == ("booking.cancelled", 2)
    assert created.data["object"]["guest_name"] == "Ada"
    assert created.data["object"]["status"] == "confirmed"
    assert cancelled.data["object"]["status"] == "cancelled"


def test_the_object_is_the_one_the_api_shows(unit, day, org_a):
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3), total_amount="123.40", currency="EUR")
    (event,) = events_of(org_a)
    import json

    from rest_framework.renderers import JSONRenderer

    assert event.data["object"] == json.loads(JSONRenderer().render(BookingOutputSerializer(booking).data))


def test_each_organization_counts_its_own_sequence(unit, other_unit, day, org_a, org_b):
    booking_create(unit=unit, check_in=day(1), check_out=day(3))
    booking_create(unit=other_unit, check_in=day(1), check_out=day(3))
    booking_create(unit=unit, check_in=day(5), check_out=day(7))
    assert [e.sequence for e in events_of(org_a)] == [1, 2]
    assert [e.sequence for e in events_of(org_b)] == [1]


def test_a_rolled_back_change_records_nothing_and_gives_its_number_back(unit, day, org_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        booking_create(unit=unit, check_in=day(1), check_out=day(3))
        raise RuntimeError("the caller's transaction fails after the booking")
    assert events_of(org_a) == []
    booking_create(unit=unit, check_in=day(1), check_out=day(3))
    assert [e.sequence for e in events_of(org_a)] == [1]


@pytest.fixture
def connection(unit, org_a):
    return ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="airbnb", platform_listing_id="L1", access_token="tok-secret-123"
    )


def test_connection_signals_become_connection_events(connection, org_a):
    channel_signals.connection_needs_attention.send(ChannelConnection, connection=connection, reason="bad token")
    channel_signals.connection_recovered.send(ChannelConnection, connection=connection)
    attention, recovered = events_of(org_a)
    assert attention.event_type == "connection.needs_attention"
    assert attention.data["reason"] == "bad token"
    assert attention.data["object"]["id"] == connection.pk
    assert attention.data["object"]["platform_type"] == "airbnb"
    assert "tok-secret-123" not in str(attention.data)
    assert attention.data["object"]["credentials_set"]["access_token"] is True
    assert recovered.event_type == "connection.recovered"


def test_a_failed_sync_and_a_drift_become_events(connection, org_a):
    from channelmgr.models import SyncLog
    from channelmgr.sync.reconcile import Drift

    log = SyncLog.objects.create(connection=connection, direction="outbound", kind="availability", status="failed")
    channel_signals.sync_failed.send(ChannelConnection, connection=connection, sync_log=log, error="HTTP 500")
    drift = Drift(connection_id=connection.pk, platform="airbnb", differs=["2026-12-24"])
    channel_signals.drift_detected.send(ChannelConnection, connection=connection, drift=drift)
    failed, drifted = events_of(org_a)
    assert (failed.event_type, failed.data["error"], failed.data["sync_log"]["id"]) == (
        "sync.failed",
        "HTTP 500",
        log.pk,
    )
    assert drifted.event_type == "drift.detected"
    assert drifted.data["drift"] == {"missing_in_pms": [], "differs": ["2026-12-24"], "unpushed_nights": 0, "total": 1}
