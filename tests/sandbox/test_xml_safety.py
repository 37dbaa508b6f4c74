import logging

from tests.sandbox.conftest import BOOKING_AUTH

AVAIL = "/booking_com/hotels/ota/OTA_HotelAvailNotif"
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<OTA_HotelAvailNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">
<AvailStatusMessages HotelCode="&x;"><AvailStatusMessage BookingLimit="0">
<StatusApplicationControl Start="2028-01-01" End="2028-01-01"/></AvailStatusMessage></AvailStatusMessages>
</OTA_HotelAvailNotifRQ>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<OTA_PingRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><EchoData>&lol2;</EchoData></OTA_PingRQ>"""


def test_it_refuses_external_entities(sandbox):
    answer = sandbox.post(AVAIL, data=XXE, auth=BOOKING_AUTH)
    assert b"<Errors>" in answer.content and b"root:" not in answer.content
    assert "DOCTYPE" in sandbox.stats("booking_com")["last_invalid"]


def test_it_refuses_entity_expansion(sandbox):
    answer = sandbox.post("/booking_com/hotels/ota/OTA_Ping", data=LAUGHS, auth=BOOKING_AUTH)
    assert b"<Errors>" in answer.content and b"lollol" not in answer.content


def test_without_the_reference_folder_it_warns_once_and_still_checks_structure(tuned_sandbox, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="sandbox.xml"):
        sandbox = tuned_sandbox(reference_dir=tmp_path / "absent")
        ok = (
            b'<OTA_HotelAvailNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">'
            b'<AvailStatusMessages HotelCode="B1"><AvailStatusMessage BookingLimit="0">'
            b'<StatusApplicationControl Start="2028-01-01" End="2028-01-01"/></AvailStatusMessage>'
            b"</AvailStatusMessages></OTA_HotelAvailNotifRQ>"
        )
        assert b"<Success/>" in sandbox.post(AVAIL, data=ok, auth=BOOKING_AUTH).content
        reversed_range = ok.replace(b'Start="2028-01-01"', b'Start="2028-01-09"')
        assert b"<Errors>" in sandbox.post(AVAIL, data=reversed_range, auth=BOOKING_AUTH).content
    warnings = [r for r in caplog.records if "XSD validation is skipped" in r.getMessage()]
    assert len(warnings) == 1
