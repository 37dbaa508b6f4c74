import math
from decimal import Decimal

import pytest
from lxml import etree

from adapters.base import PlatformAPIError, PricingUpdate
from adapters.booking_com.adapter import BookingComAdapter
from tests.adapters.booking_com.conftest import BASE, SUCCESS_RATE
from tests.adapters.booking_com.shapes import price

URL = f"{BASE}/hotels/ota/OTA_HotelRateAmountNotif"
NS = {"o": "http://www.opentravel.org/OTA/2003/05"}


def test_it_sends_amount_after_tax_with_two_decimals_and_the_currency(adapter, http):
    http.post(URL, body=SUCCESS_RATE)
    adapter.update_pricing(PricingUpdate("4711", (price(0, 7, "99.5", "EUR"),)))

    root = etree.fromstring(http.calls[0].request.body)
    message = root.find("o:RateAmountMessages/o:RateAmountMessage", NS)
    control = message.find("o:StatusApplicationControl", NS)
    assert (control.get("Start"), control.get("End")) == ("2027-07-01", "2027-07-07")
    amount = message.find("o:Rates/o:Rate/o:BaseByGuestAmts/o:BaseByGuestAmt", NS)
    assert amount.attrib == {"AmountAfterTax": "99.50", "CurrencyCode": "EUR"}


@pytest.mark.parametrize("ranges", [1000, 1001, 2001])
def test_it_sends_ceil_n_over_max_batch_requests(adapter, http, ranges):
    http.post(URL, body=SUCCESS_RATE)
    made = adapter.update_pricing(PricingUpdate("4711", tuple(price(i, i + 1) for i in range(ranges))))
    assert made == len(http.calls) == math.ceil(ranges / BookingComAdapter.max_batch)


def test_a_negative_price_among_good_ones_sends_nothing(adapter, http):
    bad = price(5, 6)
    object.__setattr__(bad, "price", Decimal("-1"))
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_pricing(PricingUpdate("4711", tuple(price(i, i + 1) for i in range(5)) + (bad,)))
    assert caught.value.permanent
    assert not http.calls


def test_it_refuses_fractions_of_a_cent_and_bad_currency_codes(adapter, http):
    with pytest.raises(ValueError):
        adapter.update_pricing(PricingUpdate("4711", (price(0, 1, "10.005"),)))
    with pytest.raises(ValueError):
        adapter.update_pricing(PricingUpdate("4711", (price(0, 1, "10.00", "eur"),)))
    assert not http.calls
