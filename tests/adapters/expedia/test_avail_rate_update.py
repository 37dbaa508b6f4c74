import math

import pytest
from lxml import etree

from adapters.base import AvailabilityUpdate, PlatformAPIError, PricingUpdate
from adapters.expedia.adapter import ExpediaAdapter
from tests.adapters.booking_com.shapes import avail, price
from tests.adapters.expedia.conftest import AR_SUCCESS, BASE

AR = f"{BASE}/eqc/ar"
NS = {"a": "http://www.expediaconnect.com/EQC/AR/2011/06"}


def error_rs(*errors: tuple[str, str]) -> bytes:
    inner = "".join(f'<Error code="{code}">{text}</Error>' for code, text in errors)
    return (
        f'<AvailRateUpdateRS xmlns="http://www.expediaconnect.com/EQC/AR/2007/02">{inner}</AvailRateUpdateRS>'.encode()
    )


def test_one_range_becomes_one_avail_rate_update_with_inventory_restrictions_and_closure(adapter, http):
    http.post(AR, body=AR_SUCCESS)
    adapter.update_availability(
        AvailabilityUpdate("3546", (avail(0, 3, min_stay=2, closed_to_departure=True, stop_sell=True),))
    )

    root = etree.fromstring(http.calls[0].request.body)
    assert http.calls[0].request.headers["Content-Type"].startswith("text/xml")
    assert root.find("a:Hotel", NS).get("id") == "3546"
    (update,) = root.findall("a:AvailRateUpdate", NS)
    assert update.find("a:DateRange", NS).attrib == {"from": "2027-07-01", "to": "2027-07-03"}
    room = update.find("a:RoomType", NS)
    assert room.attrib == {"id": "965645", "closed": "true"}
    assert room.find("a:Inventory", NS).get("totalInventoryAvailable") == "1"
    plan = room.find("a:RatePlan", NS)
    assert plan.get("id") == "956589"
    assert plan.find("a:Restrictions", NS).attrib == {
        "minLOS": "2",
        "maxLOS": "28",  # no maximum of ours: EQC's ceiling
        "closedToArrival": "false",
        "closedToDeparture": "true",
    }


def test_prices_go_out_per_day_with_the_currency(adapter, http):
    http.post(AR, body=AR_SUCCESS)
    adapter.update_pricing(PricingUpdate("3546", (price(0, 2, "149.90", "EUR"),)))
    rate = etree.fromstring(http.calls[0].request.body).find("a:AvailRateUpdate/a:RoomType/a:RatePlan/a:Rate", NS)
    assert rate.get("currency") == "EUR"
    assert rate.find("a:PerDay", NS).get("rate") == "149.90"


@pytest.mark.parametrize("ranges", [1, 200, 201, 650])
def test_it_sends_ceil_n_over_200_requests(adapter, http, ranges):
    http.post(AR, body=AR_SUCCESS)
    made = adapter.update_availability(AvailabilityUpdate("3546", tuple(avail(i, i + 1) for i in range(ranges))))
    assert made == len(http.calls) == math.ceil(ranges / ExpediaAdapter.max_batch)


def test_an_unknown_room_type_is_a_clear_permanent_error(adapter, http):
    http.post(AR, body=error_rs(("3203", "The following RoomTypeIDs do not belong to the given hotel: 965645.")))
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_availability(AvailabilityUpdate("3546", (avail(0, 1),)))
    assert caught.value.permanent
    assert caught.value.code == "3203"
    assert "unknown room type" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "permanent"),
    [("1001", True), ("2000", True), ("3202", True), ("3204", True), ("3100", False), ("4000", False)],
)
def test_eqc_error_codes_map_to_permanent_or_transient(adapter, http, code, permanent):
    http.post(AR, body=error_rs((code, "x")))
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_pricing(PricingUpdate("3546", (price(0, 1),)))
    assert caught.value.permanent is permanent


def test_503_is_transient_and_429_carries_retry_after(adapter, http):
    http.post(AR, status=503, body=b"")
    http.post(AR, status=429, headers={"Retry-After": "3"}, body=error_rs(("4000", "rate limited")))
    with pytest.raises(PlatformAPIError) as down:
        adapter.update_pricing(PricingUpdate("3546", (price(0, 1),)))
    with pytest.raises(PlatformAPIError) as limited:
        adapter.update_pricing(PricingUpdate("3546", (price(0, 1),)))
    assert not down.value.permanent
    assert (limited.value.permanent, limited.value.retry_after) == (False, 3.0)


def test_a_min_stay_expedia_cannot_carry_closes_those_nights_to_arrival_and_the_others_go_out(adapter, http):
    """A minimum stay of 29 nights or more (EQC's minLOS goes to 28) closes those nights to arrival on
    Expedia, which sells 28 nights at most; a stay passing through them stays sellable, as in the PMS. The
    other nights go out as they are. It used to refuse the whole update for good, which set the connection
    aside (needs attention), and with it the close-outs of every later booking made elsewhere; then it
    stop-sold the nights, losing the stays passing through."""
    http.post(AR, body=AR_SUCCESS)
    adapter.update_availability(AvailabilityUpdate("3546", (avail(0, 1), avail(1, 2, min_stay=30))))

    first, second = etree.fromstring(http.calls[0].request.body).findall("a:AvailRateUpdate", NS)
    restrictions = second.find("a:RoomType/a:RatePlan/a:Restrictions", NS)
    assert first.find("a:RoomType", NS).get("closed") == "false"
    assert second.find("a:RoomType", NS).get("closed") == "false"
    assert (restrictions.get("minLOS"), restrictions.get("closedToArrival")) == ("28", "true")


def test_a_non_numeric_hotel_id_is_refused_before_any_request(adapter, http):
    with pytest.raises(ValueError):
        adapter.update_pricing(PricingUpdate("villa-7", (price(0, 1),)))
    assert not http.calls
