"""The drain: many connections' pushes of one kind in one message (``channelmgr.sync.drain``).

Invariants:
- after a drain, no range is left claimed: each connection's due nights either went out (its ranges are
  clean, its push has one SUCCESS row, and the platform got the current state) or are dirty again, and
  that connection has a push of its own on the way (unless the platform refused it for good);
- a connection that is not the common case (a hotel with rooms to batch, a change still inside its
  debounce, a full limiter) gets a push of its own and no request from the drain;
- the drain's statements do not grow with its connections: that is what it is for.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from decimal import Decimal

import pytest
import responses
from django.core.cache import cache
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import PlatformAPIError
from channelmgr.models import ChannelConnection, DirtyRange, SyncLog
from channelmgr.sync.drain import DRAIN_SENDS, RETRY_ALONE_SECONDS, push_drain
from channelmgr.sync.outbound import mark_dirty
from channelmgr.sync.push import LATE_WRITE_SECONDS, deferred_key
from pms_core.models import CalendarDay, Unit
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db
FEWO = re.compile(r".*/v1/listings/(L-\d+)/availability$")
FEWO_RATES = re.compile(r".*/v1/listings/(L-\d+)/rates$")
BOOKING_RATES = re.compile(r".*/hotels/ota/OTA_HotelRateAmountNotif$")
BOOKING_OK = (
    '<?xml version="1.0" encoding="UTF-8"?><OTA_HotelRateAmountNotifRS xmlns="http://www.opentravel.org/OTA/2003/05"'
    ' Version="1.000"><Success/></OTA_HotelRateAmountNotifRS>'
)
AVAILABILITY, PRICING = DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING


@pytest.fixture(autouse=True)
def _no_debounce(settings):
    settings.PUSH_DEBOUNCE_SECONDS = 0.0  # each push runs when called, unless a test says otherwise
    cache.clear()


def _fewo(units: list[Unit], *, shared_key: bool = False, **limits) -> list[ChannelConnection]:
    return [
        ChannelConnection.objects.create(
            organization=unit.property.organization,
            unit=unit,
            platform_type="fewo_direkt",
            platform_listing_id=f"L-{i}",
            api_key="one-key" if shared_key else f"key-{i}",
            **limits,
        )
        for i, unit in enumerate(units)
    ]


def _units(unit, count: int) -> list[Unit]:
    return [unit] + [
        Unit.objects.create(property=unit.property, name=f"Unit {i}", base_price=Decimal("100.00"))
        for i in range(1, count)
    ]


def _dirty(connections, kind, start, end):
    for connection in connections:
        mark_dirty(connection=connection, kinds=[kind], start=start, end=end, schedule=False)


def _listing(call, pattern=FEWO) -> str:
    return pattern.match(call.request.url).group(1)


def _listing_of(request, pattern=FEWO) -> str:
    return pattern.match(request.url).group(1)


def test_a_drain_pushes_every_connection_the_current_state_and_leaves_nothing_dirty(unit, day):
    connections = _fewo(_units(unit, 4))
    booking_create(unit=connections[1].unit, check_in=day(2), check_out=day(4))
    _dirty(connections, AVAILABILITY, day(1), day(6))
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO, json={})
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
        sent = {_listing(call): json.loads(call.request.body)["entries"] for call in http.calls}
    assert sorted(result.pushed) == sorted(c.pk for c in connections)
    assert not result.alone and result.requests == 4
    assert sorted(sent) == ["L-0", "L-1", "L-2", "L-3"]
    # The booked unit's nights are closed there, and only there.
    assert [(e["from"], e["status"]) for e in sent["L-1"]] == [
        ("2027-07-01", "AVAILABLE"),
        ("2027-07-02", "UNAVAILABLE"),
        ("2027-07-04", "AVAILABLE"),
    ]
    assert all(e["status"] == "AVAILABLE" for e in sent["L-0"])
    assert not DirtyRange.objects.exists()
    logs = SyncLog.objects.filter(connection__in=connections)
    assert sorted(logs.values_list("connection_id", "status", "request_count")) == sorted(
        (c.pk, SyncLog.Status.SUCCESS, 1) for c in connections
    )
    assert all(log.details["drained"] and log.finished_at for log in logs)
    assert ChannelConnection.objects.filter(pk__in=[c.pk for c in connections], last_push_at__isnull=True).count() == 0


def test_a_close_out_made_while_a_drain_sends_is_not_overwritten_with_what_it_read_before(unit, day, monkeypatch):
    """A booking lands on the last connection's unit while the drain is still sending to the first: by the
    time the drain reaches it, what it read is older than ``FRESH_READ_SECONDS`` (0 here), so it reads
    again and sends the nights closed. (The booking's own push would have sent them closed already; the
    drain must not reopen them after it.)"""
    import channelmgr.sync.drain as drain

    monkeypatch.setattr(drain, "FRESH_READ_SECONDS", 0.0)
    connections = _fewo(_units(unit, 3))
    _dirty(connections, AVAILABILITY, day(1), day(6))
    booked = []

    def answer(request):
        if _listing_of(request) == "L-0" and not booked:
            booked.append(booking_create(unit=connections[2].unit, check_in=day(2), check_out=day(4)))
        return 200, {}, "{}"

    with responses.RequestsMock() as http:
        http.add_callback(responses.PUT, FEWO, callback=answer)
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
        sent = {_listing(call): json.loads(call.request.body)["entries"] for call in http.calls}
    assert booked and sorted(result.pushed) == sorted(c.pk for c in connections)
    assert [(e["from"], e["status"]) for e in sent["L-2"]] == [
        ("2027-07-01", "AVAILABLE"),
        ("2027-07-02", "UNAVAILABLE"),
        ("2027-07-04", "AVAILABLE"),
    ]


def test_nights_read_again_build_items_again_only_where_they_changed(unit, day, monkeypatch):
    """Reading again is for a change since: where the nights read again are the ones read before, the items
    built from them stand; where a booking changed them, they are built again (and sent closed)."""
    import channelmgr.sync.drain as drain

    monkeypatch.setattr(drain, "FRESH_READ_SECONDS", 0.0)
    connections = _fewo(_units(unit, 3))
    _dirty(connections, AVAILABILITY, day(1), day(6))
    built = []
    build = drain.push_items

    def push_items(connection, *args, **kwargs):
        built.append(connection.platform_listing_id)
        return build(connection, *args, **kwargs)

    def answer(request):
        if _listing_of(request) == "L-0" and not built.count("booked"):
            built.append("booked")
            booking_create(unit=connections[2].unit, check_in=day(2), check_out=day(4))
        return 200, {}, "{}"

    monkeypatch.setattr(drain, "push_items", push_items)
    with responses.RequestsMock() as http:
        http.add_callback(responses.PUT, FEWO, callback=answer)
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
        sent = {_listing(call): json.loads(call.request.body)["entries"] for call in http.calls}
    assert sorted(result.pushed) == sorted(c.pk for c in connections)
    assert built == ["L-0", "L-1", "L-2", "booked", "L-2"]
    assert [e["status"] for e in sent["L-1"]] == ["AVAILABLE"]
    assert [(e["from"], e["status"]) for e in sent["L-2"]][1] == ("2027-07-02", "UNAVAILABLE")


def test_a_long_drain_reads_each_connection_again_once_not_every_waiting_one_each_time(unit, day, monkeypatch):
    """Reading again is for what goes out next: a drain whose every send outlasts ``FRESH_READ_SECONDS``
    (0 here) reads each connection's nights at most twice, not once per send before it (quadratic: a full
    sync's year of nights read over and over)."""
    import channelmgr.sync.drain as drain

    monkeypatch.setattr(drain, "FRESH_READ_SECONDS", 0.0)
    connections = _fewo(_units(unit, 6))
    _dirty(connections, AVAILABILITY, day(1), day(6))
    read = []
    nights_many = drain.calendar_nights_many

    def calendar_nights_many(*, wanted, **kwargs):
        read.extend(u.pk for u, _start, _end in wanted)
        return nights_many(wanted=wanted, **kwargs)

    monkeypatch.setattr(drain, "calendar_nights_many", calendar_nights_many)
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO, json={})
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
    assert sorted(result.pushed) == sorted(c.pk for c in connections)
    assert sorted(read) == sorted(2 * [c.unit_id for c in connections])


