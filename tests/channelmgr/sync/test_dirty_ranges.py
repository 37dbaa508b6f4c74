"""Domain events become dirty ranges on the right connections, and one push is scheduled per burst."""

import pytest
from django.core.cache import cache

from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.resilience.guard import Backpressure
from channelmgr.sync.debounce import push_mark_sent
from channelmgr.sync.outbound import outbox_event_apply, push_schedule, push_started
from channelmgr.sync.push import _wait_for_quiet
from pms_core.models import OutboxEvent
from pms_core.services import (
    booking_cancel,
    booking_create,
    booking_modify,
    calendar_set_prices,
    calendar_set_restrictions,
)


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


@pytest.fixture
def enqueued(monkeypatch):
    """The pushes sent to the broker, as (connection id, kind, delay in seconds)."""
    sent = []
    monkeypatch.setattr(
        "channelmgr.sync.outbound.push_enqueue",
        lambda *, connection_id, kind, delay_seconds: sent.append((connection_id, kind, delay_seconds)),
    )
    cache.clear()
    return sent


def test_a_change_that_closes_nights_goes_at_once_on_a_quiet_connection(settings, connections, enqueued):
    settings.PUSH_DEBOUNCE_SECONDS = 1.0
    connection_id = connections["airbnb"].pk
    assert push_schedule(connection_id=connection_id, kind="availability", closes=True)
    assert enqueued == [(connection_id, "availability", 0)]
    # a second close-out before that push started rides on it
    push_schedule(connection_id=connection_id, kind="availability", closes=True)
    assert [delay for *_rest, delay in enqueued] == [0, 1.0]


def test_later_close_outs_in_the_same_burst_are_coalesced_behind_the_debounce(settings, connections, enqueued):
    settings.PUSH_DEBOUNCE_SECONDS = 1.0
    connection_id = connections["airbnb"].pk
    push_schedule(connection_id=connection_id, kind="availability", closes=True)
    push_started(connection_id=connection_id, kind="availability")
    push_mark_sent(connection_id=connection_id, kind="availability")  # the push claimed its nights
    for _ in range(10):
        push_schedule(connection_id=connection_id, kind="availability", closes=True)
    assert [delay for *_rest, delay in enqueued] == [0, 1.0]


@pytest.mark.parametrize("kind", ["pricing", "availability"])
def test_prices_restrictions_and_releases_keep_the_trailing_debounce(settings, connections, enqueued, kind):
    settings.PUSH_DEBOUNCE_SECONDS = 1.0
    push_schedule(connection_id=connections["airbnb"].pk, kind=kind)
    assert [delay for *_rest, delay in enqueued] == [1.0]


@pytest.mark.parametrize(
    ("change", "closes"),
    [("book", True), ("block", True), ("move", True), ("cancel", False), ("price", False), ("restrict", False)],
)
def test_which_changes_close_nights(unit, day, connections, change, closes):
    stay = None
    if change in ("move", "cancel"):
        stay = booking_create(unit=unit, check_in=day(1), check_out=day(3))
        OutboxEvent.objects.all().delete()
    if change == "book":
        booking_create(unit=unit, check_in=day(1), check_out=day(3))
    elif change == "block":
        booking_create(unit=unit, check_in=day(1), check_out=day(3), kind="block")
    elif change == "move":
        booking_modify(booking=stay, check_in=day(5), check_out=day(7))
    elif change == "cancel":
        booking_cancel(booking=stay)
    elif change == "price":
        calendar_set_prices(unit=unit, start=day(1), end=day(5), price=200)
    else:
        calendar_set_restrictions(unit=unit, start=day(1), end=day(5), min_stay=3)
    for event in OutboxEvent.objects.all():
        outbox_event_apply(event=event)
    assert set(DirtyRange.objects.values_list("closes", flat=True)) == {closes}


def test_a_leading_push_skips_the_debounce_only_for_close_outs(settings, unit, day, connections):
    settings.PUSH_DEBOUNCE_SECONDS = 5.0
    connection = connections["airbnb"]
    DirtyRange.objects.create(connection=connection, kind="availability", start=day(1), end=day(2))
    with pytest.raises(Backpressure):
        _wait_for_quiet(connection, "availability", leading=True)
    DirtyRange.objects.create(connection=connection, kind="availability", start=day(3), end=day(4), closes=True)
    _wait_for_quiet(connection, "availability", leading=True)
    with pytest.raises(Backpressure):
        _wait_for_quiet(connection, "availability", leading=False)
    # Where pushes are paced, the pacer spaces them: a close-out goes without waiting for a quiet spell.
    _wait_for_quiet(connection, "availability", leading=False, paced=True)


def test_a_paced_push_still_debounces_a_change_that_closes_nothing(settings, unit, day, connections):
    settings.PUSH_DEBOUNCE_SECONDS = 5.0
    connection = connections["booking_com"]
    DirtyRange.objects.create(connection=connection, kind="availability", start=day(1), end=day(2))
    with pytest.raises(Backpressure):
        _wait_for_quiet(connection, "availability", leading=False, paced=True)


@pytest.mark.django_db
def test_a_deferred_push_keeps_one_sync_log_row_with_its_deferral_count(settings, unit, day, connections, monkeypatch):
    from channelmgr.models import SyncLog
    from channelmgr.sync import push

    settings.PUSH_DEBOUNCE_SECONDS = 0.0001
    cache.clear()
    connection = connections["airbnb"]
    DirtyRange.objects.create(connection=connection, kind="availability", start=day(1), end=day(3))
    answers = [Backpressure(2.0, "rate_limited"), Backpressure(1.0, "circuit_open"), 1]

    def send(connection, kind, items, **_options):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(push, "_send", send)
    for _ in range(2):
        with pytest.raises(Backpressure):
            push.push_connection(connection_id=connection.pk, kind="availability")
        row = SyncLog.objects.get(connection=connection)
        assert row.status == SyncLog.Status.SKIPPED and row.error.startswith("deferred")
    result = push.push_connection(connection_id=connection.pk, kind="availability")
    assert result.status == "success"
    row = SyncLog.objects.get(connection=connection)  # still one row
    assert (row.status, row.details["deferrals"], row.request_count, row.error) == (SyncLog.Status.SUCCESS, 2, 1, "")
    assert not DirtyRange.objects.filter(connection=connection).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["availability", "pricing"])
def test_a_requested_push_to_a_feed_ends_its_sync_log_as_skipped(unit, kind):
    """A full sync of an iCal connection asks for pushes it cannot take; their rows must not stay running."""
    from channelmgr.models import SyncLog
    from channelmgr.sync.push import push_connection

    feed = ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="ical",
        platform_listing_id="feed",
        feed_url="https://example.com/a.ics",
    )
    row = SyncLog.objects.create(connection=feed, direction=SyncLog.Direction.OUTBOUND, kind=kind)
    assert push_connection(connection_id=feed.pk, kind=kind, sync_log=row).status == "skipped"
    row.refresh_from_db()
    assert row.status == SyncLog.Status.SKIPPED and row.finished_at is not None and "takes no" in row.error
