import datetime as dt
import json
from decimal import Decimal

import pytest
from responses import matchers

from adapters.base import (
    AvailabilityRange,
    AvailabilityUpdate,
    DayRange,
    PlatformAPIError,
    PriceRange,
    PricingUpdate,
)

from .conftest import BASE


def test_it_sends_availability_as_inclusive_entries(adapter, http):
    http.put(
        f"{BASE}/v1/listings/F-7/availability",
        match=[
            matchers.header_matcher({"X-Api-Key": "key-1"}),
            matchers.json_params_matcher(
                {
                    "entries": [
                        {
                            "from": "2027-05-01",
                            "to": "2027-05-03",
                            "status": "UNAVAILABLE",
                            "minStay": 1,
                            "maxStay": 365,
                            "arrivalAllowed": True,
                            "departureAllowed": True,
                        },
                        {
                            "from": "2027-05-04",
                            "to": "2027-05-04",
                            "status": "AVAILABLE",
                            "minStay": 2,
                            "maxStay": 7,
                            "arrivalAllowed": False,
                            "departureAllowed": False,
                        },
                        {
                            "from": "2027-05-05",
                            "to": "2027-05-05",
                            "status": "UNAVAILABLE",
                            "minStay": 1,
                            "maxStay": 365,
                            "arrivalAllowed": True,
                            "departureAllowed": True,
                        },
                    ]
                }
            ),
        ],
        json={"accepted": 3},
    )
    update = AvailabilityUpdate(
        "F-7",
        (
            AvailabilityRange(DayRange(dt.date(2027, 5, 1), dt.date(2027, 5, 4)), available=False),
            AvailabilityRange(
                DayRange(dt.date(2027, 5, 4), dt.date(2027, 5, 5)),
                available=True,
                min_stay=2,
                max_stay=7,
                closed_to_arrival=True,
                closed_to_departure=True,
            ),
            AvailabilityRange(DayRange(dt.date(2027, 5, 5), dt.date(2027, 5, 6)), available=True, stop_sell=True),
        ),
    )
    assert adapter.update_availability(update) == 1


def test_it_splits_availability_into_requests_of_at_most_50(adapter, http):
    http.put(f"{BASE}/v1/listings/F-7/availability", json={"accepted": 1})
    start = dt.date(2027, 1, 1)
    ranges = tuple(
        AvailabilityRange(DayRange(start + dt.timedelta(days=i), start + dt.timedelta(days=i + 1)), True)
        for i in range(101)
    )
    assert adapter.update_availability(AvailabilityUpdate("F-7", ranges)) == 3
    assert [len(json.loads(c.request.body)["entries"]) for c in http.calls] == [50, 50, 1]


def test_it_sends_rates_with_two_decimals(adapter, http):
    http.put(
        f"{BASE}/v1/listings/F-7/rates",
        match=[
            matchers.json_params_matcher(
                {
                    "currency": "EUR",
                    "entries": [{"from": "2027-05-01", "to": "2027-05-07", "nightlyRate": "85.00"}],
                }
            )
        ],
        json={"accepted": 1},
    )
    update = PricingUpdate("F-7", (PriceRange(DayRange(dt.date(2027, 5, 1), dt.date(2027, 5, 8)), Decimal(85), "EUR"),))
    assert adapter.update_pricing(update) == 1


def test_a_server_error_on_push_is_transient(adapter, http):
    http.put(f"{BASE}/v1/listings/F-7/rates", status=500, json={"errors": [{"code": "INTERNAL", "message": "x"}]})
    update = PricingUpdate("F-7", (PriceRange(DayRange(dt.date(2027, 5, 1), dt.date(2027, 5, 2)), Decimal(85), "EUR"),))
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_pricing(update)
    assert not caught.value.permanent
    assert caught.value.code == "INTERNAL"