def test_a_connection_whose_items_cannot_be_built_goes_alone_and_the_others_go_through(unit, day, monkeypatch):
    import channelmgr.sync.drain as drain

    connections = _fewo(_units(unit, 3))
    bad = connections[1]
    _dirty(connections, PRICING, day(1), day(4))
    build = drain.push_items

    def push_items(connection, *args, **kwargs):
        if connection.pk == bad.pk:
            raise ValueError("a price its rule cannot express")
        return build(connection, *args, **kwargs)

    monkeypatch.setattr(drain, "push_items", push_items)
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO_RATES, json={})
        result = push_drain(kind=PRICING, connection_ids=[c.pk for c in connections])
    assert sorted(result.pushed) == sorted(c.pk for c in connections if c.pk != bad.pk)
    assert result.alone == {bad.pk: RETRY_ALONE_SECONDS}  # its own push fails or succeeds on its own
    assert DirtyRange.objects.filter(connection=bad, claimed_by="").exists()
    assert not DirtyRange.objects.exclude(claimed_by="").exists()
    assert not SyncLog.objects.filter(status=SyncLog.Status.RUNNING).exists()


def test_an_interrupted_drain_leaves_nothing_claimed_no_row_running_and_still_hands_off(
    unit, day, settings, monkeypatch
):
    """Its bookkeeping fails after the requests went out (or the worker stops it): the claims go back,
    its rows say so, and the connections it had handed off still get their pushes."""
    import channelmgr.sync.drain as drain

    connections = _fewo(_units(unit, 3))
    settings.PUSH_DEBOUNCE_SECONDS = 30.0
    _dirty(connections[:1], PRICING, day(1), day(4))  # still inside its debounce: handed off
    DirtyRange.objects.update(created_at=timezone.now())
    settled = connections[1:]
    _dirty(settled, PRICING, day(1), day(4))
    DirtyRange.objects.filter(connection__in=settled).update(created_at=timezone.now() - dt.timedelta(seconds=40))
    handed = []
    monkeypatch.setattr(drain, "push_enqueue", lambda **kw: handed.append(kw["connection_id"]))

    def finish(*_args):
        raise RuntimeError("database went away")

    monkeypatch.setattr(drain, "_finish", finish)
    with responses.RequestsMock() as http, pytest.raises(RuntimeError):
        http.add(responses.PUT, FEWO_RATES, json={})
        push_drain(kind=PRICING, connection_ids=[c.pk for c in connections])
    assert handed == [connections[0].pk]
    assert not DirtyRange.objects.exclude(claimed_by="").exists()
    # Dirty for the retry, and once more when the requests it sent can no longer land late.
    left = DirtyRange.objects.filter(connection__in=settled)
    assert left.filter(not_before__isnull=True).count() == 2
    later = timezone.now() + dt.timedelta(seconds=LATE_WRITE_SECONDS - 1)
    assert sorted(left.filter(not_before__gt=later).values_list("connection_id", flat=True)) == [c.pk for c in settled]
    rows = SyncLog.objects.filter(connection__in=settled)
    assert {(r.status, r.error) for r in rows} == {(SyncLog.Status.FAILED, "drain interrupted: RuntimeError")}


