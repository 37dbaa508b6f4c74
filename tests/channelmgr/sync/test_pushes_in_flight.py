"""Two pushes of one connection in flight at once (``push.push_again_if_overlapped``).

Invariant: once every due push has run, a platform shows the current state of each night, whatever order
two overlapping pushes of one connection landed in. A drain, or a long push, may have read a night before
a booking closed it and land after the booking's own push sent it closed; whichever of the two finishes
first finds the other still claiming, so its nights go out once more, after the other is likely done.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import responses
import time_machine
from django.core.cache import cache
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.sync.drain import push_drain
from channelmgr.sync.outbound import mark_dirty
from channelmgr.sync.push import IN_FLIGHT_RECHECK_SECONDS, STALE_CLAIM, push_connection
from pms_core.models import Booking, Unit
from pms_core.selectors import calendar_nights
from pms_core.services import booking_cancel, booking_create

pytestmark = pytest.mark.django_db
FEWO = re.compile(r".*/v1/listings/(L-\d+)/availability$")
AVAILABILITY, PRICING = DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING


@pytest.fixture(autouse=True)
def _no_debounce(settings):
    settings.PUSH_DEBOUNCE_SECONDS = 0.0  # each push runs when called
    cache.clear()


@pytest.fixture
def fewo(unit) -> ChannelConnection:
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="fewo_direkt",
        platform_listing_id="L-0",
        api_key="fewo-key",
    )


@pytest.fixture
def other(unit) -> ChannelConnection:
    """Another unit's connection to the same platform."""
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=Unit.objects.create(property=unit.property, name="Annex", base_price=Decimal("90.00")),
        platform_type="fewo_direkt",
        platform_listing_id="L-1",
        api_key="other-key",
    )


class Platform:
    """The listing's nights as the platform holds them: each request applied when it lands, in order."""

    def __init__(self):
        self.nights: dict[str, str] = {}

    def apply(self, request) -> None:
        for entry in json.loads(request.body)["entries"]:
            start, last = dt.date.fromisoformat(entry["from"]), dt.date.fromisoformat(entry["to"])  # "to": last night
            for i in range((last - start).days + 1):
                self.nights[(start + dt.timedelta(days=i)).isoformat()] = entry["status"]

    def status(self, day: dt.date) -> str:
        return self.nights[day.isoformat()]


def _dirty(connection, start, end, **kwargs):
    mark_dirty(connection=connection, kinds=[AVAILABILITY], start=start, end=end, schedule=False, **kwargs)


def _in_flight(connection, start, end, *, by: str, seconds_ago: float = 0.0, kind=AVAILABILITY) -> None:
    """Nights another push (``by``) claimed ``seconds_ago`` and is still sending."""
    claimed_at = timezone.now() - dt.timedelta(seconds=seconds_ago)
    DirtyRange.objects.create(
        connection=connection, kind=kind, start=start, end=end, claimed_by=by, claimed_at=claimed_at
    )


def _due_later(connection) -> list[DirtyRange]:
    return list(DirtyRange.objects.filter(connection=connection, kind=AVAILABILITY, not_before__gt=timezone.now()))


def test_a_close_out_that_lands_before_an_older_drain_goes_out_again_after_it(fewo, unit, day):
    """The drain read the nights open; while its request is on the way, a booking closes two of them and
    its own push sends them closed, which lands first. The drain's request then reopens them. The
    booking's push found the drain still claiming, so its nights go out once more and close them again."""
    _dirty(fewo, day(1), day(6))  # a backlog: the drain claims it
    platform = Platform()
    nested = []

    def answer(request):
        if not nested:  # the drain's request, still on the way: the booking and its push overtake it
            nested.append(booking_create(unit=unit, check_in=day(2), check_out=day(4)))
            _dirty(fewo, day(2), day(4), closes=True)
            assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "success"
        platform.apply(request)
        return 200, {}, "{}"

    with responses.RequestsMock() as http:
        http.add_callback(responses.PUT, FEWO, callback=answer)
        result = push_drain(kind=AVAILABILITY, connection_ids=[fewo.pk])
        assert result.pushed == [fewo.pk] and len(http.calls) == 2
        # The drain's older read landed last: the guest's nights are open on the platform ...
        assert platform.status(day(2)) == "AVAILABLE"
        # ... and due again, once the drain is likely done.
        (again,) = _due_later(fewo)
        assert (again.start, again.end) == (day(2), day(4))
        assert again.not_before >= timezone.now() + dt.timedelta(seconds=IN_FLIGHT_RECHECK_SECONDS - 0.5)
        assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "nothing"  # not yet
        with time_machine.travel(again.not_before + dt.timedelta(seconds=0.1), tick=False):
            assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "success"
        assert len(http.calls) == 3
    assert [platform.status(day(n)) for n in range(1, 6)] == [
        "AVAILABLE",
        "UNAVAILABLE",
        "UNAVAILABLE",
        "AVAILABLE",
        "AVAILABLE",
    ]
    assert not DirtyRange.objects.filter(connection=fewo).exists()


