import pytest

from tests.sandbox.conftest import assert_valid, need_reference

NS = 'xmlns="http://www.opentravel.org/OTA/2003/05"'


def avail(codes: str = 'InvTypeCode="R1" RatePlanCode="P1"') -> bytes:
    return (
        f'<OTA_HotelAvailNotifRQ {NS} Version="3.0"><AvailStatusMessages HotelCode="G1"><AvailStatusMessage '
        f'BookingLimit="0"><StatusApplicationControl Start="2027-11-01" End="2027-11-02" {codes}/>'
        "</AvailStatusMessage></AvailStatusMessages></OTA_HotelAvailNotifRQ>"
    ).encode()


@pytest.fixture
def partner(sandbox):
    sandbox.headers = sandbox.bearer("google")
    return sandbox


def test_ari_messages_update_the_calendar(partner):
    answer = partner.post("/google/ari/OTA_HotelAvailNotif", data=avail(), headers=partner.headers)
    assert answer.status_code == 200 and b"<Success/>" in answer.content
    assert [d["available"] for d in partner.calendar("google", "G1", "2027-11-01", "2027-11-04")] == [
        False,
        False,
        True,
    ]


def test_ari_messages_need_room_and_rate_codes(partner):
    answer = partner.post("/google/ari/OTA_HotelAvailNotif", data=avail('InvTypeCode="R1"'), headers=partner.headers)
    assert b'Type="3"' in answer.content and "RatePlanCode" in partner.stats("google")["last_invalid"]


def test_ari_without_a_token_gets_an_ota_401(sandbox):
    answer = sandbox.post("/google/ari/OTA_HotelAvailNotif", data=avail())
    assert answer.status_code == 401 and b'Type="4"' in answer.content


def test_the_ari_answer_validates(partner):
    need_reference()
    answer = partner.post("/google/ari/OTA_HotelAvailNotif", data=avail(), headers=partner.headers)
    assert_valid("ota/2015B/OTA_HotelAvailNotifRS.xsd", answer.content)


def test_reservations_come_in_googles_json_shape(partner):
    partner.listing("google", "G1")
    rid = partner.book("google", "G1", "2027-11-10", "2027-11-12", guests=4).json()["id"]
    one = partner.get(f"/google/v1/reservations/{rid}", headers=partner.headers).json()["reservation"]
    assert one["status"] == "CONFIRMED" and one["checkIn"] == "2027-11-10" and one["guestCount"] == 4
    assert one["total"] == {"amount": "300.00", "currencyCode": "EUR"} and one["revision"] == 1
    listed = partner.get("/google/v1/listings/G1/reservations", headers=partner.headers).json()
    assert [r["reservationId"] for r in listed["reservations"]] == [rid] and listed["nextPageToken"] is None


def test_errors_come_in_googles_json_error_shape(partner):
    answer = partner.get("/google/v1/reservations/nope", headers=partner.headers)
    assert answer.status_code == 404 and answer.json()["error"]["status"] == "NOT_FOUND"


def test_the_partner_health_check(partner):
    assert "partner" in partner.get("/google/v1/partner", headers=partner.headers).json()


def test_the_jwks_is_public_and_never_faulted(sandbox):
    sandbox.post("/_control/google/faults", json={"down": True})
    keys = sandbox.get("/google/oauth2/v3/certs").json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
