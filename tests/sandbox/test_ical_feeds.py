from tests.sandbox.conftest import BOOKING_AUTH


def test_the_airbnb_export_looks_like_airbnbs(sandbox):
    sandbox.listing("airbnb", "L1")
    code = sandbox.book("airbnb", "L1", "2028-04-01", "2028-04-04", guest_phone="+49 170 1234567").json()["id"]
    item = {"start_date": "2028-04-10", "end_date": "2028-04-11", "available": False, "min_nights": 1}
    item |= {"closed_to_arrival": False, "closed_to_departure": False}
    sandbox.put("/airbnb/v2/listings/L1/calendar", json={"ranges": [item]}, headers=sandbox.bearer("airbnb"))
    answer = sandbox.get("/ical/airbnb/L1.ics")
    assert answer.headers["Content-Type"].startswith("text/calendar")
    text = answer.content.decode()
    assert "PRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN" in text
    assert "DTSTART;VALUE=DATE:20280401\r\nDTEND;VALUE=DATE:20280404\r\nSUMMARY:Reserved" in text
    assert "DTSTART;VALUE=DATE:20280410\r\nDTEND;VALUE=DATE:20280412\r\nSUMMARY:Airbnb (Not available)" in text
    assert "@airbnb.com" in text and code in text.replace("\r\n ", "")


def test_the_booking_export_uses_crlf_and_folds_long_lines(sandbox):
    sandbox.listing("booking_com", "B1")
    sandbox.book("booking_com", "B1", "2028-04-01", "2028-04-04")
    body = (
        '<OTA_HotelAvailNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">'
        '<AvailStatusMessages HotelCode="B1"><AvailStatusMessage BookingLimit="0">'
        '<StatusApplicationControl Start="2028-04-04" End="2028-04-05"/></AvailStatusMessage>'
        "</AvailStatusMessages></OTA_HotelAvailNotifRQ>"
    )
    sandbox.post("/booking_com/hotels/ota/OTA_HotelAvailNotif", data=body.encode(), auth=BOOKING_AUTH)
    raw = sandbox.get("/ical/booking_com/B1.ics").content
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    assert raw.count(b"SUMMARY:CLOSED - Not available") == 2
    assert b"METHOD:PUBLISH" in raw and b"@booking.com" in raw


def test_a_custom_feed_is_served_byte_for_byte(sandbox):
    quirky = b"BEGIN:VCALENDAR\nX-WEIRD;PARAM=1:yes\nEND:VCALENDAR\n"
    assert sandbox.post("/_control/ical/feeds/quirky", data=quirky).status_code == 201
    assert sandbox.get("/ical/custom/quirky.ics").content == quirky


def test_unknown_feeds_are_404(sandbox):
    assert sandbox.get("/ical/custom/none.ics").status_code == 404
    assert sandbox.get("/ical/airbnb/none.ics").status_code == 404
