"""BR pulls pending bookings; BC confirms each one (docs/platforms.md, expedia)."""

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from adapters.base import BookingData, BookingNotFoundError, BookingStatus, Guest, PaymentModel, PlatformAPIError
from adapters.expedia import eqc
from tests.adapters.expedia.conftest import BASE, BC_SUCCESS

BR = f"{BASE}/eqc/br"
BC = f"{BASE}/eqc/bc"
BR_NS = {"b": "http://www.expediaconnect.com/EQC/BR/2014/01"}
BC_NS = {"c": "http://www.expediaconnect.com/EQC/BC/2007/09"}

PENDING = b"""<BookingRetrievalRS xmlns="http://www.expediaconnect.com/EQC/BR/2014/01"><Bookings>
<Booking id="880001" type="Book" createDateTime="2027-06-01T10:00:00Z" source="Expedia" status="pending">
  <Hotel id="3546"/>
  <RoomStay roomTypeID="965645" ratePlanID="956589">
    <StayDate arrival="2027-07-10" departure="2027-07-13"/>
    <GuestCount adult="2"/>
    <PerDayRates currency="EUR"><PerDayRate stayDate="2027-07-10" baseRate="100.00"/></PerDayRates>
    <Total amountAfterTaxes="330.00" currency="EUR"/>
  </RoomStay>
  <PrimaryGuest><Name givenName="Eva" surname="Example"/><Email>eva@example.test</Email></PrimaryGuest>
</Booking>
<Booking id="880002" type="Cancel" createDateTime="2027-06-01T11:00:00Z" source="Expedia" status="pending">
  <Hotel id="3546"/>
  <RoomStay roomTypeID="965645" ratePlanID="956589">
    <StayDate arrival="2027-08-01" departure="2027-08-02"/>
    <GuestCount adult="1"/>
    <PerDayRates><PerDayRate stayDate="2027-08-01" baseRate="0.00"/></PerDayRates>
    <Total amountAfterTaxes="0.00"/>
  </RoomStay>
  <PrimaryGuest><Name givenName="Carl" surname="Cancel"/></PrimaryGuest>
</Booking>
</Bookings></BookingRetrievalRS>"""


def pending_bookings() -> list[BookingData]:
    return eqc.bookings_from_retrieval(etree.fromstring(PENDING))


def test_a_booking_it_cannot_read_fails_alone(adapter, http):
    """A BR answer whose first booking has no stay dates: the page carries the others and names the bad
    one under ``unreadable`` (the pull leaves it unconfirmed). It used to fail the whole pull, each time."""
    broken = PENDING.replace(b'<StayDate arrival="2027-07-10" departure="2027-07-13"/>', b"", 1)
    assert broken != PENDING
    http.post(BR, body=broken)

    page = adapter.fetch_bookings()

    assert [b.channel_booking_id for b in page.bookings] == ["880002"]
    assert len(page.unreadable) == 1 and page.unreadable[0].startswith("booking 880001 could not be read")
    with pytest.raises(PlatformAPIError):
        eqc.bookings_from_retrieval(etree.fromstring(broken))  # a caller that cannot skip one still hears it


def test_it_retrieves_the_listings_pending_bookings(adapter, http):
    http.post(BR, body=PENDING)

    page = adapter.fetch_bookings()

    request = etree.fromstring(http.calls[0].request.body)
    assert request.find("b:Authentication", BR_NS).attrib == {
        "username": "sandbox-expedia",
        "password": "sandbox-expedia-pass",
    }
    assert request.find("b:Hotel", BR_NS).get("id") == "3546"
    assert request.find("b:ParamSet", BR_NS) is None
    book, cancel = page.bookings
    assert book == BookingData(
        platform="expedia",
        channel_booking_id="880001",
        listing_id="3546",
        room_type="965645",
        status=BookingStatus.CONFIRMED,
        check_in=dt.date(2027, 7, 10),
        check_out=dt.date(2027, 7, 13),
        guest=Guest(name="Eva Example", email="eva@example.test"),
        guests_count=2,
        total_amount=Decimal("330.00"),
        currency="EUR",
        version="2027-06-01T10:00:00.000000+00:00",
        raw_status="Book",
        adults=2,
        children=0,
        sub_channel="Expedia",
        payment_model=PaymentModel.PLATFORM_COLLECTS,
    )
    assert cancel.status == BookingStatus.CANCELLED


