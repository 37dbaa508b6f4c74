import pytest
from lxml import etree

from adapters.base import BookingData, BookingStatus
from adapters.booking_com.adapter import notif_report_request
from adapters.booking_com.ota import ping_request
from tests.adapters.booking_com.conftest import BASE, SUCCESS_AVAIL, SUCCESS_RATE
from tests.adapters.booking_com.shapes import availability_shapes, night, pricing_shapes

AVAIL_URL = f"{BASE}/hotels/ota/OTA_HotelAvailNotif"
RATE_URL = f"{BASE}/hotels/ota/OTA_HotelRateAmountNotif"


def assert_valid(schema, body: bytes):
    doc = etree.fromstring(body)
    assert schema.validate(doc), schema.error_log


@pytest.mark.parametrize("shape", list(availability_shapes("4711")))
def test_each_availability_shape_it_sends_is_a_valid_ota_hotel_avail_notif_rq(adapter, http, ota_schema, shape):
    http.post(AVAIL_URL, body=SUCCESS_AVAIL)
    adapter.update_availability(availability_shapes("4711")[shape])
    for call in http.calls:
        assert_valid(ota_schema("OTA_HotelAvailNotifRQ"), call.request.body)


@pytest.mark.parametrize("shape", list(pricing_shapes("4711")))
def test_each_pricing_shape_it_sends_is_a_valid_ota_hotel_rate_amount_notif_rq(adapter, http, ota_schema, shape):
    http.post(RATE_URL, body=SUCCESS_RATE)
    adapter.update_pricing(pricing_shapes("4711")[shape])
    assert_valid(ota_schema("OTA_HotelRateAmountNotifRQ"), http.calls[0].request.body)


def test_the_acknowledgement_is_a_valid_ota_notif_report_rq(ota_schema):
    bookings = [
        (BookingData("booking_com", str(n), "4711", BookingStatus.CONFIRMED, night(n), night(n + 2)), f"B-{n}")
        for n in range(3)
    ]
    assert_valid(ota_schema("OTA_NotifReportRQ"), notif_report_request(bookings))


def test_the_health_ping_is_a_valid_ota_ping_rq(ota_schema):
    assert_valid(ota_schema("OTA_PingRQ"), ping_request("hello"))
