"""Account batching: the room types of one Booking.com hotel are separate units (separate connections),
and one push carries every dirty room type of the hotel.

Invariants:
- a push of one room type sends, in one request per ``max_batch`` messages, the due changes of every room
  type of its hotel on the same account, each message naming its own room; the changes it sent are no
  longer dirty, and every connection it carried counts as pushed;
- room types of another hotel, or of another account, never ride along;
- a permanent refusal of a batched request is pinned on the connection that caused it: the others still go
  out, one by one.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import responses
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.base import Capability
from adapters.registry import adapter_class
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.sync.debounce import push_edge
from channelmgr.sync.outbound import mark_dirty
from channelmgr.sync.push import push_connection
from pms_core.models import Unit

pytestmark = pytest.mark.django_db
RATES = re.compile(r".*/hotels/ota/OTA_HotelRateAmountNotif$")
OK = (
    '<?xml version="1.0" encoding="UTF-8"?><OTA_HotelRateAmountNotifRS xmlns="http://www.opentravel.org/OTA/2003/05"'
    ' Version="1.000"><Success/></OTA_HotelRateAmountNotifRS>'
)
NS = {"ota": "http://www.opentravel.org/OTA/2003/05"}


def test_booking_com_declares_account_batching():
    # Pinned: the e2e and contract tests rely on it, and nothing may skip because of what code says.
    assert Capability.BATCH_LISTINGS in adapter_class("booking_com").capabilities
    assert adapter_class("booking_com").listing_key("H1", {"room_id": "R1"}) == "H1/R1"
    assert adapter_class("airbnb").listing_key("L1", {"room_id": "R1"}) == "L1"


@pytest.fixture(autouse=True)
def _fresh_edges():
    """A hotel's push edge is named by its code, the same in every test: start each with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def rooms(unit, settings):
    """Three units of one property, each a room type of hotel H1 on one Booking.com account, and a fourth
    unit in hotel H2 (same account)."""
    settings.PUSH_DEBOUNCE_SECONDS = 0.001
    units = [unit] + [
        Unit.objects.create(property=unit.property, name=f"Room {i}", base_price=Decimal("100.00")) for i in (2, 3, 4)
    ]
    connections = []
    for i, each in enumerate(units, start=1):
        connections.append(
            ChannelConnection.objects.create(
                organization=unit.property.organization,
                unit=each,
                platform_type="booking_com",
                platform_listing_id="H1" if i <= 3 else "H2",
                platform_metadata={"room_id": f"R{i}"},
                username="bdc-user",
                password="bdc-pass",
                # Room for every Hypothesis example: the limit is not what this tests.
                rate_limit=500,
                rate_window=60.0,
            )
        )
    return connections


def _rooms_in(call) -> list[str]:
    root = etree.fromstring(call.request.body)
    hotel = root.find("ota:RateAmountMessages", NS).get("HotelCode")
    codes = [c.get("InvTypeCode") for c in root.iterfind(".//ota:StatusApplicationControl", NS)]
    return [f"{hotel}/{code}" for code in codes]


def test_one_request_carries_every_dirty_room_type_of_the_hotel(rooms, day):
    for connection in rooms:
        mark_dirty(connection=connection, kinds=[DirtyRange.Kind.PRICING], start=day(1), end=day(3))
    with responses.RequestsMock() as http:
        http.add(responses.POST, RATES, body=OK, content_type="application/xml")
        result = push_connection(connection_id=rooms[0].pk, kind=DirtyRange.Kind.PRICING)
        assert len(http.calls) == 1
        assert sorted(_rooms_in(http.calls[0])) == ["H1/R1", "H1/R2", "H1/R3"]
    assert result.status == "success" and result.requests == 1
    # H1's rooms are pushed and clean; H2's room is another hotel: still dirty, for its own push.
    assert not DirtyRange.objects.filter(connection__in=rooms[:3]).exists()
    assert DirtyRange.objects.filter(connection=rooms[3]).exists()
    assert all(c.last_push_at for c in ChannelConnection.objects.filter(pk__in=[r.pk for r in rooms[:3]]))
    # The siblings' own pushes find nothing left to send.
    with responses.RequestsMock() as http:
        assert push_connection(connection_id=rooms[1].pk, kind=DirtyRange.Kind.PRICING).status == "nothing"