def test_a_push_with_no_other_in_flight_is_not_sent_again(fewo, other, unit, day):
    booking_create(unit=unit, check_in=day(2), check_out=day(4))
    _dirty(fewo, day(1), day(6))
    # Another kind in flight, and another connection's push, are not this push's concern.
    _in_flight(fewo, day(1), day(2), by="its-prices", kind=PRICING)
    _in_flight(other, day(1), day(2), by="another-connections")
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO, json={})
        assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "success"
    assert not DirtyRange.objects.filter(connection=fewo, kind=AVAILABILITY).exists()


@pytest.mark.parametrize(
    ("claimed_seconds_ago", "again_after"),
    [
        (0.0, IN_FLIGHT_RECHECK_SECONDS),  # it has only just claimed: it is likely done in a moment
        (8.0, 8.0),  # at it for a while (a long drain): as long again
        (590.0, 11.0),  # dead, most likely: just after its claim goes stale and is taken over
    ],
)
def test_a_push_that_finishes_while_another_claims_its_connection_goes_again_after_it(
    fewo, unit, day, claimed_seconds_ago, again_after
):
    """This push may be the older one: the other, still claiming, may carry a change this one read before
    and land before it. The nights both carry go out once more, later the longer the other has been at
    it; the others cannot be overwritten."""
    _dirty(fewo, day(1), day(6))
    _in_flight(fewo, day(3), day(4), by="another-push", seconds_ago=claimed_seconds_ago)
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO, json={})
        assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "success"
    (again,) = _due_later(fewo)
    assert (again.start, again.end, again.closes) == (day(3), day(4), True)
    wait = (again.not_before - timezone.now()).total_seconds()
    assert again_after - 1.0 < wait <= again_after + 0.5  # + the time the push itself took


def test_a_claim_gone_stale_is_taken_over_not_waited_for(fewo, unit, day):
    _dirty(fewo, day(1), day(6))
    _in_flight(fewo, day(3), day(4), by="a-push-that-died", seconds_ago=3600)
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO, json={})
        assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "success"
    assert not DirtyRange.objects.filter(connection=fewo).exists()


def test_a_drain_that_finishes_while_a_push_of_its_own_claims_a_connection_sends_it_again(fewo, other, unit, day):
    """The drain may be the newer of the two: a push of that connection, in flight since before the drain
    read, can still land after it."""
    _dirty(fewo, day(1), day(6))
    _dirty(other, day(1), day(6))
    _in_flight(fewo, day(4), day(9), by="its-own")
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO, json={})
        result = push_drain(kind=AVAILABILITY, connection_ids=[fewo.pk, other.pk])
        assert sorted(result.pushed) == sorted([fewo.pk, other.pk])
    (again,) = DirtyRange.objects.filter(not_before__gt=timezone.now())
    assert (again.connection_id, again.start, again.end) == (fewo.pk, day(4), day(6))


# --- random interleavings ---------------------------------------------------------------------------


