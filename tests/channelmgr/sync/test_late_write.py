"""A push that failed in flight (a timeout) may still be applied by the platform after our client gave up,
overwriting what a successful retry sent meanwhile. Its nights are pushed once more when such a late
write can no longer land. Found by the convergence soak: a night a confirmed stay held ended up open."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import requests
import responses
import time_machine
from django.utils import timezone

from adapters.base import PlatformAPIError
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.sync.outbound import mark_dirty
from channelmgr.sync.push import LATE_WRITE_SECONDS, push_connection
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db
AVAILABILITY = re.compile(r".*/v1/listings/L-fewo/availability$")


@pytest.fixture
def fewo(unit, settings):
    settings.PUSH_DEBOUNCE_SECONDS = 0.001  # no debounce wait: each push runs when called
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="fewo_direkt",
        platform_listing_id="L-fewo",
        api_key="fewo-key",
    )


def _statuses(call) -> list[str]:
    return [entry["status"] for entry in json.loads(call.request.body)["entries"]]


def test_a_push_that_timed_out_is_pushed_again_once_a_late_write_can_no_longer_land(fewo, unit, day):
    booking_create(unit=unit, check_in=day(1), check_out=day(3))
    mark_dirty(connection=fewo, kinds=[DirtyRange.Kind.AVAILABILITY], start=day(1), end=day(3))
    failed_at = timezone.now()
    with responses.RequestsMock() as http:
        http.add(responses.PUT, AVAILABILITY, body=requests.Timeout("read timed out"))
        with pytest.raises(PlatformAPIError):
            push_connection(connection_id=fewo.pk, kind=DirtyRange.Kind.AVAILABILITY)

        # The retry goes through at once, as before.
        http.replace(responses.PUT, AVAILABILITY, json={}, status=200)
        assert push_connection(connection_id=fewo.pk, kind=DirtyRange.Kind.AVAILABILITY).status == "success"
        assert len(http.calls) == 2

        # The nights stay due for a re-check that no push may take before a late write could land.
        recheck = list(DirtyRange.objects.filter(connection=fewo))
        assert recheck and all(r.not_before >= failed_at + dt.timedelta(seconds=LATE_WRITE_SECONDS) for r in recheck)
        assert push_connection(connection_id=fewo.pk, kind=DirtyRange.Kind.AVAILABILITY).status == "nothing"
        assert len(http.calls) == 2

        with time_machine.travel(timezone.now() + dt.timedelta(seconds=LATE_WRITE_SECONDS + 1), tick=False):
            assert push_connection(connection_id=fewo.pk, kind=DirtyRange.Kind.AVAILABILITY).status == "success"
        assert len(http.calls) == 3
        assert "UNAVAILABLE" in _statuses(http.calls[2])  # the current state, the booking's nights closed
    assert not DirtyRange.objects.filter(connection=fewo).exists()


def test_a_refused_push_is_not_checked_again(fewo, unit, day):
    mark_dirty(connection=fewo, kinds=[DirtyRange.Kind.AVAILABILITY], start=day(1), end=day(3))
    with responses.RequestsMock() as http:
        http.add(responses.PUT, AVAILABILITY, status=400, json={"errors": [{"code": "INVALID", "message": "no"}]})
        with pytest.raises(PlatformAPIError) as refused:
            push_connection(connection_id=fewo.pk, kind=DirtyRange.Kind.AVAILABILITY)
    assert refused.value.permanent
    assert not DirtyRange.objects.filter(connection=fewo, not_before__isnull=False).exists()
