"""Every declared capability changes behaviour somewhere; these pin the ones with no suite of their own.

A platform without ``PUSH_RESTRICTIONS`` (the throwaway Seaside) is told open or closed only.
"""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.base import Capability
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.sync.push import push_items
from pms_core.services import calendar_set_restrictions


@pytest.mark.django_db
def test_a_platform_without_restrictions_gets_stop_sell_as_closed_and_no_restrictions(seaside, unit):
    assert Capability.PUSH_RESTRICTIONS not in seaside.capabilities
    start = dt.date.today() + dt.timedelta(days=5)
    calendar_set_restrictions(unit=unit, start=start, end=start + dt.timedelta(days=2), min_stay=4)
    calendar_set_restrictions(
        unit=unit, start=start + dt.timedelta(days=2), end=start + dt.timedelta(days=3), stop_sell=True
    )
    end = start + dt.timedelta(days=4)
    plain = ChannelConnection(unit=unit, platform_type="seaside", platform_listing_id="sea-1")
    full = ChannelConnection(unit=unit, platform_type="airbnb", platform_listing_id="ab-1")

    told = [
        (r.range.start, r.range.end, r.available, r.min_stay)
        for r in push_items(plain, DirtyRange.Kind.AVAILABILITY, [(start, end)])
    ]
    assert told == [
        (start, start + dt.timedelta(days=2), True, 1),
        (start + dt.timedelta(days=2), start + dt.timedelta(days=3), False, 1),
        (start + dt.timedelta(days=3), end, True, 1),
    ]
    restricted = push_items(full, DirtyRange.Kind.AVAILABILITY, [(start, end)])
    assert [r.min_stay for r in restricted][:1] == [4]
    assert any(r.stop_sell for r in restricted)