def _run_due_pushes(connection, *, limit: int = 6) -> None:
    """Run this connection's pushes, each round at the latest time any of its rows is due, until nothing is
    left."""
    for _ in range(limit):
        rows = list(DirtyRange.objects.filter(connection=connection, kind=AVAILABILITY))
        if not rows:
            return
        due = max((r.not_before for r in rows if r.not_before), default=timezone.now())
        with time_machine.travel(max(due, timezone.now()) + dt.timedelta(seconds=0.1), tick=False):
            push_connection(connection_id=connection.pk, kind=AVAILABILITY)
    raise AssertionError(f"still dirty after {limit} pushes: {rows}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.sampled_from(["drain", "push"]),
    overtakes=st.sampled_from(["lands first", "lands between", "comes after"]),
    change=st.sampled_from(["book", "cancel"]),
    start=st.integers(1, 5),
    length=st.integers(1, 3),
)
def test_any_interleaving_of_two_pushes_of_a_connection_ends_with_the_current_state(
    fewo, unit, day, monkeypatch, first, overtakes, change, start, length
):
    """A first push (a drain or a push of its own) of a backlog is on its way when a change (a booking, or
    a stay cancelled) and its own push come: that push lands before the first's request ("lands first"),
    after the first landed but before it finished ("lands between"), or after it finished. Once every due
    push has run, the platform shows every night as the PMS holds it."""
    import channelmgr.sync.drain as drain
    import channelmgr.sync.push as push

    Booking.objects.all().delete()
    DirtyRange.objects.all().delete()
    cache.clear()
    standing = booking_create(unit=unit, check_in=day(3), check_out=day(5))
    _dirty(fewo, day(1), day(8))
    platform = Platform()
    state = {"changed": False}

    def change_and_push():
        state["changed"] = True
        if change == "book":
            booking_create(unit=unit, check_in=day(start), check_out=day(start + length), overbook_on_clash=True)
        else:
            booking_cancel(booking=standing)
        _dirty(fewo, day(1), day(8), closes=change == "book")
        push_connection(connection_id=fewo.pk, kind=AVAILABILITY)

    def answer(request):
        if overtakes == "lands first" and not state["changed"]:
            change_and_push()
        platform.apply(request)
        return 200, {}, "{}"

    def after_landing(original):
        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            if overtakes == "lands between" and not state["changed"]:
                change_and_push()
            return result

        return wrapped

    monkeypatch.setattr(drain, "_send_wave", after_landing(drain._send_wave))
    monkeypatch.setattr(push, "push_request", after_landing(push.push_request))
    with responses.RequestsMock() as http:
        http.add_callback(responses.PUT, FEWO, callback=answer)
        if first == "drain":
            push_drain(kind=AVAILABILITY, connection_ids=[fewo.pk])
        else:
            push_connection(connection_id=fewo.pk, kind=AVAILABILITY)
        if not state["changed"]:
            change_and_push()
        _run_due_pushes(fewo)
    held = {n.date for n in calendar_nights(unit=unit, start=day(1), end=day(8)) if not n.available}
    shown = {day(n) for n in range(1, 8) if platform.status(day(n)) == "UNAVAILABLE"}
    assert shown == held


def test_a_push_that_died_with_its_claim_costs_a_few_pushes_not_one_every_few_seconds(fewo, unit, day):
    """A push killed mid-flight keeps its claim until it goes stale. A close-out of its nights meanwhile is
    pushed once more after less and less often (as long again as the claim's age): about ten requests in
    the ten minutes, and none once the claim is taken over."""
    died = timezone.now()
    _in_flight(fewo, day(1), day(8), by="killed")
    booking_create(unit=unit, check_in=day(2), check_out=day(4))
    _dirty(fewo, day(2), day(4), closes=True)
    platform = Platform()
    with responses.RequestsMock() as http:
        http.add_callback(responses.PUT, FEWO, callback=lambda request: platform.apply(request) or (200, {}, "{}"))
        with time_machine.travel(died + dt.timedelta(seconds=1), tick=False):
            assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "success"
        _run_due_pushes(fewo, limit=20)
        assert 2 <= len(http.calls) <= 12
    assert DirtyRange.objects.filter(connection=fewo).count() == 0
    # The dead push's nights were taken over once stale, and sent as they are.
    assert platform.status(day(2)) == "UNAVAILABLE" and platform.status(day(7)) == "AVAILABLE"
    assert STALE_CLAIM.total_seconds() == 600
