"""A webhook's notification waits as JSON on ``InboundEvent.payload`` (for its import, a retry, or a
replay days later): every field of the booking it carries must come back as it went in. A field lost on
the way is a booking applied differently on replay (``room_type`` was: the replay landed on a sibling
room's unit)."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import given
from hypothesis import strategies as st

from adapters.base import BookingData, BookingStatus, Guest, Notification, NotificationKind, PaymentModel
from channelmgr.inbound.payloads import booking_from_json, booking_to_json, notification_from_json, notification_to_json

amounts = st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9)
counts = st.none() | st.integers(min_value=0, max_value=1000)
FIELDS = {
    "platform": st.sampled_from(["airbnb", "booking_com", "expedia", "fewo_direkt", "google", "ical"]),
    "channel_booking_id": st.text(min_size=1),
    "listing_id": st.text(),
    "status": st.sampled_from(BookingStatus),
    "check_in": st.dates(),
    "check_out": st.dates(),
    "guest": st.builds(Guest, name=st.text(), email=st.text(), phone=st.text()),
    "guests_count": st.integers(min_value=0, max_value=1000),
    "total_amount": amounts,
    "currency": st.text(max_size=3),
    "version": st.text(),
    "raw_status": st.text(),
    "kind": st.sampled_from(["reservation", "block"]),
    "room_type": st.text(),
    "taxes": amounts,
    "fees": amounts,
    "adults": counts,
    "children": counts,
    "infants": counts,
    "special_requests": st.lists(st.text(), max_size=3).map(tuple),
    "sub_channel": st.text(),
    "payment_model": st.none() | st.sampled_from(PaymentModel),
}


def test_the_round_trip_below_covers_every_field_of_a_booking():
    """A field added to ``BookingData`` must be added here too, or the round trip would not test it."""
    assert set(FIELDS) == {f.name for f in dataclasses.fields(BookingData)}


@given(booking=st.builds(BookingData, **FIELDS))
def test_every_field_of_a_booking_survives_being_stored(booking):
    stored = json.loads(json.dumps(booking_to_json(booking)))  # as the JSONField keeps it
    assert booking_from_json(stored) == booking


@given(booking=st.none() | st.builds(BookingData, **FIELDS), version=st.text(), listing=st.text())
def test_a_stored_notification_comes_back_whole(booking, version, listing):
    notification = Notification(
        platform="expedia",
        kind=NotificationKind.BOOKING_MODIFIED,
        event_key="HotelResModify:1",
        listing_id=listing,
        channel_booking_id="13357395",
        version=version,
        booking=booking,
    )
    stored = json.loads(json.dumps(notification_to_json(notification)))
    assert notification_from_json(stored) == notification