def _platform_by_platform(units: list[Unit]) -> tuple[list[ChannelConnection], list[ChannelConnection]]:
    """Each unit's FeWo-direkt connection, then each one's Airbnb: a unit's connections' ids are apart."""
    fewo = _fewo(units)
    airbnb = [
        ChannelConnection.objects.create(
            organization=u.property.organization, unit=u, platform_type="airbnb", platform_listing_id=f"A-{i}"
        )
        for i, u in enumerate(units)
    ]
    return fewo, airbnb


def _unit_by_unit(*platforms: list[ChannelConnection]) -> list[int]:
    return [c.pk for of_unit in zip(*platforms, strict=True) for c in of_unit]


def test_the_sweep_lists_a_units_connections_together(unit, day, monkeypatch):
    """Connections made platform by platform (each unit's FeWo-direkt, then each one's Airbnb) are swept
    unit by unit, so a drain holds a unit's connections together and reads its nights once."""
    from channelmgr.sync import dispatch
    from channelmgr.sync.outbound import push_sweep

    units = _units(unit, 3)
    fewo, airbnb = _platform_by_platform(units)
    _dirty(fewo + airbnb, PRICING, day(1), day(4))
    DirtyRange.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    drains, alone = _Recorder(), _Recorder()
    monkeypatch.setattr(dispatch, "_drain_actor", drains)
    monkeypatch.setattr(dispatch, "_push_actors", {PRICING: alone})
    assert push_sweep() == 6
    assert [pk for args, _d in drains.sent for pk in args[1]] == _unit_by_unit(fewo, airbnb)