def test_fetch_booking_asks_for_one_booking_id(adapter, http):
    http.post(BR, body=PENDING)
    assert adapter.fetch_booking("880001").channel_booking_id == "880001"
    request = etree.fromstring(http.calls[0].request.body)
    assert request.find("b:ParamSet/b:Booking", BR_NS).get("id") == "880001"


def test_fetch_booking_of_an_unknown_or_non_numeric_id_is_not_found(adapter, http):
    http.post(
        BR,
        body=b'<BookingRetrievalRS xmlns="http://www.expediaconnect.com/EQC/BR/2014/01"><Bookings/></BookingRetrievalRS>',
    )
    with pytest.raises(BookingNotFoundError):
        adapter.fetch_booking("123")
    with pytest.raises(BookingNotFoundError):
        adapter.fetch_booking("abc")


def test_retrieved_bookings_are_confirmed_with_our_ids(adapter, http):
    http.post(BR, body=PENDING)
    http.post(BC, body=BC_SUCCESS)

    bookings = adapter.fetch_bookings().bookings
    adapter.acknowledge_bookings([(bookings[0], "PMS-41"), (bookings[1], "PMS-42")])

    confirm = etree.fromstring(http.calls[1].request.body)
    assert confirm.find("c:Hotel", BC_NS).get("id") == "3546"
    numbers = confirm.findall("c:BookingConfirmNumbers/c:BookingConfirmNumber", BC_NS)
    assert [(n.get("bookingID"), n.get("bookingType"), n.get("confirmNumber")) for n in numbers] == [
        ("880001", "Book", "PMS-41"),
        ("880002", "Cancel", "PMS-42"),
    ]
    assert all(n.get("confirmTime").endswith("Z") for n in numbers)


def test_more_than_ten_confirmations_take_several_requests(adapter, http):
    http.post(BC, body=BC_SUCCESS)
    booking = pending_bookings()[0]
    adapter.acknowledge_bookings([(booking, f"PMS-{i}") for i in range(21)])
    assert len(http.calls) == 3


# --- Expedia's own samples ------------------------------------------------------------------


def sample(reference, prefix):
    (path,) = (reference / "expedia" / "samples").glob(f"{prefix}_*.xml")
    return etree.parse(str(path)).getroot()


def test_the_two_new_bookings_sample_parses(reference):
    first, second = eqc.bookings_from_retrieval(sample(reference, "brbc_04"))
    assert first.channel_booking_id == "2543453245546"
    assert first.listing_id == "3546"
    assert (first.check_in, first.check_out) == (dt.date(2009, 12, 24), dt.date(2009, 12, 31))
    assert first.guest == Guest(name="John Smith", phone="+1 514 5558975 ext. 3233")
    assert first.guests_count == 4  # 2 adults, 2 children
    assert (first.total_amount, first.currency) == (Decimal("1529.50"), "EUR")
    assert first.status == BookingStatus.CONFIRMED
    assert second.channel_booking_id == "35645"
    assert (second.total_amount, second.guest.name) == (Decimal("285.00"), "Bob Doe")


def test_the_modified_booking_sample_parses(reference):
    (booking,) = eqc.bookings_from_retrieval(sample(reference, "brbc_05"))
    assert (booking.channel_booking_id, booking.raw_status, booking.status) == (
        "3465456",
        "Modify",
        BookingStatus.CONFIRMED,
    )
    assert (booking.check_in, booking.check_out) == (dt.date(2007, 2, 24), dt.date(2007, 2, 28))
    assert booking.total_amount == Decimal("500.00")


def test_the_cancelled_bookings_sample_parses(reference):
    bookings = eqc.bookings_from_retrieval(sample(reference, "brbc_06"))
    assert [b.channel_booking_id for b in bookings] == ["5634564", "5465498"]
    assert all(b.status == BookingStatus.CANCELLED for b in bookings)
    assert bookings[1].guest.name == "John Smith"


def test_the_email_alias_sample_reads_the_alias(reference):
    (booking,) = eqc.bookings_from_retrieval(sample(reference, "brbc_11"))
    assert booking.guest.email == "45983018ca284823b2f893f27e4f93d8@m.expediapartnercentral.com"
    assert (booking.total_amount, booking.currency) == (Decimal("49.76"), "CAD")
