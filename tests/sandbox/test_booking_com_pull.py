import json

from lxml import etree

from tests.sandbox.conftest import BOOKING_AUTH, assert_valid, need_reference

PULL = "/booking_com/hotels/ota/OTA_HotelResNotif"
ACK = "/booking_com/hotels/ota/OTA_NotifReport"
OTA = "{http://www.opentravel.org/OTA/2003/05}"


def pull(sandbox, hotels="B1"):
    answer = sandbox.get(PULL, params={"hotel_ids": hotels}, auth=BOOKING_AUTH)
    assert answer.status_code == 200, answer.text
    return etree.fromstring(answer.content)


def offered(root):
    return [(r.find(f"{OTA}UniqueID").get("ID"), r.get("ResStatus")) for r in root.iter(f"{OTA}HotelReservation")]


def ack(sandbox, *ids):
    reservations = "".join(
        f'<HotelReservation><UniqueID Type="14" ID="{rid}"/><ResGlobalInfo><HotelReservationIDs>'
        f'<HotelReservationID ResID_Type="14" ResID_Value="our-{rid}"/></HotelReservationIDs>'
        '<BasicPropertyInfo HotelCode="B1"/></ResGlobalInfo>'
        "</HotelReservation>"
        for rid in ids
    )
    body = (
        '<OTA_NotifReportRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Success/><NotifDetails>'
        f"<HotelNotifReport><HotelReservations>{reservations}</HotelReservations></HotelNotifReport>"
        "</NotifDetails></OTA_NotifReportRQ>"
    )
    return sandbox.post(ACK, data=body.encode(), auth=BOOKING_AUTH)


def booked(sandbox, **extra):
    sandbox.listing("booking_com", "B1")
    return sandbox.book("booking_com", "B1", "2027-08-01", "2027-08-04", guest_phone="+49 30 1234", **extra).json()[
        "id"
    ]


def test_an_empty_pull_has_no_hotel_reservations(sandbox):
    root = pull(sandbox)
    assert root.tag == f"{OTA}OTA_HotelResNotifRQ" and root.find(f"{OTA}HotelReservations") is None


def test_a_new_booking_is_offered_until_acknowledged(sandbox):
    rid = booked(sandbox)
    assert offered(pull(sandbox)) == [(rid, "Commit")]
    assert offered(pull(sandbox)) == [(rid, "Commit")]
    assert sandbox.stats("booking_com")["unacknowledged_offers"] == 1
    answer = ack(sandbox, rid)
    assert b"<Success/>" in answer.content
    assert offered(pull(sandbox)) == []
    assert sandbox.get("/_state/booking_com/reservations").json()[0]["acknowledged"] is True


def test_the_offer_carries_stay_guest_and_total(sandbox):
    rid = booked(sandbox, guest_email="ada@example.org")
    reservation = next(pull(sandbox).iter(f"{OTA}HotelReservation"))
    span = reservation.find(f".//{OTA}TimeSpan")
    assert (span.get("Start"), span.get("End")) == ("2027-08-01", "2027-08-04")
    assert reservation.find(f".//{OTA}Total").get("AmountAfterTax") == "300.00"
    assert reservation.find(f".//{OTA}BasicPropertyInfo").get("HotelCode") == "B1"
    assert reservation.findtext(f".//{OTA}Surname") == "Lovelace"
    assert reservation.findtext(f".//{OTA}Email") == "ada@example.org"
    assert reservation.get("LastModifyDateTime") and rid


def test_modifications_and_cancellations_are_offered_again(sandbox):
    rid = booked(sandbox)
    pull(sandbox)
    ack(sandbox, rid)
    sandbox.post(f"/_control/booking_com/reservations/{rid}/modify", json={"check_out": "2027-08-05"})
    assert offered(pull(sandbox)) == [(rid, "Modify")]
    ack(sandbox, rid)
    sandbox.post(f"/_control/booking_com/reservations/{rid}/cancel")
    assert offered(pull(sandbox)) == [(rid, "Cancel")]


def test_a_change_after_the_pull_is_not_acknowledged_by_the_older_ack(sandbox):
    rid = booked(sandbox)
    pull(sandbox)
    sandbox.post(f"/_control/booking_com/reservations/{rid}/modify", json={"guest_name": "Grace Hopper"})
    ack(sandbox, rid)
    assert offered(pull(sandbox)) == [(rid, "Modify")]


def test_a_pull_needs_hotel_ids(sandbox):
    answer = sandbox.get(PULL, auth=BOOKING_AUTH)
    assert b'Type="3"' in answer.content


def test_acknowledging_an_unknown_reservation_is_an_error(sandbox):
    assert b"<Errors>" in ack(sandbox, "999").content


def test_unacknowledged_reservations_fall_back_to_email_after_the_deadline(sandbox):
    booked(sandbox)
    sandbox.app.fallback_seconds = 0
    try:
        assert sandbox.get("/_state/booking_com/reservations").json()[0]["fallback_email"] is True
    finally:
        sandbox.app.fallback_seconds = 30 * 60


def test_queueing_a_reservation_pings_our_webhook(sandbox, receiver):
    rid = booked(sandbox)
    ping = receiver.wait_for(1, "/webhooks/booking-com")[0]
    assert json.loads(ping["body"]) == {"hotel_id": "B1", "reservation_id": rid}


def test_the_pulled_message_and_the_ack_answer_validate(sandbox):
    need_reference()
    rid = booked(sandbox, guest_email="ada@example.org")
    assert_valid("ota/2015B/OTA_HotelResNotifRQ.xsd", pull(sandbox))
    assert_valid("ota/2015B/OTA_NotifReportRS.xsd", ack(sandbox, rid).content)
