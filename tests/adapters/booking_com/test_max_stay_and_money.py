"""Booking.com and Google (the same OTA messages): the maximum stay goes out as SetMaxLOS up to the
platform's ceiling, prices with exactly their currency's decimals, and every such message validates
against the official OTA 2015B schemas."""

import pytest
from lxml import etree

from adapters.base import AvailabilityUpdate, PricingUpdate
from tests.adapters.booking_com.conftest import BASE
from tests.adapters.booking_com.shapes import avail, price

NS = {"o": "http://www.opentravel.org/OTA/2003/05"}
ASKED = [1, 30, 90, 91, None]


def ok(root: str) -> bytes:
    return f'<{root} xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Success/></{root}>'.encode()


def test_max_stay_goes_out_as_set_max_los_capped_at_90_and_validates(adapter, http, ota_schema):
    http.post(f"{BASE}/hotels/ota/OTA_HotelAvailNotif", body=ok("OTA_HotelAvailNotifRS"))
    ranges = tuple(avail(2 * i, 2 * i + 2, min_stay=1, max_stay=stay) for i, stay in enumerate(ASKED))
    adapter.update_availability(AvailabilityUpdate("4711", ranges))
    doc = etree.fromstring(http.calls[0].request.body)
    schema = ota_schema("OTA_HotelAvailNotifRQ")
    assert schema.validate(doc), schema.error_log
    sent = [int(x) for x in doc.xpath("//o:LengthOfStay[@MinMaxMessageType='SetMaxLOS']/@Time", namespaces=NS)]
    assert sent == [1, 30, 90, 90, 90]


@pytest.mark.parametrize(
    ("amount", "currency", "wire"), [("12000", "JPY", "12000"), ("120.5", "EUR", "120.50"), ("12.345", "KWD", "12.345")]
)
def test_prices_go_out_with_exactly_their_currencys_decimals_and_validate(
    adapter, http, ota_schema, amount, currency, wire
):
    http.post(f"{BASE}/hotels/ota/OTA_HotelRateAmountNotif", body=ok("OTA_HotelRateAmountNotifRS"))
    adapter.update_pricing(PricingUpdate("4711", (price(0, 3, amount, currency),)))
    doc = etree.fromstring(http.calls[0].request.body)
    schema = ota_schema("OTA_HotelRateAmountNotifRQ")
    assert schema.validate(doc), schema.error_log
    assert doc.xpath("//o:BaseByGuestAmt/@AmountAfterTax", namespaces=NS) == [wire]
    assert doc.xpath("//o:BaseByGuestAmt/@CurrencyCode", namespaces=NS) == [currency]
