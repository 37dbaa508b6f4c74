"""A stay's nights are its property's local dates, whatever clock a platform writes them on: OTA date-times
in UTC or with an offset, iCal UTC times and exact durations (RFC 5545 3.3.6). Expedia notifications:
``tests/adapters/expedia/test_booking_notifications.py``."""

import datetime as dt

import pytest

from adapters.booking_com.adapter import parse_res_notif
from adapters.ical.feed import read_feed
from adapters.xml import date_or_none, parse

D = dt.date
PAGO_PAGO, KIRITIMATI = "Pacific/Pago_Pago", "Pacific/Kiritimati"


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2027-07-01", PAGO_PAGO, D(2027, 7, 1)),
        ("2027-07-01+14:00", PAGO_PAGO, D(2027, 7, 1)),  # an xs:date with a zone is still that date
        ("2027-07-01T23:30:00", KIRITIMATI, D(2027, 7, 1)),  # no offset: the property's own clock
        ("2027-07-02T02:00:00Z", PAGO_PAGO, D(2027, 7, 1)),
        ("2027-07-01T12:00:00Z", KIRITIMATI, D(2027, 7, 2)),
        ("2027-07-01T15:00:00-11:00", PAGO_PAGO, D(2027, 7, 1)),
        ("2027-07-02T02:00:00Z", "", None),  # an instant without the property's zone is not guessed
        ("0001-01-01T00:00:00Z", "America/New_York", None),  # before year 1 there: unreadable, not a crash
    ],
)
def test_an_ota_date_or_date_time_is_the_propertys_local_date(value, zone, expected):
    assert date_or_none(value, zone) == expected


def _res_notif(*stays: tuple[str, str, str, str]) -> bytes:
    reservations = "".join(
        f'<HotelReservation ResStatus="Commit"><UniqueID Type="14" ID="{rid}"/><RoomStays><RoomStay>'
        f'<TimeSpan Start="{start}" End="{end}"/><BasicPropertyInfo HotelCode="{hotel}"/>'
        "</RoomStay></RoomStays></HotelReservation>"
        for rid, hotel, start, end in stays
    )
    return (
        '<OTA_HotelResNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">'
        f"<HotelReservations>{reservations}</HotelReservations></OTA_HotelResNotifRQ>"
    ).encode()


def test_an_account_wide_pull_reads_utc_stays_of_its_own_hotel_only():
    """The zone is the pulling hotel's: another hotel of the account may be elsewhere, so its UTC stay is
    refused (left unacknowledged and reported), while its plain dates read as ever."""
    body = _res_notif(
        ("1", "4711", "2027-07-02T02:00:00Z", "2027-07-04T22:00:00Z"),
        ("2", "4712", "2027-07-02T02:00:00Z", "2027-07-04T22:00:00Z"),
        ("3", "4712", "2027-07-02", "2027-07-04"),
    )
    unreadable: list[str] = []

    bookings = parse_res_notif(parse(body), listing_id="4711", zone=PAGO_PAGO, unreadable=unreadable)

    assert [(b.channel_booking_id, b.check_in, b.check_out) for b in bookings] == [
        ("1", D(2027, 7, 1), D(2027, 7, 4)),
        ("3", D(2027, 7, 2), D(2027, 7, 4)),
    ]
    assert len(unreadable) == 1 and "reservation 2" in unreadable[0] and "time zone" in unreadable[0]


def _feed(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nDTSTAMP:20270101T000000Z\r\n{event}END:VEVENT\r\n" for event in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def test_ical_utc_times_count_in_the_property_zone_and_zoned_ones_on_their_own_clock():
    text = _feed(
        "UID:utc\r\nDTSTART:20270702T040000Z\r\nDTEND:20270704T200000Z\r\n",
        "UID:tzid-utc\r\nDTSTART;TZID=UTC:20270702T040000\r\nDTEND;TZID=UTC:20270704T200000\r\n",
        "UID:floating\r\nDTSTART:20270702T040000\r\nDTEND:20270704T200000\r\n",
        "UID:utc-duration\r\nDTSTART:20270702T040000Z\r\nDURATION:P2DT16H\r\n",
    )

    def nights(zone):
        return {e.uid: (e.start, e.end) for e in read_feed(text, zone=zone).events}

    assert nights(PAGO_PAGO) == {
        "utc": (D(2027, 7, 1), D(2027, 7, 4)),
        "tzid-utc": (D(2027, 7, 2), D(2027, 7, 4)),
        "floating": (D(2027, 7, 2), D(2027, 7, 4)),
        "utc-duration": (D(2027, 7, 1), D(2027, 7, 4)),
    }
    assert nights(KIRITIMATI)["utc"] == (D(2027, 7, 2), D(2027, 7, 5))
    assert nights("UTC")["utc"] == (D(2027, 7, 2), D(2027, 7, 4))


@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [
        # Berlin springs forward on 2027-03-28: a nominal day keeps the wall-clock time, 24 hours do not.
        ("20270327T233000", "P1D", D(2027, 3, 28)),
        ("20270327T233000", "PT24H", D(2027, 3, 29)),
        ("20270327T233000", "P1DT0H", D(2027, 3, 28)),
        # Falls back on 2027-10-31: 24 hours from 00:30 end at 23:30 the same day, one night all the same.
        ("20271031T003000", "PT24H", D(2027, 11, 1)),
        ("20271030T003000", "P1W", D(2027, 11, 6)),
    ],
)
def test_an_ical_duration_is_nominal_in_days_and_exact_in_hours(start, duration, end):
    # A VALARM's own DURATION (its repeat interval) is not the event's.
    alarm = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\nDURATION:PT15M\r\nREPEAT:1\r\nEND:VALARM\r\n"
    text = _feed(f"UID:x\r\nDTSTART;TZID=Europe/Berlin:{start}\r\n{alarm}DURATION:{duration}\r\n")

    (event,) = read_feed(text).events

    assert event.end == end
