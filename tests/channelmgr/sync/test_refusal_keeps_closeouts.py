"""A value the platform refuses for good never lets a night be sold twice.

Invariant: once a connection's push was refused for good, every night an active stay or block holds is
still closed on that platform (as long as the platform takes close-outs at all), until a person resumes
the connection; then the whole window goes out as the PMS holds it.

It used to be: any permanent refusal (a minimum stay FeWo-direkt does not take, a price above a
platform's ceiling) set the whole connection aside, and no booking made elsewhere closed its nights
there any more. Now a refused value holds the connection to close-outs (``closeouts_only``): it still
gets the nights booked elsewhere, as closed and with no restriction to refuse, and nothing else; only a
refused close-out (the credentials, the listing) stops it whole.

The platform here is the fake FeWo-direkt of ``test_prices_reach_platforms`` (``responses``, each request
applied as it lands), which refuses what this test tells it to.
"""

# The fixtures come from the module whose fake platform this one extends.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import responses
from django.core.cache import cache

from alerts.models import Alert
from channelmgr.models import ChannelConnection, DirtyRange, SyncLog
from channelmgr.services.connections import connection_resume, connection_test
from channelmgr.sync.drain import push_drain
from channelmgr.sync.outbound import mark_dirty, push_sweep
from channelmgr.sync.push import push_connection
from pms_core.models import Booking
from pms_core.services import booking_create, calendar_set_prices
from pms_core.services.bookings import booking_cancel
from pms_core.services.calendar import calendar_set_restrictions
from tests.channelmgr.sync.test_prices_reach_platforms import (  # noqa: F401 (fixtures)
    AVAILABILITY,
    FEWO_AVAIL,
    FEWO_RATES,
    FEWO_RESERVATIONS,
    NOW,
    PRICING,
    FakePlatforms,
    _quick,
    clock,
    fewo,
    settle,
)

pytestmark = pytest.mark.django_db

MAX_MIN_STAY = 14  # this fake FeWo-direkt's longest minimum stay
MAX_PRICE = Decimal("5000")  # and its highest nightly rate


class Refusing(FakePlatforms):
    """FeWo-direkt that refuses, with a 400, a request carrying a minimum stay above ``MAX_MIN_STAY`` or a
    rate above ``MAX_PRICE``, and everything with a 401 once ``revoked``. Counts what it was sent."""

    def __init__(self):
        super().__init__()
        self.revoked = False
        self.sent = {"availability": 0, "rates": 0}
        self.meanwhile = None  # run once while the next availability request is on the wire

    def _refusal(self, problem: str | None):
        if self.revoked:
            return 401, {}, json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "API key revoked"}]})
        if problem:
            return 400, {}, json.dumps({"errors": [{"code": "INVALID_VALUE", "message": problem}]})
        return None

    def fewo_availability(self, request):
        self.sent["availability"] += 1
        if self.meanwhile:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        entries = json.loads(request.body)["entries"]
        too_long = [e for e in entries if e.get("minStay", 1) > MAX_MIN_STAY]
        refused = self._refusal(f"minStay {too_long[0]['minStay']} exceeds {MAX_MIN_STAY}" if too_long else None)
        return refused or super().fewo_availability(request)

    def fewo_rates(self, request):
        self.sent["rates"] += 1
        entries = json.loads(request.body)["entries"]
        too_dear = [e for e in entries if Decimal(e["nightlyRate"]) > MAX_PRICE]
        refused = self._refusal(f"nightlyRate {too_dear[0]['nightlyRate']} too high" if too_dear else None)
        return refused or super().fewo_rates(request)

    def ping(self, request):
        return self._refusal(None) or (200, {}, json.dumps({"ok": True}))


@pytest.fixture
def platform():
    fake = Refusing()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.PUT, FEWO_AVAIL, callback=fake.fewo_availability)
        http.add_callback(responses.PUT, FEWO_RATES, callback=fake.fewo_rates)
        http.add(responses.GET, FEWO_RESERVATIONS, json={"items": [], "page": 1, "hasMore": False})
        http.add_callback(responses.GET, re.compile(r".*/v1/ping$"), callback=fake.ping)
        yield fake