def test_a_sweep_finding_only_pushes_already_scheduled_goes_on_to_the_next_kind(unit, day, monkeypatch):
    """Every connection with dirty availability already has its push scheduled; the sweep schedules
    nothing for availability and still schedules the pricing pushes. (It used to divide by zero drains
    there, so the sweep failed before reaching pricing, every 30 s until those schedules expired.)"""
    from channelmgr.sync import dispatch
    from channelmgr.sync.debounce import scheduled_key
    from channelmgr.sync.outbound import push_sweep

    units = _units(unit, 2)
    fewo, airbnb = _platform_by_platform(units)
    _dirty(fewo + airbnb, AVAILABILITY, day(1), day(4))
    _dirty(fewo + airbnb, PRICING, day(1), day(4))
    DirtyRange.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    for connection in fewo + airbnb:
        cache.set(scheduled_key(AVAILABILITY, connection.pk), 1)
    drains, alone = _Recorder(), _Recorder()
    monkeypatch.setattr(dispatch, "_drain_actor", drains)
    monkeypatch.setattr(dispatch, "_push_actors", {AVAILABILITY: alone, PRICING: alone})
    assert push_sweep() == 4
    assert [args[0] for args, _d in drains.sent] == [PRICING] and not alone.sent


def test_a_queued_full_sync_lists_a_units_connections_together(unit, monkeypatch):
    """``manage.py sync`` queues every active connection's full push, unit by unit, as the sweep does."""
    from io import StringIO

    from django.core.management import call_command

    from channelmgr.sync import dispatch

    units = _units(unit, 2)
    fewo, airbnb = _platform_by_platform(units)
    drains, alone = _Recorder(), _Recorder()
    monkeypatch.setattr(dispatch, "_drain_actor", drains)
    monkeypatch.setattr(dispatch, "_push_actors", {AVAILABILITY: alone, PRICING: alone})
    call_command("sync", "--days", "30", stdout=StringIO())
    by_unit = _unit_by_unit(fewo, airbnb)
    assert not alone.sent
    assert [(args[0], list(args[1])) for args, _d in drains.sent] == [(AVAILABILITY, by_unit), (PRICING, by_unit)]


def test_ranges_claimed_by_a_push_that_died_are_swept_and_drained(unit, day, monkeypatch):
    from channelmgr.sync import dispatch
    from channelmgr.sync.outbound import push_sweep

    connections = _fewo(_units(unit, 2))
    _dirty(connections, PRICING, day(1), day(4))
    long_ago = timezone.now() - dt.timedelta(minutes=11)
    DirtyRange.objects.update(claimed_by="dead-worker", claimed_at=long_ago, created_at=long_ago)
    drains, alone = _Recorder(), _Recorder()
    monkeypatch.setattr(dispatch, "_drain_actor", drains)
    monkeypatch.setattr(dispatch, "_push_actors", {PRICING: alone})
    assert push_sweep() == 2 and [sorted(args[1]) for args, _d in drains.sent] == [sorted(c.pk for c in connections)]
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO_RATES, json={})
        result = push_drain(kind=PRICING, connection_ids=[c.pk for c in connections])
    assert sorted(result.pushed) == sorted(c.pk for c in connections) and not DirtyRange.objects.exists()


def test_the_drains_statements_do_not_grow_with_its_connections(unit, day):
    connections = _fewo(_units(unit, 12))

    def statements(chosen) -> int:
        _dirty(chosen, PRICING, day(1), day(31))
        with responses.RequestsMock() as http, CaptureQueriesContext(db) as queries:
            http.add(responses.PUT, FEWO_RATES, json={})
            assert len(push_drain(kind=PRICING, connection_ids=[c.pk for c in chosen]).pushed) == len(chosen)
        return len(queries)

    assert statements(connections[:2]) == statements(connections[2:])  # 2 connections, then 10


