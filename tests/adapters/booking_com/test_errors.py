import pytest

from adapters.base import AvailabilityUpdate, PlatformAPIError
from tests.adapters.booking_com.conftest import BASE
from tests.adapters.booking_com.shapes import avail

URL = f"{BASE}/hotels/ota/OTA_HotelAvailNotif"
UPDATE = AvailabilityUpdate("4711", (avail(0, 1),))


def rs(errors: str) -> bytes:
    return (
        '<OTA_HotelAvailNotifRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">'
        f"<Errors>{errors}</Errors></OTA_HotelAvailNotifRS>"
    ).encode()


def push_error(adapter) -> PlatformAPIError:
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_availability(UPDATE)
    return caught.value


def test_a_business_rule_error_type_3_is_permanent(adapter, http):
    http.post(URL, body=rs('<Error Type="3" Code="367">Date range too long</Error>'))
    error = push_error(adapter)
    assert error.permanent
    assert error.code == "367"


def test_an_unknown_room_type_is_a_clear_permanent_error(adapter, http):
    http.post(URL, body=rs('<Error Type="3" Code="402">Invalid room type</Error>'))
    error = push_error(adapter)
    assert error.permanent
    assert "unknown room type" in str(error)
    assert "'471101'" in str(error)


def test_an_authorization_error_type_4_with_http_401_is_permanent(adapter, http):
    http.post(URL, status=401, body=rs('<Error Type="4" Code="497">Authorization error</Error>'))
    error = push_error(adapter)
    assert error.permanent
    assert error.status == 401


def test_a_processing_exception_type_12_is_transient(adapter, http):
    http.post(URL, body=rs('<Error Type="12" Code="450">Unable to process</Error>'))
    assert not push_error(adapter).permanent


def test_http_503_without_a_body_is_transient(adapter, http):
    http.post(URL, status=503, body=b"")
    error = push_error(adapter)
    assert not error.permanent
    assert error.status == 503


def test_http_429_is_transient_and_carries_retry_after(adapter, http):
    http.post(URL, status=429, headers={"Retry-After": "17"}, body=rs('<Error Type="12" Code="0">slow down</Error>'))
    error = push_error(adapter)
    assert not error.permanent
    assert error.retry_after == 17.0


def test_warnings_do_not_fail_the_push(adapter, http):
    http.post(
        URL,
        body=b'<OTA_HotelAvailNotifRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Success/>'
        b'<Warnings><Warning Type="3">past dates ignored</Warning></Warnings></OTA_HotelAvailNotifRS>',
    )
    assert adapter.update_availability(UPDATE) == 1


def test_an_html_answer_is_a_transient_error(adapter, http):
    http.post(URL, body=b"<html><body>gateway</body>")
    assert not push_error(adapter).permanent
