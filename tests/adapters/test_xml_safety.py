"""Inbound XML never expands entities or fetches anything: XXE and billion-laughs payloads are refused."""

import pytest
import responses

from adapters.base import (
    Credentials,
    PlatformAccount,
    PlatformAPIError,
    WebhookConfig,
    WebhookPayloadError,
    WebhookSignatureError,
)
from adapters.booking_com.adapter import BookingComAdapter
from adapters.expedia.adapter import ExpediaAdapter
from adapters.xml import UnsafeXMLError, parse

MARKER = "SECRET-MARKER-7f3a"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<OTA_HotelResNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05">&lol5;</OTA_HotelResNotifRQ>"""


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(MARKER)
    return path


def xxe(secret_file) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret_file}">]>
<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">
  <soap-env:Header><Interface xmlns="http://www.newtrade.com/expedia/R14/header"><PayloadInfo><CommDescriptor>
    <Authentication Username="&xxe;" Password="x"/></CommDescriptor></PayloadInfo></Interface></soap-env:Header>
  <soap-env:Body><OTA_CancelRQ xmlns="http://www.opentravel.org/OTA/2003/05" TimeStamp="2027-01-01T00:00:00Z">
    <UniqueID Type="14" ID="&xxe;"/></OTA_CancelRQ></soap-env:Body>
</soap-env:Envelope>""".encode()


def parameter_entity(secret_file) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY % ext SYSTEM "file://{secret_file}"> %ext;]><r/>""".encode()


def test_the_parser_refuses_an_external_entity(secret_file):
    with pytest.raises(UnsafeXMLError):
        parse(xxe(secret_file))


def test_the_parser_refuses_a_parameter_entity(secret_file):
    with pytest.raises(WebhookPayloadError):
        parse(parameter_entity(secret_file))


def test_the_parser_refuses_billion_laughs():
    with pytest.raises(UnsafeXMLError):
        parse(BILLION_LAUGHS)


def test_a_doctype_hidden_in_utf16_is_still_refused(secret_file):
    with pytest.raises(WebhookPayloadError):
        parse(xxe(secret_file).decode().replace('encoding="UTF-8"', "").encode("utf-16"))


def test_expedia_parse_webhook_refuses_xxe_and_never_shows_the_file(secret_file):
    with pytest.raises(WebhookPayloadError) as caught:
        ExpediaAdapter.parse_webhook(headers={}, body=xxe(secret_file))
    assert MARKER not in str(caught.value)


def test_expedia_signature_check_refuses_xxe_as_unverifiable(secret_file):
    config = WebhookConfig(username=MARKER, password="x")
    with pytest.raises(WebhookSignatureError):
        ExpediaAdapter.verify_webhook_signature(headers={}, body=xxe(secret_file), config=config, now=None)


def test_expedia_parse_webhook_refuses_billion_laughs():
    with pytest.raises(WebhookPayloadError):
        ExpediaAdapter.parse_webhook(headers={}, body=BILLION_LAUGHS)


@pytest.mark.parametrize("payload", ["xxe", "laughs"])
def test_a_booking_com_pull_answer_with_entities_is_refused(secret_file, payload):
    body = xxe(secret_file) if payload == "xxe" else BILLION_LAUGHS
    account = PlatformAccount("4711", Credentials(username="u", password="p"), "https://b.test/booking_com")
    with responses.RequestsMock() as http:
        http.get("https://b.test/booking_com/hotels/ota/OTA_HotelResNotif", body=body)
        with pytest.raises(PlatformAPIError) as caught:
            BookingComAdapter(account).fetch_bookings()
    assert MARKER not in str(caught.value)
    assert "lol" not in str(caught.value)


def test_malformed_xml_is_a_payload_error():
    with pytest.raises(WebhookPayloadError):
        parse(b"<a><b></a>")