def test_a_failure_stays_with_its_connection_and_the_others_go_through(unit, day):
    connections = _fewo(_units(unit, 3))
    _dirty(connections, AVAILABILITY, day(1), day(4))
    with responses.RequestsMock() as http:
        http.add(responses.PUT, re.compile(r".*/v1/listings/L-1/availability$"), status=503)
        http.add(responses.PUT, FEWO, json={})
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
    failed = connections[1]
    assert sorted(result.pushed) == [connections[0].pk, connections[2].pk]
    assert result.alone == {failed.pk: RETRY_ALONE_SECONDS}  # its own push retries it
    # Its nights are dirty again (and once more after a late write could land); nothing stays claimed.
    assert DirtyRange.objects.filter(connection=failed, not_before__isnull=True).exists()
    assert not DirtyRange.objects.exclude(claimed_by="").exists()
    assert not DirtyRange.objects.exclude(connection=failed).exists()
    assert SyncLog.objects.get(connection=failed).status == SyncLog.Status.FAILED
    failed.refresh_from_db()
    assert not failed.healthy


def test_a_refusal_for_good_is_not_retried(unit, day):
    connections = _fewo(_units(unit, 2))
    _dirty(connections, AVAILABILITY, day(1), day(4))
    with responses.RequestsMock() as http:
        http.add(
            responses.PUT,
            re.compile(r".*/v1/listings/L-0/availability$"),
            status=400,
            json={"errors": [{"code": "INVALID", "message": "no"}]},
        )
        http.add(responses.PUT, FEWO, json={})
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
    assert result.pushed == [connections[1].pk] and not result.alone
    connections[0].refresh_from_db()
    assert connections[0].status == ChannelConnection.Status.NEEDS_ATTENTION
    assert DirtyRange.objects.filter(connection=connections[0], claimed_by="").exists()


def test_a_full_limiter_defers_its_connection_to_a_push_of_its_own(unit, day):
    # Two listings on one account allowed one request a minute: the second waits, on one row.
    connections = _fewo(_units(unit, 2), shared_key=True, rate_limit=1, rate_window=60.0)
    _dirty(connections, AVAILABILITY, day(1), day(4))
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO, json={})
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
        assert len(http.calls) == 1
    deferred = connections[1]
    assert result.pushed == [connections[0].pk]
    assert 0 < result.alone[deferred.pk] <= 61
    assert DirtyRange.objects.filter(connection=deferred, claimed_by="").exists()
    row = SyncLog.objects.get(connection=deferred)
    assert row.status == SyncLog.Status.SKIPPED and row.details["deferrals"] == 1


def test_a_quick_platform_gets_one_request_at_a_time_from_the_drains_own_thread(unit, day):
    """Locally the CPU bounds a drain, and threads would only add to it."""
    connections = _fewo(_units(unit, 4))
    _dirty(connections, AVAILABILITY, day(1), day(4))
    threads = set()

    def answer(_request):
        threads.add(threading.current_thread())
        return 200, {}, "{}"

    with responses.RequestsMock() as http:
        http.add_callback(responses.PUT, FEWO, callback=answer)
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
    assert len(result.pushed) == 4 and threads == {threading.current_thread()}


def test_a_slow_platform_gets_several_requests_in_flight_at_once(unit, day, monkeypatch):
    """Once a request shows the platform is slow to answer, the rest go ``DRAIN_SENDS`` at a time: each
    answer after the first waits (with a deadline) until that many requests are in flight together, which
    would fail every push were they sent one after another."""
    import channelmgr.sync.drain as drain

    monkeypatch.setattr(drain, "SLOW_REQUEST_SECONDS", 0.0)
    connections = _fewo(_units(unit, 1 + 2 * DRAIN_SENDS))
    _dirty(connections, AVAILABILITY, day(1), day(4))
    together = threading.Barrier(DRAIN_SENDS, timeout=30)

    def answer(request):
        if _listing_of(request) != "L-0":
            together.wait()  # BrokenBarrierError (a failed push) if they went one at a time
        return 200, {}, "{}"

    with responses.RequestsMock() as http:
        http.add_callback(responses.PUT, FEWO, callback=answer)
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
    assert sorted(result.pushed) == sorted(c.pk for c in connections) and not result.alone
    assert SyncLog.objects.filter(status=SyncLog.Status.SUCCESS).count() == len(connections)
    assert not DirtyRange.objects.exists()