def test_a_room_type_of_another_account_never_rides_along(rooms, day):
    rooms[2].username = "another-account"
    rooms[2].save()
    for connection in rooms[:3]:
        mark_dirty(connection=connection, kinds=[DirtyRange.Kind.PRICING], start=day(1), end=day(2))
    with responses.RequestsMock() as http:
        http.add(responses.POST, RATES, body=OK, content_type="application/xml")
        push_connection(connection_id=rooms[0].pk, kind=DirtyRange.Kind.PRICING)
        assert [sorted(_rooms_in(call)) for call in http.calls] == [["H1/R1", "H1/R2"]]
    assert DirtyRange.objects.filter(connection=rooms[2]).exists()


def test_a_refused_batch_is_sent_room_by_room_and_the_refusal_lands_on_its_room(rooms, day):
    for connection in rooms[:3]:
        mark_dirty(connection=connection, kinds=[DirtyRange.Kind.PRICING], start=day(1), end=day(2))
    refused = (
        '<?xml version="1.0"?><OTA_HotelRateAmountNotifRS xmlns="http://www.opentravel.org/OTA/2003/05" '
        'Version="1.000"><Errors><Error Type="3" Code="402">InvTypeCode R2 unknown</Error></Errors>'
        "</OTA_HotelRateAmountNotifRS>"
    )

    def answer(request):
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        return (200, {}, refused) if 'InvTypeCode="R2"' in body else (200, {}, OK)

    with responses.RequestsMock() as http:
        http.add_callback(responses.POST, RATES, callback=answer, content_type="application/xml")
        push_connection(connection_id=rooms[0].pk, kind=DirtyRange.Kind.PRICING)
        assert len(http.calls) == 4  # the batch, then each room alone
    statuses = dict(ChannelConnection.objects.filter(pk__in=[r.pk for r in rooms[:3]]).values_list("pk", "status"))
    assert statuses == {
        rooms[0].pk: ChannelConnection.Status.ACTIVE,
        rooms[1].pk: ChannelConnection.Status.NEEDS_ATTENTION,
        rooms[2].pk: ChannelConnection.Status.ACTIVE,
    }
    assert set(DirtyRange.objects.values_list("connection_id", flat=True)) == {rooms[1].pk}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dirty=st.sets(st.integers(0, 3), min_size=1), lead=st.integers(0, 3))
def test_any_set_of_dirty_rooms_goes_out_in_one_request_per_hotel(rooms, day, dirty, lead):
    DirtyRange.objects.all().delete()
    for i in dirty:
        mark_dirty(connection=rooms[i], kinds=[DirtyRange.Kind.PRICING], start=day(1), end=day(2))
    hotel_of = {i: "H1" if i < 3 else "H2" for i in range(4)}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add(responses.POST, RATES, body=OK, content_type="application/xml")
        push_connection(connection_id=rooms[lead].pk, kind=DirtyRange.Kind.PRICING)
        sent = [key for call in http.calls for key in _rooms_in(call)]
        requests = len(http.calls)
    # Exactly the lead's hotel's dirty rooms went out, in one request; the rest are still dirty.
    carried = {i for i in dirty if hotel_of[i] == hotel_of[lead]}
    expected = sorted(f"{hotel_of[i]}/R{i + 1}" for i in carried)
    assert sorted(sent) == expected and requests == (1 if carried else 0)
    left = set(DirtyRange.objects.values_list("connection_id", flat=True))
    assert left == {rooms[i].pk for i in dirty - carried}


AVAIL = re.compile(r".*/hotels/ota/OTA_HotelAvailNotif$")
AVAIL_OK = OK.replace("OTA_HotelRateAmountNotifRS", "OTA_HotelAvailNotifRS")


