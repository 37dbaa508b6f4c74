"""A new platform is one folder: written into a temporary package, found by the same discovery as the
real five, configured by the same settings code, and then synced both ways with nothing in
``channelmgr/`` or ``config/`` edited.

Invariant: a night a guest holds through the new platform closes on the other five, and a night held
anywhere else closes on the new platform.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import responses
from django.conf import settings as django_settings

from adapters import registry
from adapters.base import Capability
from channelmgr.models import ChannelConnection, InboundEvent
from pms_core.models import Booking
from pms_core.services import booking_create
from tests.channelmgr.sync.conftest import platform_calendar, wait_for

from . import sixth

FIVE = [slug for slug in registry.slugs(Capability.PUSH_AVAILABILITY)]


def _closed_everywhere(sandbox, unit, start, end) -> bool:
    for connection in ChannelConnection.objects.filter(unit=unit, platform_type__in=FIVE):
        days = platform_calendar(sandbox, connection.platform_type, connection.platform_listing_id, start, end)
        if not days or any(d["available"] for d in days):
            return False
    return True


def _closed_on_seaside(pushed: list[dict], start: dt.date, end: dt.date) -> bool:
    """The latest pushed state of every night in ``[start, end)`` is closed."""
    state: dict[dt.date, bool] = {}
    for body in pushed:
        for item in body.get("ranges", []):
            day, last = dt.date.fromisoformat(item["from"]), dt.date.fromisoformat(item["to"])
            while day < last:
                state[day] = item["open"]
                day += dt.timedelta(days=1)
    nights = [start + dt.timedelta(days=i) for i in range((end - start).days)]
    return all(state.get(night) is False for night in nights)


def test_the_registry_finds_the_new_folder_and_settings_read_its_prefix(seaside):
    assert registry.adapter_class("seaside") is seaside
    assert "seaside" in registry.slugs(Capability.WEBHOOKS)
    assert registry.by_webhook_path("seaside") is seaside
    values = django_settings.PLATFORMS["seaside"]
    assert values["base_url"] == sixth.API
    assert values["webhook_secrets"] == [sixth.SECRET]
    assert (values["rate_limit"], values["rate_window"]) == (5, 1.0)
    assert ("seaside", "Seaside Stays") in registry.choices()


@pytest.mark.django_db(transaction=True)
def test_a_sixth_platform_syncs_both_ways_with_nothing_in_channelmgr_edited(
    connected_unit, seaside, sandbox, worker, client
):
    unit = connected_unit
    ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="seaside",
        platform_listing_id="sea-1",
        api_key="seaside-key",
    )
    start = dt.date.today() + dt.timedelta(days=12)
    end = start + dt.timedelta(days=3)
    pushed: list[dict] = []

    def record(request):
        pushed.append(json.loads(request.body))
        return 200, {}, "{}"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as platform_http:
        platform_http.add_passthru(sandbox)  # the five platforms are the live sandbox
        platform_http.get(
            f"{sixth.API}/reservations/R-1",
            json={
                "id": "R-1",
                "listing_id": "sea-1",
                "status": "confirmed",
                "check_in": start.isoformat(),
                "check_out": end.isoformat(),
                "guest": "Familie Meer",
                "revision": "1",
            },
        )
        platform_http.add_callback("POST", re.compile(re.escape(sixth.API) + r"/listings/sea-1/.*"), callback=record)

        # webhook verify: a forged signature is refused and stores nothing
        body = json.dumps(
            {"event_id": "ev-1", "type": "booking.created", "listing_id": "sea-1", "reservation_id": "R-1"}
        ).encode()
        forged = client.post(
            "/webhooks/seaside", body, content_type="application/json", HTTP_X_SEASIDE_SIGNATURE="0" * 64
        )
        assert forged.status_code == 401
        assert not InboundEvent.objects.filter(platform="seaside").exists()

        # webhook verify -> import
        answer = client.post(
            "/webhooks/seaside", body, content_type="application/json", HTTP_X_SEASIDE_SIGNATURE=sixth.sign(body)
        )
        assert answer.status_code == 200, answer.content
        assert wait_for(lambda: Booking.objects.filter(source="seaside", channel_booking_id="R-1").exists())
        booking = Booking.objects.get(source="seaside", channel_booking_id="R-1")
        assert (booking.check_in, booking.check_out, booking.guest_name) == (start, end, "Familie Meer")

        # a push from it to the other five
        assert wait_for(lambda: _closed_everywhere(sandbox, unit, start, end), timeout=30)

        # a push to it: a night held elsewhere closes on the new platform
        later, later_end = end + dt.timedelta(days=5), end + dt.timedelta(days=7)
        booking_create(unit=unit, check_in=later, check_out=later_end, guest_name="Familie Weber")
        assert wait_for(lambda: _closed_on_seaside(pushed, later, later_end), timeout=30), pushed
        assert wait_for(lambda: _closed_everywhere(sandbox, unit, later, later_end), timeout=30)