def test_sender_threads_keep_their_cache_clients_instead_of_building_one_a_request(unit, day, monkeypatch):
    """The guard reads the shared cache (limiter, breaker) on every request. Each sender thread builds
    its cache client once, like any thread: sent from a copy of the drain thread's context, every send
    built a client of its own (on Redis, a connection pool and a TCP connection, then dropped)."""
    from django.core.cache import caches

    import channelmgr.sync.drain as drain

    monkeypatch.setattr(drain, "SLOW_REQUEST_SECONDS", 0.0)
    connections = _fewo(_units(unit, 1 + 3 * DRAIN_SENDS))
    _dirty(connections, AVAILABILITY, day(1), day(4))
    built = []
    create = type(caches).create_connection
    monkeypatch.setattr(
        type(caches), "create_connection", lambda self, alias: built.append(alias) or create(self, alias)
    )
    sent = []

    def answer(request):
        sent.append(threading.current_thread())
        return 200, {}, "{}"

    with responses.RequestsMock() as http:
        http.add_callback(responses.PUT, FEWO, callback=answer)
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
    assert len(result.pushed) == len(connections)
    assert len({t for t in sent if t is not threading.current_thread()}) > 1  # it did send side by side
    assert len(built) <= DRAIN_SENDS, f"{len(built)} cache clients built for {len(sent)} requests"


def test_a_failure_on_a_sender_thread_is_recorded_by_the_drain_like_any_other(unit, day, monkeypatch):
    import channelmgr.sync.drain as drain

    monkeypatch.setattr(drain, "SLOW_REQUEST_SECONDS", 0.0)
    connections = _fewo(_units(unit, 3))
    failed = connections[2]
    _dirty(connections, AVAILABILITY, day(1), day(4))
    with responses.RequestsMock() as http:
        http.add(responses.PUT, re.compile(r".*/v1/listings/L-2/availability$"), status=503)
        http.add(responses.PUT, FEWO, json={})
        result = push_drain(kind=AVAILABILITY, connection_ids=[c.pk for c in connections])
    assert sorted(result.pushed) == sorted(c.pk for c in connections[:2])
    assert result.alone == {failed.pk: RETRY_ALONE_SECONDS}
    assert SyncLog.objects.get(connection=failed).status == SyncLog.Status.FAILED
    assert DirtyRange.objects.filter(connection=failed, claimed_by="").exists()
    assert not DirtyRange.objects.exclude(claimed_by="").exists()


def test_an_expired_token_goes_to_a_push_of_its_own_on_the_same_row(unit, day, monkeypatch):
    """A token refresh writes to the database, which a drain keeps out of its sender threads: the
    connection whose token expired goes to its own push (which refreshes it), on this push's row."""
    import channelmgr.sync.drain as drain

    connections = _fewo(_units(unit, 3))
    expired = connections[1]
    _dirty(connections, PRICING, day(1), day(4))
    send = drain.push_request

    def push_request(connection, kind, items, *, refresh_token=True):
        if connection.pk == expired.pk:
            raise PlatformAPIError("HTTP 401 invalid_token", permanent=False, status=401, code="token_expired")
        return send(connection, kind, items, refresh_token=refresh_token)

    monkeypatch.setattr(drain, "push_request", push_request)
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO_RATES, json={})
        result = push_drain(kind=PRICING, connection_ids=[c.pk for c in connections])
    assert sorted(result.pushed) == sorted(c.pk for c in connections if c.pk != expired.pk)
    assert result.alone == {expired.pk: 0.0}
    assert DirtyRange.objects.filter(connection=expired, claimed_by="").exists()
    row = SyncLog.objects.get(connection=expired)
    assert row.status == SyncLog.Status.SKIPPED and "token expired" in row.error
    assert cache.get(deferred_key(expired.pk, PRICING)) == row.pk  # its own push carries on this row
    expired.refresh_from_db()
    assert expired.healthy is not False and expired.status == ChannelConnection.Status.ACTIVE  # not a failure


