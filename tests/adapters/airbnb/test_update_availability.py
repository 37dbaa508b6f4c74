import datetime as dt
import json

import pytest
from responses import matchers

from adapters.base import (
    AvailabilityRange,
    AvailabilityUpdate,
    DayRange,
    PlatformAPIError,
)

from .conftest import BASE

URL = f"{BASE}/v2/listings/L-100/calendar"


def nights(start, end):
    return DayRange(dt.date.fromisoformat(start), dt.date.fromisoformat(end))


def test_it_sends_inclusive_ranges_with_every_field(adapter, http):
    http.put(
        URL,
        match=[
            matchers.header_matcher({"Authorization": "Bearer at-1"}),
            matchers.json_params_matcher(
                {
                    "ranges": [
                        {
                            "start_date": "2027-03-01",
                            "end_date": "2027-03-04",
                            "available": False,
                            "min_nights": 1,
                            "max_nights": 1125,
                            "closed_to_arrival": False,
                            "closed_to_departure": False,
                        },
                        {
                            "start_date": "2027-03-05",
                            "end_date": "2027-03-05",
                            "available": True,
                            "min_nights": 3,
                            "max_nights": 14,
                            "closed_to_arrival": True,
                            "closed_to_departure": True,
                        },
                    ]
                }
            ),
        ],
        json={"updated_nights": 5},
    )
    update = AvailabilityUpdate(
        listing_id="L-100",
        ranges=(
            AvailabilityRange(nights("2027-03-01", "2027-03-05"), available=False),
            AvailabilityRange(
                nights("2027-03-05", "2027-03-06"),
                available=True,
                min_stay=3,
                max_stay=14,
                closed_to_arrival=True,
                closed_to_departure=True,
            ),
        ),
    )
    assert adapter.update_availability(update) == 1


def test_a_stop_sold_night_is_sent_as_unavailable(adapter, http):
    http.put(URL, json={"updated_nights": 1})
    update = AvailabilityUpdate(
        "L-100",
        (AvailabilityRange(nights("2027-03-01", "2027-03-02"), available=True, stop_sell=True),),
    )
    adapter.update_availability(update)
    assert json.loads(http.calls[0].request.body)["ranges"][0]["available"] is False


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, [1]), (100, [100]), (101, [100, 1]), (250, [100, 100, 50])],
)
def test_it_splits_ranges_into_requests_of_at_most_100(adapter, http, count, expected):
    http.put(URL, json={"updated_nights": 1})
    start = dt.date(2027, 1, 1)
    ranges = tuple(
        AvailabilityRange(
            DayRange(start + dt.timedelta(days=2 * i), start + dt.timedelta(days=2 * i + 1)),
            True,
        )
        for i in range(count)
    )
    assert adapter.update_availability(AvailabilityUpdate("L-100", ranges)) == len(expected)
    sent = [json.loads(call.request.body)["ranges"] for call in http.calls]
    assert [len(batch) for batch in sent] == expected
    assert [r["start_date"] for batch in sent for r in batch] == [r.range.start.isoformat() for r in ranges]


def test_nothing_to_send_makes_no_request(adapter, http):
    assert adapter.update_availability(AvailabilityUpdate("L-100", ())) == 0
    assert len(http.calls) == 0


def test_a_rate_limit_is_transient_and_says_when_to_retry(adapter, http):
    http.put(
        URL,
        status=429,
        headers={"Retry-After": "2"},
        json={"error": "rate_limited", "error_message": "slow"},
    )
    update = AvailabilityUpdate("L-100", (AvailabilityRange(nights("2027-03-01", "2027-03-02"), True),))
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_availability(update)
    assert not caught.value.permanent
    assert caught.value.retry_after == 2.0
    assert caught.value.status == 429


def test_a_refused_update_is_permanent_and_names_the_error(adapter, http):
    http.put(
        URL,
        status=400,
        json={"error": "invalid_range", "error_message": "ranges overlap"},
    )
    update = AvailabilityUpdate("L-100", (AvailabilityRange(nights("2027-03-01", "2027-03-02"), True),))
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_availability(update)
    assert caught.value.permanent
    assert caught.value.code == "invalid_range"
    assert "ranges overlap" in str(caught.value)