def _paced(rooms: list[ChannelConnection]) -> list[ChannelConnection]:
    """The rooms on Booking.com's own limit (20 a minute), where pushes are paced."""
    ChannelConnection.objects.filter(pk__in=[r.pk for r in rooms]).update(rate_limit=None, rate_window=None)
    return list(ChannelConnection.objects.filter(pk__in=[r.pk for r in rooms]).order_by("pk"))


def test_a_burst_of_close_outs_across_a_hotels_rooms_goes_at_the_pacers_rate(rooms, day, settings):
    """Where pushes are paced (Booking.com's own limit, 20 a minute: two at once after a quiet spell,
    then one every 4 s), close-outs wait for the pacer and never for a quiet spell: the first two rooms'
    bookings go at once, the third waits for the pacer's next slot, and that push carries every room
    changed since. The account's pushes are paced together: a room of another hotel waits too."""
    from channelmgr.resilience.guard import Backpressure

    rooms = _paced(rooms)
    settings.PUSH_DEBOUNCE_SECONDS = 30.0  # everything below happens within one debounce
    settings.PUSH_MAX_WAIT_SECONDS = 60.0
    kind = DirtyRange.Kind.AVAILABILITY
    with responses.RequestsMock() as http:
        http.add(responses.POST, AVAIL, body=AVAIL_OK, content_type="application/xml")
        for room, night in ((rooms[0], 1), (rooms[1], 5)):
            mark_dirty(connection=room, kinds=[kind], start=day(night), end=day(night + 2), closes=True)
            assert push_connection(connection_id=room.pk, kind=kind).status == "success"
        mark_dirty(connection=rooms[2], kinds=[kind], start=day(9), end=day(11), closes=True)
        mark_dirty(connection=rooms[3], kinds=[kind], start=day(9), end=day(11), closes=True)
        with pytest.raises(Backpressure) as waited:
            push_connection(connection_id=rooms[2].pk, kind=kind)
        assert 0 < waited.value.delay_seconds <= 4.0 and waited.value.reason == "push_paced"
        with pytest.raises(Backpressure):
            push_connection(connection_id=rooms[3].pk, kind=kind)
        assert len(http.calls) == 2
        _next_slot(rooms[2])
        mark_dirty(connection=rooms[1], kinds=[kind], start=day(13), end=day(15), closes=True)
        assert push_connection(connection_id=rooms[2].pk, kind=kind).status == "success"
        assert len(http.calls) == 3
        assert sorted(_avail_rooms_in(http.calls[2])) == ["H1/R2", "H1/R3"]
    assert set(DirtyRange.objects.values_list("connection_id", flat=True)) == {rooms[3].pk}


def _next_slot(connection) -> None:
    """The pacer's next slot has come (on Redis the pacer reads the server's clock, so no time travel):
    its state and the account's windows start afresh."""
    from channelmgr.resilience.guard import share_limiters
    from channelmgr.resilience.limiter import limiter_for
    from channelmgr.resilience.platform_calls import rate_limit_account

    limiter = limiter_for(platform="booking_com", account=rate_limit_account(connection), connection=connection)
    for each in (limiter, *share_limiters(limiter)):
        each.reset()


def _avail_rooms_in(call) -> list[str]:
    root = etree.fromstring(call.request.body)
    hotel = root.find("ota:AvailStatusMessages", NS).get("HotelCode")
    return sorted({f"{hotel}/{m.get('InvTypeCode')}" for m in root.iterfind(".//ota:StatusApplicationControl", NS)})


def test_where_pushes_are_plentiful_each_room_keeps_its_own_leading_edge(rooms, day, settings):
    """With room in the limit (these connections: 500 a minute, no pacing, as Expedia's 50 a second),
    a close-out never waits for a sibling room's: the second room's booking goes out at once too."""
    from channelmgr.resilience.guard import pushes_paced

    assert not pushes_paced(rooms[0])
    settings.PUSH_DEBOUNCE_SECONDS = 30.0
    settings.PUSH_MAX_WAIT_SECONDS = 60.0
    kind = DirtyRange.Kind.AVAILABILITY
    with responses.RequestsMock() as http:
        http.add(responses.POST, AVAIL, body=AVAIL_OK, content_type="application/xml")
        mark_dirty(connection=rooms[0], kinds=[kind], start=day(1), end=day(3), closes=True)
        assert push_connection(connection_id=rooms[0].pk, kind=kind).status == "success"
        mark_dirty(connection=rooms[1], kinds=[kind], start=day(5), end=day(7), closes=True)
        assert push_connection(connection_id=rooms[1].pk, kind=kind).status == "success"
        assert len(http.calls) == 2
    assert not DirtyRange.objects.exists()


