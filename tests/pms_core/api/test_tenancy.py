"""BOLA matrix for the PMS core: charlie (another tenant) gets 404 on alice's properties, units,
calendar and bookings, and can't write onto her unit; bob (alice's team) can."""

import pytest

from pms_core.models import Booking, CalendarDay
from pms_core.services import booking_create


@pytest.fixture
def stay(unit, day):
    return booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Family Weber")


ENDPOINTS = [
    ("get", "/properties/{property}", None),
    ("put", "/properties/{property}", {"name": "Mine now"}),
    ("patch", "/properties/{property}", {"name": "Mine now"}),
    ("get", "/units/{unit}", None),
    ("put", "/units/{unit}", {"name": "Mine", "base_price": "1.00"}),
    ("patch", "/units/{unit}", {"base_price": "1.00"}),
    ("get", "/units/{unit}/calendar?start=2027-07-01&end=2027-07-05", None),
    ("get", "/bookings/{booking}", None),
    ("patch", "/bookings/{booking}", {"guest_name": "Charlie"}),
    ("post", "/bookings/{booking}/cancel", None),
]


def _url(path, stay):
    return path.format(property=stay.unit.property_id, unit=stay.unit_id, booking=stay.pk)


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_charlie_gets_404_on_alices_objects(charlie_api, stay, method, path, body):
    answer = getattr(charlie_api, method)(_url(path, stay), body, format="json")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    stay.refresh_from_db()
    assert (stay.status, stay.guest_name, stay.unit.base_price, stay.unit.property.name) == (
        "confirmed",
        "Family Weber",
        150,
        "Villa Sonnenschein",
    )


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_bob_on_alices_team_gets_through(bob_api, stay, method, path, body):
    answer = getattr(bob_api, method)(_url(path, stay), body, format="json")
    assert answer.status_code == 200, answer.content


def test_charlie_sees_none_of_alices_objects_in_lists(charlie_api, stay):
    for path in ("/properties", "/units", "/bookings", f"/bookings?unit={stay.unit_id}"):
        assert charlie_api.get(path).json()["count"] == 0


@pytest.mark.parametrize(
    "path,body",
    [
        ("/bookings", {"unit": "{unit}", "check_in": "2027-08-01", "check_out": "2027-08-03"}),
        ("/calendar", {"values": [{"unit": "{unit}", "start": "2027-08-01", "end": "2027-08-03", "price": "1.00"}]}),
        ("/calendar/blocks", {"unit": "{unit}", "start": "2027-08-01", "end": "2027-08-03"}),
        ("/calendar/unblock", {"unit": "{unit}", "start": "2027-08-01", "end": "2027-08-03"}),
        ("/units", {"property": "{property}", "name": "Sneaky", "base_price": "1.00"}),
    ],
)
def test_charlie_cannot_write_onto_alices_unit(charlie_api, stay, path, body):
    import json

    raw = json.dumps(body).replace('"{unit}"', str(stay.unit_id)).replace('"{property}"', str(stay.unit.property_id))
    answer = charlie_api.generic("POST", path, raw, content_type="application/json")
    assert answer.status_code == 400
    assert Booking.objects.count() == 1
    assert not CalendarDay.objects.exists()
    assert stay.unit.property.units.count() == 1
