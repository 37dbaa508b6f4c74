from lxml import etree

from tests.sandbox.conftest import assert_valid, need_reference

AUTH = '<Authentication username="sandbox-expedia" password="sandbox-expedia-pass"/>'
BR_NS = "http://www.expediaconnect.com/EQC/BR/2014/01"
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
OTA = "{http://www.opentravel.org/OTA/2003/05}"
HEADER = "{http://www.newtrade.com/expedia/R14/header}"


def retrieve(sandbox, inner: str = "") -> etree._Element:
    body = f'<BookingRetrievalRQ xmlns="{BR_NS}">{AUTH}{inner}</BookingRetrievalRQ>'
    answer = sandbox.post("/expedia/eqc/br", data=body.encode())
    assert answer.status_code == 200, answer.text
    return etree.fromstring(answer.content)


def bookings(root) -> list[tuple[str, str, str]]:
    return [(b.get("id"), b.get("type"), b.get("status")) for b in root.iter(f"{{{BR_NS}}}Booking")]


def confirm(sandbox, booking_id: str, booking_type: str = "Book", hotel: str = "4711") -> bytes:
    body = (
        f'<BookingConfirmRQ xmlns="http://www.expediaconnect.com/EQC/BC/2007/09">{AUTH}<Hotel id="{hotel}"/>'
        f'<BookingConfirmNumbers><BookingConfirmNumber bookingID="{booking_id}" bookingType="{booking_type}" '
        'confirmNumber="CM-1" confirmTime="2027-01-01T10:00:00Z"/></BookingConfirmNumbers></BookingConfirmRQ>'
    )
    return sandbox.post("/expedia/eqc/bc", data=body.encode()).content


def booked(sandbox) -> str:
    sandbox.listing("expedia", "4711")
    return sandbox.book("expedia", "4711", "2027-10-01", "2027-10-04", guest_email="ada@example.org").json()["id"]


def test_a_new_booking_is_pending_then_retrieved_until_confirmed(sandbox):
    bid = booked(sandbox)
    assert bookings(retrieve(sandbox)) == [(bid, "Book", "pending")]
    assert bookings(retrieve(sandbox)) == [(bid, "Book", "retrieved")]
    assert b"<Success/>" in confirm(sandbox, bid)
    assert bookings(retrieve(sandbox)) == []
    state = sandbox.get("/_state/expedia/reservations").json()[0]
    assert state["confirmed"] is True and state["confirm_number"] == "CM-1"


def test_a_single_booking_can_be_asked_for_even_when_confirmed(sandbox):
    bid = booked(sandbox)
    confirm(sandbox, bid)
    assert bookings(retrieve(sandbox, f'<ParamSet><Booking id="{bid}"/></ParamSet>')) == [(bid, "Book", "confirmed")]


def test_a_hotel_with_nothing_pending_answers_an_empty_list(sandbox):
    sandbox.listing("expedia", "4711")
    root = retrieve(sandbox, '<Hotel id="4711"/>')
    assert root.find(f"{{{BR_NS}}}Bookings") is not None and bookings(root) == []


def test_an_unknown_hotel_is_error_3202(sandbox):
    assert b'code="3202"' in etree.tostring(retrieve(sandbox, '<Hotel id="999"/>'))


def test_a_modification_needs_its_own_confirmation(sandbox):
    bid = booked(sandbox)
    confirm(sandbox, bid)
    sandbox.post(f"/_control/expedia/reservations/{bid}/modify", json={"total": "350.00"})
    assert bookings(retrieve(sandbox)) == [(bid, "Modify", "pending")]
    assert b'code="10082"' in confirm(sandbox, bid, "Book")
    assert b"Warning" not in confirm(sandbox, bid, "Modify")
    assert bookings(retrieve(sandbox)) == []


def test_confirming_a_booking_of_another_hotel_is_a_warning(sandbox):
    bid = booked(sandbox)
    sandbox.listing("expedia", "4712")
    assert b'code="10081"' in confirm(sandbox, bid, hotel="4712")


def test_a_booking_is_pushed_as_a_soap_notification_with_the_push_credentials(sandbox, receiver):
    bid = booked(sandbox)
    envelope = etree.fromstring(receiver.wait_for(1, "/webhooks/expedia")[0]["body"])
    auth = envelope.find(f"{SOAP}Header/{HEADER}Interface//{HEADER}Authentication")
    assert (auth.get("Username"), auth.get("Password")) == ("expedia-push", "sandbox-expedia-push-pass")
    payload = envelope.find(f"{SOAP}Body")[0]
    assert payload.tag == f"{OTA}OTA_HotelResNotifRQ"
    assert payload.find(f".//{OTA}UniqueID").get("ID") == bid
    assert payload.find(f".//{OTA}TimeSpan").get("End") == "2027-10-04"


