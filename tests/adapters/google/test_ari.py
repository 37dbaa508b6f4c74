import math
from dataclasses import replace

import pytest
from lxml import etree

from adapters.base import AvailabilityUpdate, PlatformAPIError, PricingUpdate
from adapters.google.adapter import GoogleAdapter
from tests.adapters.booking_com.shapes import avail, availability_shapes, price, pricing_shapes
from tests.adapters.google.conftest import BASE

AVAIL = f"{BASE}/ari/OTA_HotelAvailNotif"
RATE = f"{BASE}/ari/OTA_HotelRateAmountNotif"
NS = {"o": "http://www.opentravel.org/OTA/2003/05"}


def ok(root: str) -> bytes:
    return f'<{root} xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Success/></{root}>'.encode()


@pytest.fixture
def ota_schema():
    from tests.adapters.booking_com.conftest import reference_dir

    def load(name):
        return etree.XMLSchema(etree.parse(str(reference_dir() / "ota" / "2015B" / f"{name}.xsd")))

    return load


@pytest.mark.parametrize("shape", list(availability_shapes("villa-9")))
def test_availability_shapes_validate_and_always_carry_room_and_rate_codes(adapter, http, ota_schema, shape):
    http.post(AVAIL, body=ok("OTA_HotelAvailNotifRS"))
    adapter.update_availability(availability_shapes("villa-9")[shape])
    schema = ota_schema("OTA_HotelAvailNotifRQ")
    for call in http.calls:
        doc = etree.fromstring(call.request.body)
        assert schema.validate(doc), schema.error_log
        controls = doc.findall(".//o:StatusApplicationControl", NS)
        assert controls and all(c.get("InvTypeCode") == "villa-9" and c.get("RatePlanCode") == "BAR" for c in controls)


@pytest.mark.parametrize("shape", list(pricing_shapes("villa-9")))
def test_pricing_shapes_validate(adapter, http, ota_schema, shape):
    http.post(RATE, body=ok("OTA_HotelRateAmountNotifRS"))
    adapter.update_pricing(pricing_shapes("villa-9")[shape])
    schema = ota_schema("OTA_HotelRateAmountNotifRQ")
    assert schema.validate(etree.fromstring(http.calls[0].request.body)), schema.error_log


def test_it_sends_the_bearer_token_and_the_metadata_codes(account, http):
    http.post(RATE, body=ok("OTA_HotelRateAmountNotifRS"))
    adapter = GoogleAdapter(replace(account, metadata={"room_id": "R7", "rate_plan_id": "FLEX"}))
    adapter.update_pricing(PricingUpdate("villa-9", (price(0, 3),)))
    request = http.calls[0].request
    assert request.headers["Authorization"] == "Bearer ya29.token"
    control = etree.fromstring(request.body).find(".//o:StatusApplicationControl", NS)
    assert (control.get("InvTypeCode"), control.get("RatePlanCode")) == ("R7", "FLEX")


def test_it_batches_1000_messages_per_request(adapter, http):
    http.post(RATE, body=ok("OTA_HotelRateAmountNotifRS"))
    made = adapter.update_pricing(PricingUpdate("villa-9", tuple(price(i, i + 1) for i in range(2001))))
    assert made == len(http.calls) == math.ceil(2001 / GoogleAdapter.max_batch)


def test_an_expired_token_is_transient_so_the_engine_refreshes(adapter, http):
    http.post(AVAIL, status=401, body=b"")
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_availability(AvailabilityUpdate("villa-9", (avail(0, 1),)))
    assert (caught.value.permanent, caught.value.code) == (False, "token_expired")


def test_an_unknown_rate_plan_is_a_permanent_error(adapter, http):
    http.post(
        AVAIL,
        body=b'<OTA_HotelAvailNotifRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Errors>'
        b'<Error Type="3" Code="249">Invalid rate plan</Error></Errors></OTA_HotelAvailNotifRS>',
    )
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_availability(AvailabilityUpdate("villa-9", (avail(0, 1),)))
    assert caught.value.permanent
    assert "unknown rate plan" in str(caught.value)