def _status(platform: Refusing, night: dt.date) -> str | None:
    return platform.night("L-1", night).get("status")


def _held(connection: ChannelConnection) -> ChannelConnection:
    return ChannelConnection.objects.get(pk=connection.pk)


def _refuse_a_minimum_stay(unit, fewo, platform, clock, day) -> None:
    """Settled, then a minimum stay FeWo-direkt does not take on days 5-7: the connection is held."""
    settle([fewo], clock)
    assert _status(platform, day(10)) == "AVAILABLE"
    calendar_set_restrictions(unit=unit, start=day(5), end=day(8), min_stay=MAX_MIN_STAY + 6)
    settle([fewo], clock)


def test_a_refused_minimum_stay_holds_the_connection_to_closeouts(unit, fewo, platform, clock, day):
    _refuse_a_minimum_stay(unit, fewo, platform, clock, day)

    held = _held(fewo)
    assert (held.status, held.closeouts_only) == (ChannelConnection.Status.NEEDS_ATTENTION, True)
    assert "minStay 20 exceeds 14" in held.last_error
    alert = Alert.objects.get(kind="connection")
    assert "refused one of our values" in alert.details and "still close" in alert.details
    assert SyncLog.objects.filter(connection=fewo, kind=AVAILABILITY, status=SyncLog.Status.FAILED).exists()


def test_a_booking_made_elsewhere_still_closes_its_nights_there(unit, fewo, platform, clock, day):
    """The heart of it: after the refusal, a direct booking's nights go out closed on FeWo-direkt. (They
    used to stay open there for good: the connection had been set aside whole.)"""
    _refuse_a_minimum_stay(unit, fewo, platform, clock, day)

    booking = booking_create(unit=unit, check_in=day(10), check_out=day(13))
    settle([fewo], clock)

    assert [_status(platform, day(n)) for n in (10, 11, 12, 13)] == ["UNAVAILABLE"] * 3 + ["AVAILABLE"]
    held = _held(fewo)
    assert held.closeouts_only and "minStay 20 exceeds 14" in held.last_error  # a push kept the reason

    # What opens a night waits for a person: a cancellation leaves the nights closed there (never open
    # too many), and so does a price: nothing but close-outs is sent.
    rates_before = platform.sent["rates"]
    booking_cancel(booking=Booking.objects.get(pk=booking.pk))
    calendar_set_prices(unit=unit, start=day(15), end=day(16), price=Decimal("199.00"))
    settle([fewo], clock)
    assert _status(platform, day(10)) == "UNAVAILABLE"
    assert platform.sent["rates"] == rates_before
    assert platform.night("L-1", day(15)).get("price") != "199.00"


def test_a_resume_after_the_fix_sends_the_whole_window(unit, fewo, platform, clock, day):
    _refuse_a_minimum_stay(unit, fewo, platform, clock, day)
    booking = booking_create(unit=unit, check_in=day(10), check_out=day(13))
    settle([fewo], clock)
    booking_cancel(booking=Booking.objects.get(pk=booking.pk))
    calendar_set_prices(unit=unit, start=day(15), end=day(16), price=Decimal("199.00"))
    settle([fewo], clock)

    calendar_set_restrictions(unit=unit, start=day(5), end=day(8), min_stay=7)  # staff fix the value
    connection_resume(connection=_held(fewo))
    settle([fewo], clock)

    held = _held(fewo)
    assert (held.status, held.closeouts_only, held.last_error) == (ChannelConnection.Status.ACTIVE, False, "")
    assert _status(platform, day(10)) == "AVAILABLE"
    assert platform.night("L-1", day(5)).get("min_stay") == 7
    assert platform.night("L-1", day(15)).get("price") == "199.00"