def test_modify_and_cancel_send_their_own_messages(sandbox, receiver):
    bid = booked(sandbox)
    sandbox.post(f"/_control/expedia/reservations/{bid}/modify", json={"check_out": "2027-10-05"})
    sandbox.post(f"/_control/expedia/reservations/{bid}/cancel")
    received = receiver.wait_for(3, "/webhooks/expedia")
    names = sorted(etree.QName(etree.fromstring(r["body"]).find(f"{SOAP}Body")[0]).localname for r in received)
    assert names == ["OTA_CancelRQ", "OTA_HotelResModifyNotifRQ", "OTA_HotelResNotifRQ"]
    assert bookings(retrieve(sandbox)) == [(bid, "Cancel", "pending")]


def test_notifications_validate_against_expedias_notification_schemas(sandbox, receiver):
    need_reference()
    bid = booked(sandbox)
    confirm(sandbox, bid)
    sandbox.post(f"/_control/expedia/reservations/{bid}/modify", json={"check_out": "2027-10-05"})
    sandbox.post(f"/_control/expedia/reservations/{bid}/cancel")
    for message in receiver.wait_for(3, "/webhooks/expedia"):
        envelope = etree.fromstring(message["body"])
        payload = envelope.find(f"{SOAP}Body")[0]
        assert_valid(f"expedia/booking_notification_xsd/{etree.QName(payload).localname}.xsd", payload)
        assert_valid("expedia/booking_notification_xsd/SOAP_header.xsd", envelope.find(f"{SOAP}Header")[0])


def test_br_and_bc_answers_validate(sandbox):
    need_reference()
    bid = booked(sandbox)
    assert_valid("expedia/eqc_xsd/BookingRetrievalRS.xsd", retrieve(sandbox))
    assert_valid("expedia/eqc_xsd/BookingConfirmRS.xsd", confirm(sandbox, bid, "Modify"))
    assert_valid("expedia/eqc_xsd/BookingConfirmRS.xsd", confirm(sandbox, bid))


def test_expedia_stays_longer_than_28_nights_are_refused(sandbox):
    sandbox.listing("expedia", "4711")
    assert sandbox.book("expedia", "4711", "2027-10-01", "2027-11-01").status_code == 400


def test_expedias_own_requests_are_accepted(sandbox):
    reference = need_reference()
    sandbox.listing("expedia", "3546")
    for name in (
        "brbc_01_BookingRetrievalRQ_booking-retrieval-request-pending-bookings.xml",
        "brbc_02_BookingRetrievalRQ_booking-retrieval-request-retrieving-a-specific-booking-id.xml",
    ):
        sample = (reference / "expedia/samples" / name).read_bytes()
        sample = sample.replace(b'username="testuser" password="testpass"', AUTH.split(" ", 1)[1][:-2].encode())
        answer = sandbox.post("/expedia/eqc/br", data=sample)
        assert b"<Bookings" in answer.content, answer.text


def test_a_booking_of_a_room_type_is_retrieved_confirmed_and_notified_under_its_hotel(sandbox, receiver):
    """A room-type listing (``hotel`` on the control API) is sold under its hotel's id: BR, BC and the
    SOAP notification name the hotel, and the booking carries its room type."""
    sandbox.listing("expedia", "4720.R2", hotel="4720", room_codes=["R2"])
    bid = sandbox.book("expedia", "4720.R2", "2027-10-01", "2027-10-03").json()["id"]
    root = retrieve(sandbox, '<Hotel id="4720"/>')
    (booking,) = root.iter(f"{{{BR_NS}}}Booking")
    assert booking.find(f"{{{BR_NS}}}Hotel").get("id") == "4720"
    assert booking.find(f"{{{BR_NS}}}RoomStay").get("roomTypeID") == "R2"
    assert b"Warning" not in confirm(sandbox, bid, hotel="4720")
    payload = etree.fromstring(receiver.wait_for(1, "/webhooks/expedia")[0]["body"]).find(f"{SOAP}Body")[0]
    assert payload.find(f".//{OTA}BasicPropertyInfo").get("HotelCode") == "4720"
    assert payload.find(f".//{OTA}RoomType").get("RoomTypeCode") == "R2"


def test_a_room_type_listing_needs_a_numeric_hotel(sandbox):
    answer = sandbox.post("/_control/expedia/listings", json={"listing_id": "h.R1", "hotel": "h", "room_codes": ["R1"]})
    assert answer.status_code == 400, answer.text