def test_a_change_inside_its_debounce_waits_in_a_push_of_its_own(unit, day, settings):
    settings.PUSH_DEBOUNCE_SECONDS = 30.0
    settings.PUSH_MAX_WAIT_SECONDS = 60.0
    waiting, settled = _fewo(_units(unit, 2))
    _dirty([waiting, settled], PRICING, day(1), day(4))
    DirtyRange.objects.filter(connection=settled).update(created_at=timezone.now() - dt.timedelta(seconds=40))
    with responses.RequestsMock() as http:
        http.add(responses.PUT, FEWO_RATES, json={})
        result = push_drain(kind=PRICING, connection_ids=[waiting.pk, settled.pk])
        assert [_listing(call, FEWO_RATES) for call in http.calls] == [settled.platform_listing_id]
    assert result.pushed == [settled.pk]
    assert 25 < result.alone[waiting.pk] <= 30
    assert DirtyRange.objects.filter(connection=waiting, claimed_by="").count() == 1


def test_a_room_type_with_siblings_goes_alone_and_a_hotel_of_one_unit_is_drained(unit, day):
    units = _units(unit, 3)

    def room(unit, hotel, room_id):
        return ChannelConnection.objects.create(
            organization=unit.property.organization,
            unit=unit,
            platform_type="booking_com",
            platform_listing_id=hotel,
            platform_metadata={"room_id": room_id},
            username="bdc-user",
            password="bdc-pass",
        )

    siblings = [room(units[0], "H1", "R1"), room(units[1], "H1", "R2")]
    solo = room(units[2], "H2", "R1")
    _dirty([*siblings, solo], PRICING, day(1), day(4))
    with responses.RequestsMock() as http:
        http.add(responses.POST, BOOKING_RATES, body=BOOKING_OK, content_type="application/xml")
        result = push_drain(kind=PRICING, connection_ids=[*(s.pk for s in siblings), solo.pk])
        assert len(http.calls) == 1 and b'HotelCode="H2"' in http.calls[0].request.body
    assert result.pushed == [solo.pk]
    assert result.alone == {s.pk: 0.0 for s in siblings}  # their own pushes batch the hotel
    assert DirtyRange.objects.filter(connection__in=siblings, claimed_by="").count() == 2


def test_a_platform_that_takes_no_push_and_an_inactive_connection_are_not_drained(unit, day):
    feed = ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="ical",
        platform_listing_id="feed",
        feed_url="https://example.com/feed.ics",
    )
    (paused,) = _fewo(_units(unit, 1))
    _dirty([feed, paused], PRICING, day(1), day(4))
    ChannelConnection.objects.filter(pk=paused.pk).update(status=ChannelConnection.Status.PAUSED)
    with responses.RequestsMock():
        result = push_drain(kind=PRICING, connection_ids=[feed.pk, paused.pk])
    assert result.alone == {feed.pk: 0.0} and not result.pushed
    assert DirtyRange.objects.filter(connection=paused, claimed_by="").exists()  # kept for its resume


