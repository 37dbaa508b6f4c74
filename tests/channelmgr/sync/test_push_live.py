"""The outbound path against the live sandbox: state reaches every platform in the fewest requests."""

import datetime as dt
import math
from decimal import Decimal

import pytest

from adapters.registry import adapter_class
from channelmgr.models import ChannelConnection, DirtyRange
from pms_core.services import booking_cancel, booking_create, calendar_set_prices, calendar_set_restrictions
from testkit import oauth_platforms, push_platforms, wait_for

from .conftest import platform_calendar, platform_stats

# The platforms the connected unit is on, and those of them that sign in by OAuth: the registry's.
PUSH_PLATFORMS = push_platforms()
OAUTH_PLATFORMS = oauth_platforms()


def _start():
    return dt.date.today() + dt.timedelta(days=10)


def _calendars(sandbox, unit, start, end):
    return {
        c.platform_type: platform_calendar(sandbox, c.platform_type, c.platform_listing_id, start, end)
        for c in ChannelConnection.objects.filter(unit=unit)
    }


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_100_price_changes_costs_the_minimum_number_of_requests(sandbox, connected_unit, worker):
    unit, start = connected_unit, _start()
    before = {slug: platform_stats(sandbox, slug)["requests_total"] for slug in PUSH_PLATFORMS}
    for i in range(100):  # a different price each night, so nothing can be collapsed
        calendar_set_prices(
            unit=unit, start=start + dt.timedelta(days=i), end=start + dt.timedelta(days=i + 1), price=Decimal(100 + i)
        )
    end = start + dt.timedelta(days=100)

    def priced_everywhere():
        calendars = _calendars(sandbox, unit, start, end)
        return all(
            len(days) == 100 and all(Decimal(d["price"] or 0) == Decimal(100 + i) for i, d in enumerate(days))
            for slug, days in calendars.items()
            if slug in PUSH_PLATFORMS
        )

    assert wait_for(priced_everywhere, timeout=30)
    assert wait_for(lambda: not DirtyRange.objects.exists(), timeout=10)
    for slug in PUSH_PLATFORMS:
        stats = platform_stats(sandbox, slug)
        made = stats["requests_total"] - before[slug]
        minimum = math.ceil(100 / adapter_class(slug).max_batch)
        assert made == minimum, (slug, made, minimum, stats["requests"])
        assert stats["rate_limit_violations"] == 0 and stats["invalid_payloads"] == 0, (slug, stats)


@pytest.mark.django_db(transaction=True)
def test_a_direct_booking_closes_the_nights_everywhere_and_a_cancel_reopens_them(sandbox, connected_unit, worker):
    unit, start = connected_unit, _start()
    end = start + dt.timedelta(days=3)
    booking = booking_create(unit=unit, check_in=start, check_out=end, guest_name="Familie Weber")

    def all_closed():
        return all(
            days and not any(d["available"] for d in days) for days in _calendars(sandbox, unit, start, end).values()
        )

    assert wait_for(all_closed)
    booking_cancel(booking=booking)

    def all_open():
        return all(
            days and all(d["available"] for d in days) for days in _calendars(sandbox, unit, start, end).values()
        )

    assert wait_for(all_open)


@pytest.mark.django_db(transaction=True)
def test_restrictions_reach_every_platform(sandbox, connected_unit, worker):
    unit, start = connected_unit, _start()
    end = start + dt.timedelta(days=4)
    calendar_set_restrictions(unit=unit, start=start, end=end, min_stay=3, closed_to_arrival=True)

    def restricted():
        calendars = _calendars(sandbox, unit, start, end)
        return all(days and all(d["min_stay"] == 3 for d in days) for days in calendars.values())

    assert wait_for(restricted)
    for slug, days in _calendars(sandbox, unit, start, end).items():
        assert all(d["closed_to_arrival"] for d in days), slug


@pytest.mark.django_db(transaction=True)
def test_an_expired_access_token_is_refreshed_once_and_the_push_goes_through(sandbox, connected_unit, worker):
    import requests

    unit, start = connected_unit, _start()
    end = start + dt.timedelta(days=2)
    before = {c.pk: c.access_token for c in ChannelConnection.objects.filter(platform_type__in=OAUTH_PLATFORMS)}
    for slug in OAUTH_PLATFORMS:
        requests.post(f"{sandbox}/_control/{slug}/tokens/expire", timeout=5).raise_for_status()
    booking_create(unit=unit, check_in=start, check_out=end)

    def closed_on_oauth_platforms():
        calendars = _calendars(sandbox, unit, start, end)
        return all(calendars[slug] and not any(d["available"] for d in calendars[slug]) for slug in OAUTH_PLATFORMS)

    assert wait_for(closed_on_oauth_platforms)
    for connection in ChannelConnection.objects.filter(pk__in=before):
        assert connection.access_token != before[connection.pk]
        assert connection.status == ChannelConnection.Status.ACTIVE
    # Each platform saw exactly one refresh, however many pushes needed the token.
    for slug in OAUTH_PLATFORMS:
        assert platform_stats(sandbox, slug)["requests"].get("POST oauth_token", 0) == 2, slug  # code + refresh
