import pytest
from lxml import etree

from tests.adapters.booking_com.shapes import availability_shapes, pricing_shapes
from tests.adapters.expedia.conftest import AR_SUCCESS, BASE, BC_SUCCESS

AR = f"{BASE}/eqc/ar"


def assert_valid(schema, body: bytes):
    assert schema.validate(etree.fromstring(body)), schema.error_log


@pytest.mark.parametrize("shape", list(availability_shapes("3546")))
def test_each_availability_shape_is_a_valid_avail_rate_update_rq(adapter, http, schema, shape):
    http.post(AR, body=AR_SUCCESS)
    adapter.update_availability(availability_shapes("3546")[shape])
    assert_valid(schema("eqc_xsd/AvailRateUpdateRQ.xsd"), http.calls[0].request.body)


@pytest.mark.parametrize("shape", list(pricing_shapes("3546")))
def test_each_pricing_shape_is_a_valid_avail_rate_update_rq(adapter, http, schema, shape):
    http.post(AR, body=AR_SUCCESS)
    adapter.update_pricing(pricing_shapes("3546")[shape])
    assert_valid(schema("eqc_xsd/AvailRateUpdateRQ.xsd"), http.calls[0].request.body)


def test_pending_and_single_booking_retrievals_are_valid_booking_retrieval_rq(adapter, http, schema):
    http.post(
        f"{BASE}/eqc/br",
        body=b'<BookingRetrievalRS xmlns="http://www.expediaconnect.com/EQC/BR/2014/01"><Bookings/></BookingRetrievalRS>',
    )
    adapter.fetch_bookings()
    with pytest.raises(Exception):
        adapter.fetch_booking("849123")
    for call in http.calls:
        assert_valid(schema("eqc_xsd/BookingRetrievalRQ.xsd"), call.request.body)


def test_the_confirmation_is_a_valid_booking_confirm_rq(adapter, http, schema):
    from tests.adapters.expedia.test_booking_retrieval import pending_bookings

    http.post(f"{BASE}/eqc/bc", body=BC_SUCCESS)
    adapter.acknowledge_bookings([(b, f"CM-{i}") for i, b in enumerate(pending_bookings())])
    assert_valid(schema("eqc_xsd/BookingConfirmRQ.xsd"), http.calls[0].request.body)
