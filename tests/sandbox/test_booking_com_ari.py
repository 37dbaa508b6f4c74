import pytest

from tests.sandbox.conftest import BOOKING_AUTH, assert_valid, need_reference

AVAIL = "/booking_com/hotels/ota/OTA_HotelAvailNotif"
RATES = "/booking_com/hotels/ota/OTA_HotelRateAmountNotif"
NS = 'xmlns="http://www.opentravel.org/OTA/2003/05"'


def avail(messages: str, hotel: str = "B1") -> bytes:
    return (
        f'<OTA_HotelAvailNotifRQ {NS} Version="1.0" EchoToken="t-1"><AvailStatusMessages HotelCode="{hotel}">'
        f"{messages}</AvailStatusMessages></OTA_HotelAvailNotifRQ>"
    ).encode()


def message(start, end, inner="", **attrs):
    extra = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    control = f'<StatusApplicationControl Start="{start}" End="{end}" InvTypeCode="R1" RatePlanCode="P1"/>'
    return f"<AvailStatusMessage {extra}>{control}{inner}</AvailStatusMessage>"


def rates(start, end, amount="120.00", currency="EUR", hotel="B1") -> bytes:
    return (
        f'<OTA_HotelRateAmountNotifRQ {NS} Version="1.0"><RateAmountMessages HotelCode="{hotel}"><RateAmountMessage>'
        f'<StatusApplicationControl Start="{start}" End="{end}" InvTypeCode="R1" RatePlanCode="P1"/>'
        f'<Rates><Rate><BaseByGuestAmts><BaseByGuestAmt AmountAfterTax="{amount}" CurrencyCode="{currency}"/>'
        "</BaseByGuestAmts></Rate></Rates></RateAmountMessage></RateAmountMessages></OTA_HotelRateAmountNotifRQ>"
    ).encode()


def test_it_applies_booking_limits_restrictions_and_min_stay(sandbox):
    body = avail(
        message("2027-07-01", "2027-07-02", BookingLimit="0")
        + message("2027-07-03", "2027-07-03", '<RestrictionStatus Status="Close" Restriction="Master"/>')
        + message("2027-07-04", "2027-07-04", '<RestrictionStatus Status="Close" Restriction="Arrival"/>')
        + message(
            "2027-07-05",
            "2027-07-05",
            '<LengthsOfStay><LengthOfStay MinMaxMessageType="SetMinLOS" Time="3"/></LengthsOfStay>',
        )
    )
    answer = sandbox.post(AVAIL, data=body, auth=BOOKING_AUTH)
    assert answer.status_code == 200 and b"<Success/>" in answer.content and b'EchoToken="t-1"' in answer.content
    days = sandbox.calendar("booking_com", "B1", "2027-07-01", "2027-07-06")
    assert [d["available"] for d in days] == [False, False, False, True, True]
    assert days[2]["stop_sell"] and days[3]["closed_to_arrival"] and days[4]["min_stay"] == 3


def test_it_applies_rates(sandbox):
    assert b"<Success/>" in sandbox.post(RATES, data=rates("2027-07-01", "2027-07-02"), auth=BOOKING_AUTH).content
    assert sandbox.calendar("booking_com", "B1", "2027-07-01", "2027-07-02")[0]["price"] == "120.00"


def test_bad_credentials_get_401_with_an_ota_authorization_error(sandbox):
    answer = sandbox.post(AVAIL, data=avail(message("2027-07-01", "2027-07-01", BookingLimit="1")), auth=("x", "y"))
    assert answer.status_code == 401
    assert b'Type="4"' in answer.content and b'Code="497"' in answer.content


@pytest.mark.parametrize(
    "body",
    [
        avail(message("2027-07-02", "2027-07-01", BookingLimit="1")),
        avail(message("2027-07-01", "2027-07-01", BookingLimit="5")),
        avail(message("2027-07-01", "2027-07-01")),
        avail(message("2027-07-01", "2027-07-01", BookingLimit="1") * 1001),
        rates("2027-07-01", "2027-07-01", amount="0.00"),
        b"<not-xml",
    ],
)
def test_it_answers_invalid_messages_with_a_type_3_error(sandbox, body):
    path = RATES if b"RateAmount" in body else AVAIL
    answer = sandbox.post(path, data=body, auth=BOOKING_AUTH)
    assert answer.status_code == 200
    assert b"<Errors>" in answer.content and b'Type="3"' in answer.content
    assert sandbox.stats("booking_com")["invalid_payloads"] == 1


def test_it_validates_requests_against_the_official_schema(sandbox):
    need_reference()
    body = avail(message("2027-07-01", "2027-07-01", BookingLimit="1", Colour="red"))
    answer = sandbox.post(AVAIL, data=body, auth=BOOKING_AUTH)
    assert b"OTA_HotelAvailNotifRQ.xsd" in answer.content
    assert "Colour" in sandbox.stats("booking_com")["last_invalid"]


def test_a_listing_with_explicit_codes_refuses_others_with_code_402(sandbox):
    sandbox.listing("booking_com", "B1", room_codes=["ROOM-A"])
    answer = sandbox.post(AVAIL, data=avail(message("2027-07-01", "2027-07-01", BookingLimit="1")), auth=BOOKING_AUTH)
    assert b'Code="402"' in answer.content


def test_its_answers_validate_against_the_rs_schemas(sandbox):
    need_reference()
    ok = sandbox.post(AVAIL, data=avail(message("2027-07-01", "2027-07-01", BookingLimit="1")), auth=BOOKING_AUTH)
    assert_valid("ota/2015B/OTA_HotelAvailNotifRS.xsd", ok.content)
    failed = sandbox.post(RATES, data=rates("2027-07-01", "2027-07-01", amount="1"), auth=BOOKING_AUTH)
    assert_valid("ota/2015B/OTA_HotelRateAmountNotifRS.xsd", failed.content)
    ping = f'<OTA_PingRQ {NS} Version="1.0"><EchoData>hello</EchoData></OTA_PingRQ>'.encode()
    pong = sandbox.post("/booking_com/hotels/ota/OTA_Ping", data=ping, auth=BOOKING_AUTH)
    assert b"<EchoData>hello</EchoData>" in pong.content
    assert_valid("ota/2015B/OTA_PingRS.xsd", pong.content)


def test_the_official_samples_are_accepted(sandbox):
    reference = need_reference()
    sample = (reference / "ota/vendor_examples/bookingcom_OTA_HotelAvailNotifRQ_2003B_example.xml").read_bytes()
    sample = sample.replace(b"<AvailStatusMessages>", b'<AvailStatusMessages HotelCode="B1">')
    sample = sample.replace(b'BookingLimit="25"', b'BookingLimit="1"')  # one unit: 0 or 1 only
    answer = sandbox.post(AVAIL, data=sample, auth=BOOKING_AUTH)
    assert b"<Success/>" in answer.content, answer.text
