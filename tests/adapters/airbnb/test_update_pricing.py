import datetime as dt
import json
from decimal import Decimal

from responses import matchers

from adapters.base import DayRange, PriceRange, PricingUpdate

from .conftest import BASE

URL = f"{BASE}/v2/listings/L-100/pricing"


def test_it_sends_inclusive_ranges_and_two_decimal_prices(adapter, http):
    http.put(
        URL,
        match=[
            matchers.json_params_matcher(
                {
                    "currency": "EUR",
                    "ranges": [
                        {
                            "start_date": "2027-03-01",
                            "end_date": "2027-03-09",
                            "nightly_price": "120.00",
                        },
                        {
                            "start_date": "2027-03-10",
                            "end_date": "2027-03-10",
                            "nightly_price": "99.50",
                        },
                    ],
                }
            )
        ],
        json={"updated_nights": 10},
    )
    update = PricingUpdate(
        "L-100",
        (
            PriceRange(DayRange(dt.date(2027, 3, 1), dt.date(2027, 3, 10)), Decimal(120), "EUR"),
            PriceRange(
                DayRange(dt.date(2027, 3, 10), dt.date(2027, 3, 11)),
                Decimal("99.5"),
                "EUR",
            ),
        ),
    )
    assert adapter.update_pricing(update) == 1


def test_it_splits_prices_into_requests_of_at_most_100(adapter, http):
    http.put(URL, json={"updated_nights": 1})
    start = dt.date(2027, 1, 1)
    ranges = tuple(
        PriceRange(
            DayRange(start + dt.timedelta(days=i), start + dt.timedelta(days=i + 1)),
            Decimal(100),
            "EUR",
        )
        for i in range(201)
    )
    assert adapter.update_pricing(PricingUpdate("L-100", ranges)) == 3
    assert [len(json.loads(c.request.body)["ranges"]) for c in http.calls] == [
        100,
        100,
        1,
    ]
