"""Google ARI: the maximum stay goes out as SetMaxLOS up to 365 nights and prices with exactly their
currency's decimals, in messages that validate against the official OTA 2015B schemas."""

from lxml import etree

from adapters.base import AvailabilityUpdate, PricingUpdate
from tests.adapters.booking_com.shapes import avail, price
from tests.adapters.google.test_ari import AVAIL, NS, RATE, ok, ota_schema  # noqa: F401 (fixture)


def test_max_stay_goes_out_as_set_max_los_capped_at_365_and_validates(adapter, http, ota_schema):  # noqa: F811
    http.post(AVAIL, body=ok("OTA_HotelAvailNotifRS"))
    asked = [1, 30, 365, 366, None]
    ranges = tuple(avail(2 * i, 2 * i + 2, max_stay=stay) for i, stay in enumerate(asked))
    adapter.update_availability(AvailabilityUpdate("gh-1", ranges))
    doc = etree.fromstring(http.calls[0].request.body)
    schema = ota_schema("OTA_HotelAvailNotifRQ")
    assert schema.validate(doc), schema.error_log
    sent = [int(x) for x in doc.xpath("//o:LengthOfStay[@MinMaxMessageType='SetMaxLOS']/@Time", namespaces=NS)]
    assert sent == [1, 30, 365, 365, 365]


def test_yen_go_out_without_decimals_and_validate(adapter, http, ota_schema):  # noqa: F811
    http.post(RATE, body=ok("OTA_HotelRateAmountNotifRS"))
    adapter.update_pricing(PricingUpdate("gh-1", (price(0, 2, "12000.00", "JPY"), price(2, 3, "12.345", "KWD"))))
    doc = etree.fromstring(http.calls[0].request.body)
    schema = ota_schema("OTA_HotelRateAmountNotifRQ")
    assert schema.validate(doc), schema.error_log
    assert doc.xpath("//o:BaseByGuestAmt/@AmountAfterTax", namespaces=NS) == ["12000", "12.345"]
