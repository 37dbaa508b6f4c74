import base64
import math

import pytest
from lxml import etree

from adapters.base import AvailabilityUpdate, PlatformAPIError
from adapters.booking_com.adapter import BookingComAdapter
from tests.adapters.booking_com.conftest import BASE, SUCCESS_AVAIL
from tests.adapters.booking_com.shapes import avail

URL = f"{BASE}/hotels/ota/OTA_HotelAvailNotif"
NS = {"o": "http://www.opentravel.org/OTA/2003/05"}


def messages(body: bytes):
    return etree.fromstring(body).findall("o:AvailStatusMessages/o:AvailStatusMessage", NS)


def test_it_sends_one_basic_auth_ota_request_with_inclusive_dates_and_the_mapped_codes(adapter, http):
    http.post(URL, body=SUCCESS_AVAIL)
    update = AvailabilityUpdate("4711", (avail(0, 3, min_stay=2),))

    assert adapter.update_availability(update) == 1

    request = http.calls[0].request
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(b"sandbox-booking:sandbox-booking-pass").decode()
    )
    assert request.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(request.body)
    assert root.get("Version")
    assert root.find("o:AvailStatusMessages", NS).get("HotelCode") == "4711"
    main, arrival, departure = messages(request.body)
    control = main.find("o:StatusApplicationControl", NS)
    assert (control.get("Start"), control.get("End")) == ("2027-07-01", "2027-07-03")  # [1, 4) -> 1..3
    assert (control.get("InvTypeCode"), control.get("RatePlanCode")) == ("471101", "RP1")
    assert main.get("BookingLimit") == "1"
    assert main.find("o:LengthsOfStay/o:LengthOfStay", NS).attrib == {"MinMaxMessageType": "SetMinLOS", "Time": "2"}
    assert main.find("o:RestrictionStatus", NS).attrib == {"Restriction": "Master", "Status": "Open"}
    assert arrival.find("o:RestrictionStatus", NS).attrib == {"Restriction": "Arrival", "Status": "Open"}
    assert departure.find("o:RestrictionStatus", NS).attrib == {"Restriction": "Departure", "Status": "Open"}


def test_it_closes_with_booking_limit_zero_and_stop_sells_with_master_close(adapter, http):
    http.post(URL, body=SUCCESS_AVAIL)
    adapter.update_availability(AvailabilityUpdate("4711", (avail(0, 2, available=False), avail(2, 4, stop_sell=True))))

    closed, stop_sold = messages(http.calls[0].request.body)[:2]
    assert closed.get("BookingLimit") == "0"
    assert stop_sold.find("o:RestrictionStatus", NS).get("Status") == "Close"
    assert stop_sold.find("o:RestrictionStatus", NS).get("Restriction") == "Master"


def test_it_merges_arrival_and_departure_restrictions_over_adjacent_ranges(adapter, http):
    http.post(URL, body=SUCCESS_AVAIL)
    ranges = (avail(0, 2, min_stay=2), avail(2, 5, available=False), avail(5, 6, closed_to_arrival=True))
    adapter.update_availability(AvailabilityUpdate("4711", ranges))

    restriction = [
        (
            m.find("o:RestrictionStatus", NS).get("Restriction"),
            m.find("o:RestrictionStatus", NS).get("Status"),
            m.find("o:StatusApplicationControl", NS).get("Start"),
            m.find("o:StatusApplicationControl", NS).get("End"),
        )
        for m in messages(http.calls[0].request.body)[3:]
    ]
    assert restriction == [
        ("Arrival", "Open", "2027-07-01", "2027-07-05"),
        ("Arrival", "Close", "2027-07-06", "2027-07-06"),
        ("Departure", "Open", "2027-07-01", "2027-07-06"),
    ]


@pytest.mark.parametrize("ranges", [1, 997, 998, 2500])
def test_it_batches_messages_into_ceil_n_over_max_batch_requests(adapter, http, ranges):
    http.post(URL, body=SUCCESS_AVAIL)
    # Alternating availability, one arrival and one departure run: ranges + 2 messages.
    update = AvailabilityUpdate("4711", tuple(avail(i, i + 1, available=i % 2 == 0) for i in range(ranges)))

    made = adapter.update_availability(update)

    expected = math.ceil((ranges + 2) / BookingComAdapter.max_batch)
    assert made == len(http.calls) == expected
    assert all(len(messages(call.request.body)) <= BookingComAdapter.max_batch for call in http.calls)
    assert sum(len(messages(call.request.body)) for call in http.calls) == ranges + 2


def test_it_refuses_overlapping_ranges_before_any_request(adapter, http):
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_availability(AvailabilityUpdate("4711", (avail(0, 3), avail(2, 4))))
    assert caught.value.permanent
    assert not http.calls


def test_it_refuses_a_min_stay_of_zero_smuggled_past_the_dataclass_before_any_request(adapter, http):
    good = avail(0, 2)
    bad = avail(2, 4)
    object.__setattr__(bad, "min_stay", 0)
    with pytest.raises(ValueError):
        adapter.update_availability(AvailabilityUpdate("4711", (good,) * 1 + (bad,)))
    assert not http.calls


def test_it_refuses_a_hotel_code_longer_than_ota_allows_before_any_request(adapter, http):
    with pytest.raises(PlatformAPIError):
        adapter.update_availability(AvailabilityUpdate("x" * 17, (avail(0, 1),)))
    assert not http.calls


def test_without_metadata_the_room_is_the_listing_and_the_rate_plan_bar(account, http):
    from dataclasses import replace

    http.post(URL, body=SUCCESS_AVAIL)
    BookingComAdapter(replace(account, metadata={})).update_availability(AvailabilityUpdate("4711", (avail(0, 1),)))

    control = messages(http.calls[0].request.body)[0].find("o:StatusApplicationControl", NS)
    assert (control.get("InvTypeCode"), control.get("RatePlanCode")) == ("4711", "BAR")