def test_a_push_refused_after_the_resume_that_fixed_its_value_does_not_hold_the_connection_again(
    unit, fewo, platform, clock, day
):
    """Used to fail. Two pushes carry a refused minimum stay. The first is refused and holds the connection;
    staff fix the value and resume while the second is still on the wire. The second's refusal is of the
    value as it was before the fix: it used to hold the connection again, with a reason staff had already
    dealt with, until a second resume."""
    settle([fewo], clock)
    calendar_set_restrictions(unit=unit, start=day(5), end=day(8), min_stay=MAX_MIN_STAY + 6)

    def first_refused_then_fixed_and_resumed():
        from channelmgr.services.connections_health import connection_mark_needs_attention

        connection_mark_needs_attention(connection_id=fewo.pk, error="minStay 20 exceeds 14", closeouts_only=True)
        calendar_set_restrictions(unit=unit, start=day(5), end=day(8), min_stay=7)
        connection_resume(connection=_held(fewo))

    platform.meanwhile = first_refused_then_fixed_and_resumed
    mark_dirty(connection=fewo, kinds=[AVAILABILITY], start=day(1), end=day(15), schedule=False)
    with pytest.raises(Exception, match="minStay 20 exceeds 14"):
        push_connection(connection_id=fewo.pk, kind=AVAILABILITY)

    held = _held(fewo)
    assert (held.status, held.closeouts_only) == (ChannelConnection.Status.ACTIVE, False), held.last_error
    settle([fewo], clock)
    assert platform.night("L-1", day(5)).get("min_stay") == 7
    assert _held(fewo).status == ChannelConnection.Status.ACTIVE


def test_a_refused_price_holds_prices_and_lets_bookings_close_nights(unit, fewo, platform, clock, day):
    settle([fewo], clock)
    calendar_set_prices(unit=unit, start=day(3), end=day(4), price=MAX_PRICE + 1)
    settle([fewo], clock)
    held = _held(fewo)
    assert (held.status, held.closeouts_only) == (ChannelConnection.Status.NEEDS_ATTENTION, True)
    assert "too high" in held.last_error

    booking_create(unit=unit, check_in=day(10), check_out=day(12))
    settle([fewo], clock)
    assert [_status(platform, day(n)) for n in (10, 11)] == ["UNAVAILABLE"] * 2


def test_a_refused_closeout_stops_the_connection_whole(unit, fewo, platform, clock, day):
    """Held to close-outs, then the key is revoked: a close-out is refused, so the connection stops
    whole, and staff are told again (their close-outs stopped). Nothing more is sent to it."""
    _refuse_a_minimum_stay(unit, fewo, platform, clock, day)
    platform.revoked = True
    booking_create(unit=unit, check_in=day(10), check_out=day(13))
    settle([fewo], clock)

    held = _held(fewo)
    assert (held.status, held.closeouts_only) == (ChannelConnection.Status.NEEDS_ATTENTION, False)
    assert "revoked" in held.last_error
    assert Alert.objects.filter(kind="connection").count() == 2
    assert "stopped syncing" in Alert.objects.filter(kind="connection").latest("pk").details

    sent = dict(platform.sent)
    booking_create(unit=unit, check_in=day(16), check_out=day(18))
    settle([fewo], clock)
    assert platform.sent == sent
    assert push_sweep(older_than_seconds=0) == 0


def test_a_refusal_in_a_drain_holds_the_connection_and_its_closeouts_go_at_once(
    unit, fewo, platform, clock, day, monkeypatch
):
    """The backlog path: a drained push refused for good holds the connection and hands its waiting
    close-outs to a push of its own at once; a drain then hands a held connection on rather than
    sending it the full form."""
    enqueued = []
    monkeypatch.setattr(
        "channelmgr.sync.push.push_enqueue", lambda **kwargs: enqueued.append((kwargs["connection_id"], kwargs["kind"]))
    )
    settle([fewo], clock)
    calendar_set_restrictions(unit=unit, start=day(5), end=day(8), min_stay=MAX_MIN_STAY + 6)
    booking_create(unit=unit, check_in=day(10), check_out=day(12))
    mark_dirty(connection=fewo, kinds=[AVAILABILITY], start=day(1), end=day(15), schedule=False)

    result = push_drain(kind=AVAILABILITY, connection_ids=[fewo.pk])
    assert result.pushed == []
    assert _held(fewo).closeouts_only
    assert enqueued == [(fewo.pk, AVAILABILITY)]
    assert _status(platform, day(10)) == "AVAILABLE"  # not yet: the push of its own sends it

    again = push_drain(kind=AVAILABILITY, connection_ids=[fewo.pk])
    assert again.alone == {fewo.pk: 0.0} and again.requests == 0

    push_connection(connection_id=fewo.pk, kind=AVAILABILITY)
    assert [_status(platform, day(n)) for n in (10, 11, 12)] == ["UNAVAILABLE", "UNAVAILABLE", "AVAILABLE"]
    assert not DirtyRange.objects.filter(connection=fewo, kind=AVAILABILITY).exists()


