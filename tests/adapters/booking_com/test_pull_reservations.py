import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from adapters.base import BookingNotFoundError, BookingStatus, Guest, PlatformAPIError, WebhookPayloadError
from adapters.booking_com.adapter import parse_res_notif
from adapters.xml import parse
from tests.adapters.booking_com.conftest import BASE, success

PULL = f"{BASE}/hotels/ota/OTA_HotelResNotif"
ACK = f"{BASE}/hotels/ota/OTA_NotifReport"
FIXTURE = (Path(__file__).parent / "fixtures" / "res_notif_two_reservations.xml").read_bytes()
NS = {"o": "http://www.opentravel.org/OTA/2003/05"}
EMPTY = b'<OTA_HotelResNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"/>'


def test_it_pulls_the_listings_reservations_and_maps_commit_and_cancel(adapter, http):
    http.get(PULL, body=FIXTURE)

    page = adapter.fetch_bookings()

    assert http.calls[0].request.params == {"hotel_ids": "4711"}
    assert page.cursor is None
    new, cancelled = page.bookings
    assert new.channel_booking_id == "3001"
    assert new.listing_id == "4711"
    assert new.status == BookingStatus.CONFIRMED
    assert (new.check_in, new.check_out) == (dt.date(2027, 7, 10), dt.date(2027, 7, 14))
    assert new.guest == Guest(name="Greta Gast", email="greta@example.test", phone="+49 30 1234567")
    assert new.guests_count == 3
    assert (new.total_amount, new.currency) == (Decimal("480.00"), "EUR")
    assert new.version == "2027-06-01T07:30:00.000000+00:00"  # LastModifyDateTime in UTC
    assert cancelled.status == BookingStatus.CANCELLED
    assert cancelled.raw_status == "Cancel"


def test_versions_compare_in_utc_not_in_the_senders_offset(adapter, http):
    http.get(PULL, body=FIXTURE)
    new, cancelled = adapter.fetch_bookings().bookings
    # 09:30+02:00 is 07:30Z, before 08:00Z, though "09:30" > "08:00" as text.
    assert new.version < cancelled.version


def test_an_empty_queue_is_an_empty_page(adapter, http):
    http.get(PULL, body=EMPTY)
    assert adapter.fetch_bookings().bookings == ()


def test_fetch_booking_finds_a_queued_reservation_or_says_not_found(adapter, http):
    http.get(PULL, body=FIXTURE)
    assert adapter.fetch_booking("3001").channel_booking_id == "3001"
    with pytest.raises(BookingNotFoundError):
        adapter.fetch_booking("nope")


def test_an_unknown_hotel_is_a_permanent_error(adapter, http):
    http.get(PULL, status=404, body=b"")
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_bookings()
    assert caught.value.permanent


def test_it_acknowledges_each_reservation_with_our_booking_id(adapter, http):
    http.get(PULL, body=FIXTURE)
    http.post(
        ACK,
        body=success("OTA_NotifReportRS"),
    )
    bookings = adapter.fetch_bookings().bookings

    adapter.acknowledge_bookings([(bookings[0], "41"), (bookings[1], "42")])

    root = etree.fromstring(http.calls[1].request.body)
    assert root.tag == "{http://www.opentravel.org/OTA/2003/05}OTA_NotifReportRQ"
    assert root.find("o:Success", NS) is not None
    reservations = root.findall("o:NotifDetails/o:HotelNotifReport/o:HotelReservations/o:HotelReservation", NS)
    assert [
        (
            r.find("o:UniqueID", NS).get("ID"),
            r.find("o:ResGlobalInfo/o:HotelReservationIDs/o:HotelReservationID", NS).get("ResID_Value"),
        )
        for r in reservations
    ] == [("3001", "41"), ("2999", "42")]
    assert http.calls[1].request.headers["Authorization"].startswith("Basic ")


def test_acknowledging_nothing_sends_nothing(adapter, http):
    adapter.acknowledge_bookings([])
    assert not http.calls


# --- the official OTA samples ---------------------------------------------------------------


def sample(reference, name):
    return parse((reference / "ota" / "samples_2011B" / name).read_bytes())


def test_the_ota_res_notif_sample_becomes_a_confirmed_booking(reference):
    (booking,) = parse_res_notif(sample(reference, "OTA_HotelResNotifRQ.xml"))
    assert booking.channel_booking_id == "7865"  # HotelReservationID: the sample has no UniqueID
    assert booking.listing_id == "WASJW"
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.check_in, booking.check_out) == (dt.date(2005, 10, 18), dt.date(2005, 10, 20))
    assert booking.guest == Guest(name="David Dewberry", email="david.dewberry@dewberrycorp.com", phone="7245554321")
    assert booking.guests_count == 1
    # Only a per-night Base rate, no stay Total: the amount is unknown rather than guessed.
    assert (booking.total_amount, booking.currency) == (None, "")
    assert booking.version == "2005-01-26T15:22:00.000000+00:00"  # the message TimeStamp, in UTC


def test_the_ota_billing_sample_reads_guest_and_stay(reference):
    (booking,) = parse_res_notif(sample(reference, "OTA_HotelResNotifRQ3.xml"))
    assert booking.channel_booking_id == "193350531"
    assert (booking.check_in, booking.check_out) == (dt.date(2011, 6, 1), dt.date(2011, 6, 6))
    assert booking.guest.name == "Jane Smith"
    assert booking.guest.email == "janesmith@anycompany.com"
    assert booking.status == BookingStatus.CONFIRMED


def test_the_ota_disability_sample_reads_the_hotel_and_dates(reference):
    (booking,) = parse_res_notif(sample(reference, "OTA_HotelResNotifRQ_Disability.xml"))
    assert (booking.channel_booking_id, booking.listing_id) == ("7865", "AAABC")
    assert (booking.check_in, booking.check_out) == (dt.date(2012, 10, 18), dt.date(2012, 10, 20))
    assert booking.guest.name == "David Dewberry"


def test_a_reservation_without_any_id_is_refused_not_invented(reference):
    with pytest.raises(WebhookPayloadError):
        parse_res_notif(sample(reference, "OTA_HotelResNotifRQ2.xml"))