OUTCOMES = st.sampled_from(["ok", "ok", "ok", "unavailable", "refused", "timeout"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    outcomes=st.lists(OUTCOMES, min_size=1, max_size=6),
    spans=st.lists(st.tuples(st.integers(0, 20), st.integers(1, 10)), min_size=1, max_size=8),
    prices=st.lists(st.integers(50, 400), min_size=1, max_size=5),
)
def test_any_mix_of_outcomes_leaves_every_night_pushed_or_dirty(unit, outcomes, spans, prices):
    """Whatever each platform answers: nothing stays claimed; a connection the platform took has no
    dirty nights left and got the current price of every night it had dirty; the others keep every
    night they had dirty, and only a refusal for good leaves one without a push of its own."""
    DirtyRange.objects.all().delete()
    ChannelConnection.objects.all().delete()
    CalendarDay.objects.all().delete()
    cache.clear()
    units = _units(unit, len(outcomes)) if len(outcomes) > 1 else [unit]
    connections = _fewo(units)
    start = dt.date(2027, 7, 1)
    for i, unit_ in enumerate(units):
        CalendarDay.objects.create(
            unit=unit_, date=start + dt.timedelta(days=i), price=Decimal(prices[i % len(prices)])
        )
    wanted: dict[int, set[dt.date]] = {}
    for i, connection in enumerate(connections):
        first, length = spans[i % len(spans)]
        a = start + dt.timedelta(days=first)
        _dirty([connection], PRICING, a, a + dt.timedelta(days=length))
        wanted[connection.pk] = {a + dt.timedelta(days=n) for n in range(length)}
    answers = {f"L-{i}": outcome for i, outcome in enumerate(outcomes)}
    got: dict[str, dict[dt.date, str]] = {}

    def answer(request):
        listing = FEWO_RATES.match(request.url).group(1)
        outcome = answers[listing]
        if outcome == "timeout":
            import requests

            raise requests.Timeout("read timed out")
        if outcome == "unavailable":
            return 503, {}, "{}"
        if outcome == "refused":
            return 400, {}, json.dumps({"errors": [{"code": "INVALID", "message": "no"}]})
        for entry in json.loads(request.body)["entries"]:
            first, last = dt.date.fromisoformat(entry["from"]), dt.date.fromisoformat(entry["to"])
            while first <= last:
                got.setdefault(listing, {})[first] = entry["nightlyRate"]
                first += dt.timedelta(days=1)
        return 200, {}, "{}"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.PUT, FEWO_RATES, callback=answer)
        result = push_drain(kind=PRICING, connection_ids=[c.pk for c in connections])
    assert not DirtyRange.objects.exclude(claimed_by="").exists()
    for i, connection in enumerate(connections):
        listing, outcome = f"L-{i}", outcomes[i]
        left = set()
        for start_, end in DirtyRange.objects.filter(connection=connection).values_list("start", "end"):
            left |= {start_ + dt.timedelta(days=n) for n in range((end - start_).days)}
        if outcome == "ok":
            assert connection.pk in result.pushed and not left
            unit_ = connection.unit
            for night in wanted[connection.pk]:
                override = CalendarDay.objects.filter(unit=unit_, date=night).first()
                price = override.price if override and override.price is not None else unit_.base_price
                assert Decimal(str(got[listing][night])) == price
        else:
            assert connection.pk not in result.pushed and wanted[connection.pk] <= left
            assert (connection.pk in result.alone) == (outcome != "refused")


class _Recorder:
    def __init__(self):
        self.sent: list[tuple[tuple, int | None]] = []

    def send_with_options(self, *, args=(), delay=None, **_options):
        self.sent.append((args, delay))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(2, 300), delay=st.sampled_from([0.0, 1.5]))
def test_a_backlog_goes_as_drains_of_even_size_each_connection_once(monkeypatch, count, delay):
    """No drain holds more than ``DRAIN_SIZE`` connections, their sizes differ by one at most (drains run
    side by side, so the largest sets the pace), and every connection is in exactly one. (``monkeypatch``
    sets the same two attributes for every example.)"""
    from channelmgr.sync import dispatch

    drains, alone = _Recorder(), _Recorder()
    monkeypatch.setattr(dispatch, "_drain_actor", drains)
    monkeypatch.setattr(dispatch, "_push_actors", {PRICING: alone})
    ids = list(range(1, count + 1))
    dispatch.push_enqueue_many(connection_ids=ids, kind=PRICING, delay_seconds=delay)
    sizes = [len(args[1]) for args, _delay in drains.sent]
    assert not alone.sent and max(sizes) <= dispatch.DRAIN_SIZE and max(sizes) - min(sizes) <= 1
    # Runs of the list as given, in order: a caller that lists a unit's connections together keeps them
    # together (one read of its nights).
    assert [pk for args, _delay in drains.sent for pk in args[1]] == ids
    assert {args[0] for args, _delay in drains.sent} == {PRICING}
    assert {d for _args, d in drains.sent} == {int(delay * 1000) if delay else None}


def test_one_connection_gets_a_push_of_its_own_not_a_drain(monkeypatch):
    from channelmgr.sync import dispatch

    drains, alone = _Recorder(), _Recorder()
    monkeypatch.setattr(dispatch, "_drain_actor", drains)
    monkeypatch.setattr(dispatch, "_push_actors", {PRICING: alone})
    dispatch.push_enqueue_many(connection_ids=[7], kind=PRICING, delay_seconds=0)
    assert alone.sent == [((7,), None)] and not drains.sent