def test_pushes_are_paced_on_booking_coms_own_limit_and_not_on_expedias(rooms):
    # Pinned: which platforms' room types share one leading edge follows from their published limits.
    from channelmgr.resilience.guard import pushes_paced

    booking = ChannelConnection(platform_type="booking_com", platform_listing_id="H1")
    expedia = ChannelConnection(platform_type="expedia", platform_listing_id="1")
    assert pushes_paced(booking) and not pushes_paced(expedia)
    # A bad override (the model takes 0) must not stop the outbox marking a unit's other connections.
    assert not pushes_paced(ChannelConnection(platform_type="booking_com", platform_listing_id="H1", rate_limit=0))
    assert not pushes_paced(ChannelConnection(platform_type="no_such_platform", platform_listing_id="H1"))


def test_once_the_hotel_was_quiet_the_next_close_out_takes_the_leading_edge_again(rooms, day, settings, monkeypatch):
    """The leading flag of a batch group is cleared by the push that claims it: a later booking of another
    room, after a quiet spell, goes out at once rather than waiting out a debounce."""
    import channelmgr.sync.outbound as outbound

    rooms = _paced(rooms)
    settings.PUSH_DEBOUNCE_SECONDS = 1.0
    kind = DirtyRange.Kind.AVAILABILITY
    enqueued = []
    monkeypatch.setattr(outbound, "push_enqueue", lambda **kw: enqueued.append(kw))
    # Room 1 is booked: its close-out takes the hotel's leading edge, and the push claims it.
    outbound.push_schedule(connection_id=rooms[0].pk, kind=kind, closes=True, edge=push_edge(rooms[0]))
    mark_dirty(connection=rooms[0], kinds=[kind], start=day(1), end=day(3), closes=True)
    with responses.RequestsMock() as http:
        http.add(responses.POST, AVAIL, body=AVAIL_OK, content_type="application/xml")
        assert push_connection(connection_id=rooms[0].pk, kind=kind).status == "success"
    # Quiet for longer than the debounce, then room 2 is booked.
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)):
        outbound.push_schedule(connection_id=rooms[1].pk, kind=kind, closes=True, edge=push_edge(rooms[1]))
    assert [kw["delay_seconds"] for kw in enqueued] == [0, 0]  # both on the leading edge, no debounce


def test_a_batched_room_whose_own_push_is_still_in_flight_goes_again_after_it(rooms, day):
    """Room 2 has a push of its own in flight (say, a long one) when room 1's push carries room 2's newer
    changes along: that push may land after this one with what it read before. Room 2's nights go out once
    more; room 1's and room 3's, with nothing else in flight, do not."""
    from django.utils import timezone

    for connection in rooms[:3]:
        mark_dirty(connection=connection, kinds=[DirtyRange.Kind.PRICING], start=day(1), end=day(3))
    DirtyRange.objects.create(
        connection=rooms[1],
        kind=DirtyRange.Kind.PRICING,
        start=day(2),
        end=day(6),
        claimed_by="room-2s-own-push",
        claimed_at=timezone.now(),
    )
    with responses.RequestsMock() as http:
        http.add(responses.POST, RATES, body=OK, content_type="application/xml")
        assert push_connection(connection_id=rooms[0].pk, kind=DirtyRange.Kind.PRICING).status == "success"
        assert sorted(_rooms_in(http.calls[0])) == ["H1/R1", "H1/R2", "H1/R3"]
    again = DirtyRange.objects.filter(not_before__gt=timezone.now())
    assert [(r.connection_id, r.start, r.end) for r in again] == [(rooms[1].pk, day(2), day(3))]
