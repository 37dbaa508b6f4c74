"""Domain events become dirty ranges on the right connections, and one push is scheduled per burst."""

import pytest
from django.core.cache import cache

from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.sync.outbound import outbox_event_apply, push_schedule, push_started
from pms_core.models import OutboxEvent
from pms_core.services import booking_cancel, booking_create, booking_modify, calendar_set_prices


@pytest.fixture
def connections(unit):
    org = unit.property.organization
    return {
        slug: ChannelConnection.objects.create(
            organization=org, unit=unit, platform_type=slug, platform_listing_id=f"L-{slug}"
        )
        for slug in ("airbnb", "booking_com", "expedia")
    }


def test_a_booking_from_a_platform_skips_that_platforms_connection(
    unit, day, connections, django_capture_on_commit_callbacks
):
    booking_create(unit=unit, check_in=day(1), check_out=day(3), source="airbnb", channel_booking_id="HM1")
    touched = outbox_event_apply(event=OutboxEvent.objects.get())
    assert set(touched) == {connections["booking_com"].pk, connections["expedia"].pk}
    assert not DirtyRange.objects.filter(connection=connections["airbnb"]).exists()
    assert set(DirtyRange.objects.values_list("kind", flat=True)) == {"availability"}


@pytest.mark.parametrize("change", ["cancel", "shorten"])
def test_nights_a_platform_releases_are_pushed_to_that_platform_too(unit, day, connections, change):
    """Another stay may still hold them, and an earlier push may have closed them there."""
    stay = booking_create(unit=unit, check_in=day(1), check_out=day(4), source="airbnb", channel_booking_id="HM1")
    if change == "cancel":
        booking_cancel(booking=stay, actor="airbnb")
    else:
        booking_modify(booking=stay, check_out=day(2), actor="airbnb")
    released = OutboxEvent.objects.exclude(event_type=OutboxEvent.Type.BOOKING_CONFIRMED).get()
    touched = outbox_event_apply(event=released)
    assert set(touched) == {c.pk for c in connections.values()}
    assert DirtyRange.objects.filter(connection=connections["airbnb"], start__lte=day(2), end__gte=day(4)).exists()


def test_a_price_change_reaches_every_connection_as_pricing(unit, day, connections):
    calendar_set_prices(unit=unit, start=day(1), end=day(5), price=200)
    outbox_event_apply(event=OutboxEvent.objects.get())
    assert DirtyRange.objects.filter(kind="pricing").count() == 3


def test_paused_connections_get_nothing(unit, day, connections):
    ChannelConnection.objects.filter(pk=connections["expedia"].pk).update(status="paused")
    calendar_set_prices(unit=unit, start=day(1), end=day(5), price=200)
    touched = outbox_event_apply(event=OutboxEvent.objects.get())
    assert connections["expedia"].pk not in touched


def test_a_burst_schedules_one_push_until_the_push_starts(connections):
    cache.clear()
    connection_id = connections["airbnb"].pk
    scheduled = [push_schedule(connection_id=connection_id, kind="pricing") for _ in range(100)]
    assert scheduled.count(True) == 1
    push_started(connection_id=connection_id, kind="pricing")
    assert push_schedule(connection_id=connection_id, kind="pricing") is True