def test_the_sweep_schedules_a_held_connections_closeouts_but_not_its_prices(unit, fewo, platform, clock, day):
    _refuse_a_minimum_stay(unit, fewo, platform, clock, day)
    # No push is scheduled (on Redis the flags of the pushes above outlive the travelled clock).
    cache.clear()
    mark_dirty(connection=fewo, kinds=[PRICING], start=day(1), end=day(2), schedule=False)
    assert push_sweep(older_than_seconds=0) == 0  # the pricing row waits for a resume

    mark_dirty(connection=fewo, kinds=[AVAILABILITY], start=day(1), end=day(2), schedule=False)
    assert push_sweep(older_than_seconds=0) == 1


def test_a_passing_test_does_not_resume_a_held_connection(unit, fewo, platform, clock, day):
    """The credentials work (the test passes), but the test says nothing of the refused value: the
    connection stays held until a person resumes it. (A test used to resume it, and the next push sent
    the refused value again.)"""
    _refuse_a_minimum_stay(unit, fewo, platform, clock, day)
    result = connection_test(connection=_held(fewo))
    assert result.healthy
    held = _held(fewo)
    assert (held.status, held.closeouts_only) == (ChannelConnection.Status.NEEDS_ATTENTION, True)


def test_a_passing_fault_does_not_hide_the_refusal_staff_must_fix(unit, fewo, platform, clock, day):
    """Held to close-outs, a close-out meets a timeout: it is retried, and the connection still says what
    was refused (a person must act on that, not on the timeout)."""
    from adapters.base import PlatformAPIError as Error
    from channelmgr.services.connections_health import connection_record_failure

    _refuse_a_minimum_stay(unit, fewo, platform, clock, day)
    connection_record_failure(connection=_held(fewo), exc=Error("fewo_direkt: timed out", permanent=False))
    held = _held(fewo)
    assert "minStay 20 exceeds 14" in held.last_error and held.healthy is False


def test_a_connection_reconnected_after_its_credentials_were_refused_gets_what_it_missed(
    unit, fewo, platform, clock, day
):
    """Stopped whole (its key refused), then new tokens are stored (``connection_store_tokens``, what an
    OAuth reconnect does): a booking made elsewhere meanwhile closes its nights there. (The reconnect put
    it back to active without a sync: nothing had been marked on it while it was out, so those nights
    stayed open there for good.)"""
    from adapters.base import TokenSet
    from channelmgr.services.connections import connection_store_tokens
    from channelmgr.services.connections_health import connection_mark_needs_attention

    settle([fewo], clock)
    connection_mark_needs_attention(connection_id=fewo.pk, error="HTTP 401: API key revoked")
    booking_create(unit=unit, check_in=day(10), check_out=day(12))
    settle([fewo], clock)
    assert _status(platform, day(10)) == "AVAILABLE"  # out: nothing goes to it

    connection_store_tokens(connection=_held(fewo), tokens=TokenSet("new", "new-r", NOW + dt.timedelta(hours=1)))
    settle([fewo], clock)
    assert _held(fewo).status == ChannelConnection.Status.ACTIVE
    assert [_status(platform, day(n)) for n in (10, 11, 12)] == ["UNAVAILABLE", "UNAVAILABLE", "AVAILABLE"]
