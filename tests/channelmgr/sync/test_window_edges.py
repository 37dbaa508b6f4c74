"""The sync window's edge (``channelmgr.sync.window``): the nights entering each connection's window are
marked to push once, a missed day is caught up, and a connection seen first has its whole window marked."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from channelmgr.accounts import sync_window
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.sync.window import window_edges_mark

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 6, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _connect(unit, platform: str, listing: str, **fields) -> ChannelConnection:
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type=platform,
        platform_listing_id=listing,
        **fields,
    )


def _marked(connection) -> set[tuple[str, dt.date, dt.date]]:
    return set(DirtyRange.objects.filter(connection=connection).values_list("kind", "start", "end"))


def test_a_connection_seen_first_has_its_whole_window_marked_then_each_new_night(unit, clock):
    fewo = _connect(unit, "fewo_direkt", "L-1", api_key="k")
    start, end = sync_window(fewo)

    assert window_edges_mark() == 1
    assert _marked(fewo) == {("availability", start, end), ("pricing", start, end)}
    DirtyRange.objects.all().delete()

    assert window_edges_mark() == 0  # the same day: nothing new
    assert _marked(fewo) == set()

    clock.shift(dt.timedelta(days=1))
    assert window_edges_mark() == 1
    assert _marked(fewo) == {
        ("availability", end, end + dt.timedelta(days=1)),
        ("pricing", end, end + dt.timedelta(days=1)),
    }


def test_days_the_scheduler_missed_are_caught_up_in_one_range(unit, clock):
    fewo = _connect(unit, "fewo_direkt", "L-1", api_key="k")
    window_edges_mark()
    DirtyRange.objects.all().delete()
    _start, end = sync_window(fewo)

    clock.shift(dt.timedelta(days=3))
    window_edges_mark()

    assert _marked(fewo) == {(kind, end, end + dt.timedelta(days=3)) for kind in ("availability", "pricing")}
    assert ChannelConnection.objects.get(pk=fewo.pk).window_marked_until == end + dt.timedelta(days=3)


def test_a_connection_back_after_a_long_pause_is_marked_from_today_not_from_where_it_stopped(unit, clock):
    fewo = _connect(unit, "fewo_direkt", "L-1", api_key="k")
    ChannelConnection.objects.filter(pk=fewo.pk).update(window_marked_until=dt.date(2020, 1, 1))

    window_edges_mark()

    start, end = sync_window(fewo)
    assert _marked(fewo) == {("availability", start, end), ("pricing", start, end)}


def test_a_feed_is_noted_with_nothing_to_push_and_a_deleted_connection_is_left_alone(unit, other_unit, clock):
    feed = _connect(unit, "ical", "feed-1", feed_url="https://example.com/a.ics")
    gone = _connect(other_unit, "fewo_direkt", "L-2", api_key="k", status=ChannelConnection.Status.DELETED)

    assert window_edges_mark() == 0

    assert _marked(feed) == set() and _marked(gone) == set()
    assert ChannelConnection.objects.get(pk=feed.pk).window_marked_until == sync_window(feed)[1]
    assert ChannelConnection.objects.get(pk=gone.pk).window_marked_until is None


def test_a_full_sync_covers_the_window_so_the_job_goes_on_from_its_end(unit, clock):
    from channelmgr.sync.requests import sync_request

    fewo = _connect(unit, "fewo_direkt", "L-1", api_key="k")
    sync_request(connection=fewo, sync_type="full")
    DirtyRange.objects.all().delete()

    assert window_edges_mark() == 0
    assert _marked(fewo) == set()


def test_nights_a_shrunk_window_let_go_are_marked_again_when_they_re_enter(unit, clock):
    """A property moved west: its today steps back a day, and so does its window's end. The night that
    left the window may miss what is announced for the window meanwhile (a new currency): it is marked
    again when it re-enters. (Found by the pricing state machine: it used to keep the old currency.)"""
    fewo = _connect(unit, "fewo_direkt", "L-1", api_key="k")
    window_edges_mark()
    _start, end = sync_window(fewo)
    ChannelConnection.objects.filter(pk=fewo.pk).update(window_marked_until=end + dt.timedelta(days=1))
    DirtyRange.objects.all().delete()

    window_edges_mark()  # the shrunk window is noted
    assert _marked(fewo) == set()
    clock.shift(dt.timedelta(days=1))
    window_edges_mark()

    assert _marked(fewo) == {(kind, end, end + dt.timedelta(days=1)) for kind in ("availability", "pricing")}


def test_a_move_west_lowers_the_mark_at_once_so_a_missed_day_still_catches_the_night_it_let_go(unit, clock):
    """Kiritimati (UTC+14) marks the window a day further than Los Angeles does. The property moves to Los
    Angeles, a new unit default is announced for the (shorter) window, and the scheduler is down until the
    window has moved on: the night between the two ends is marked when the job runs again. (The mark came
    down only at the next ``window_edges`` run, so after that outage the night kept the old default on
    every platform. Found by the pricing state machine at 500 x 30.)"""
    from pms_core.models import Property
    from pms_core.services.catalog import property_update

    property_update(prop=Property.objects.get(pk=unit.property_id), timezone="Pacific/Kiritimati")
    fewo = _connect(unit, "fewo_direkt", "L-1", api_key="k")
    window_edges_mark()
    _start, far_end = sync_window(ChannelConnection.objects.get(pk=fewo.pk))

    property_update(prop=Property.objects.get(pk=unit.property_id), timezone="America/Los_Angeles")
    _start, near_end = sync_window(ChannelConnection.objects.get(pk=fewo.pk))
    assert near_end < far_end
    assert ChannelConnection.objects.get(pk=fewo.pk).window_marked_until == near_end  # at once
    DirtyRange.objects.all().delete()

    clock.shift(dt.timedelta(days=11))  # the job did not run meanwhile
    window_edges_mark()
    marked = _marked(fewo)
    assert all((kind, near_end, near_end + dt.timedelta(days=11)) in marked for kind in ("availability", "pricing"))
