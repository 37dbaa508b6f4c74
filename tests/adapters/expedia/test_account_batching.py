"""Account batching on Expedia: the room types of one hotel are separate units (connections), and one AR
request (``AvailRateUpdateRQ``: one ``Hotel``, an ``AvailRateUpdate`` per range and room type) carries them.

Invariants: every update goes out, each range under its own room type and rate plan; one request per
hotel per ``max_batch`` AvailRateUpdates; a request never mixes hotels; a value that cannot be sent
refuses the whole call before any request; every request validates against EQC's schema.
"""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.base import AvailabilityRange, AvailabilityUpdate, Capability, DayRange, PriceRange, PricingUpdate
from adapters.expedia.adapter import ExpediaAdapter
from adapters.xml import InvalidUpdateError
from tests.adapters.expedia.conftest import AR_SUCCESS, BASE

AR = f"{BASE}/eqc/ar"
NS = {"e": "http://www.expediaconnect.com/EQC/AR/2011/06"}
START = dt.date(2027, 9, 1)


def test_expedia_declares_account_batching_by_hotel():
    # Pinned: the push engine batches by these, and nothing may skip because of what code says.
    assert Capability.BATCH_LISTINGS in ExpediaAdapter.capabilities
    assert ExpediaAdapter.listing_key("3546", {"room_id": "R1"}) == "3546/R1"
    assert ExpediaAdapter.listing_key("3546", {}) == "3546"
    assert ExpediaAdapter.batch_group("3546", {"room_id": "R1"}) == ExpediaAdapter.batch_group(
        "3546", {"room_id": "R2"}
    )
    # A hotel mapped as one unit never rides in a room type's batch (it has no room code of its own).
    assert ExpediaAdapter.batch_group("3546", {}) != ExpediaAdapter.batch_group("3546", {"room_id": "R1"})


def _closed(night: int, nights: int = 1) -> AvailabilityRange:
    start = START + dt.timedelta(days=night)
    return AvailabilityRange(DayRange(start, start + dt.timedelta(days=nights)), available=False)


def _sent(calls) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Each request: (hotel, [(room type, rate plan, first night)])."""
    out = []
    for call in calls:
        root = etree.fromstring(call.request.body)
        items = [
            (
                update.find("e:RoomType", NS).get("id"),
                update.find("e:RoomType/e:RatePlan", NS).get("id"),
                update.find("e:DateRange", NS).get("from"),
            )
            for update in root.findall("e:AvailRateUpdate", NS)
        ]
        out.append((root.find("e:Hotel", NS).get("id"), items))
    return out


def test_three_room_types_of_a_hotel_go_in_one_valid_request(adapter, http, schema):
    http.post(AR, body=AR_SUCCESS)
    updates = [
        AvailabilityUpdate("3546", (_closed(i),), metadata={"room_id": f"R{i}", "rate_plan_id": f"P{i}"})
        for i in (1, 2, 3)
    ]
    assert adapter.update_availability_many(updates) == 1
    assert _sent(http.calls) == [
        ("3546", [("R1", "P1", "2027-09-02"), ("R2", "P2", "2027-09-03"), ("R3", "P3", "2027-09-04")])
    ]
    body = http.calls[0].request.body
    assert schema("eqc_xsd/AvailRateUpdateRQ.xsd").validate(etree.fromstring(body))


def test_prices_of_several_room_types_go_in_one_valid_request(adapter, http, schema):
    http.post(AR, body=AR_SUCCESS)
    day = DayRange(START, START + dt.timedelta(days=2))
    updates = [
        PricingUpdate("3546", (PriceRange(day, Decimal(f"1{i}0.00"), "EUR"),), metadata={"room_id": f"R{i}"})
        for i in (1, 2)
    ]
    assert adapter.update_pricing_many(updates) == 1
    root = etree.fromstring(http.calls[0].request.body)
    rates = [
        (u.find("e:RoomType", NS).get("id"), u.find(".//e:PerDay", NS).get("rate"))
        for u in root.findall("e:AvailRateUpdate", NS)
    ]
    assert rates == [("R1", "110.00"), ("R2", "120.00")]
    assert schema("eqc_xsd/AvailRateUpdateRQ.xsd").validate(root)


def test_a_value_that_cannot_be_sent_refuses_the_batch_before_any_request(adapter, http):
    overlapping = (
        AvailabilityRange(DayRange(START, START + dt.timedelta(days=2)), available=True),
        AvailabilityRange(DayRange(START + dt.timedelta(days=1), START + dt.timedelta(days=3)), available=True),
    )
    updates = [
        AvailabilityUpdate("3546", (_closed(1),), metadata={"room_id": "R1"}),
        AvailabilityUpdate("3546", overlapping, metadata={"room_id": "R2"}),
    ]
    with pytest.raises(InvalidUpdateError):
        adapter.update_availability_many(updates)
    assert len(http.calls) == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(["3546", "3547"]), st.sampled_from(["R1", "R2", "R3"]), st.integers(1, 120)),
        min_size=1,
        max_size=6,
    ),
    max_batch=st.integers(1, 50),
)
def test_every_range_goes_out_once_under_its_own_room_and_hotel(account, http, plan, max_batch):
    """Random hotels, rooms and range counts, with a small ``max_batch``: each range is sent exactly once,
    under its own hotel and room, in ceil(ranges / max_batch) requests per hotel."""
    http.post(AR, body=AR_SUCCESS)
    adapter = ExpediaAdapter(account)
    adapter.max_batch = max_batch
    updates, expected = [], []
    for hotel, room, count in plan:
        ranges = tuple(_closed(2 * i) for i in range(count))
        updates.append(AvailabilityUpdate(hotel, ranges, metadata={"room_id": room}))
        expected += [(hotel, room, r.range.start.isoformat()) for r in ranges]
    before = len(http.calls)
    requests = adapter.update_availability_many(updates)
    sent = _sent(list(http.calls)[before:])
    assert requests == len(sent)
    assert sorted((hotel, room, first) for hotel, items in sent for room, _plan, first in items) == sorted(expected)
    per_hotel: dict[str, int] = {}
    for hotel, _room, _first in expected:
        per_hotel[hotel] = per_hotel.get(hotel, 0) + 1
    assert requests == sum(-(-n // max_batch) for n in per_hotel.values())
    assert all(len(items) <= max_batch for _hotel, items in sent)
