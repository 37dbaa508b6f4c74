from pms_core.models import Booking
from pms_core.services import booking_create


def _book(api, unit, check_in, check_out, **extra):
    body = {"unit": unit.pk, "check_in": str(check_in), "check_out": str(check_out), **extra}
    return api.post("/bookings", body, format="json")


def test_a_direct_booking_is_created_and_read_back(alice_api, unit, day):
    answer = _book(alice_api, unit, day(1), day(4), guest_name="Weber", total_amount="450.00")
    assert answer.status_code == 201, answer.content
    body = alice_api.get(f"/bookings/{answer.json()['id']}").json()
    assert (body["status"], body["source"], body["nights"], body["currency"]) == ("confirmed", "direct", 3, "EUR")


def test_a_clash_is_a_409_naming_the_clashing_stay(alice_api, unit, day):
    first = _book(alice_api, unit, day(1), day(5)).json()
    answer = _book(alice_api, unit, day(4), day(6))
    assert answer.status_code == 409
    assert answer.json()["error"] == "booking_clash"
    assert answer.json()["clash"]["booking"] == first["id"]
    assert Booking.objects.count() == 1


def test_back_to_back_stays_and_blocks_are_accepted(alice_api, unit, day):
    assert _book(alice_api, unit, day(1), day(3)).status_code == 201
    assert _book(alice_api, unit, day(3), day(5), kind="block").status_code == 201


def test_bad_dates_are_a_400(alice_api, unit, day):
    assert "check_out" in _book(alice_api, unit, day(3), day(3)).json()["fields"]
    assert _book(alice_api, unit, day(1), day(1 + 366)).status_code == 400
    assert not Booking.objects.exists()


def test_a_booking_is_modified_and_a_move_onto_taken_nights_is_a_409(alice_api, unit, day):
    stay = _book(alice_api, unit, day(1), day(3)).json()
    other = _book(alice_api, unit, day(5), day(7)).json()
    moved = alice_api.patch(f"/bookings/{stay['id']}", {"check_out": str(day(4)), "guest_name": "Neu"}, format="json")
    assert moved.status_code == 200 and moved.json()["check_out"] == str(day(4))
    clash = alice_api.patch(f"/bookings/{stay['id']}", {"check_out": str(day(6))}, format="json")
    assert clash.status_code == 409 and clash.json()["clash"]["booking"] == other["id"]


def test_cancel_releases_the_nights_and_a_cancelled_booking_cannot_be_modified(alice_api, unit, day):
    stay = _book(alice_api, unit, day(1), day(3)).json()
    assert alice_api.post(f"/bookings/{stay['id']}/cancel").json()["status"] == "cancelled"
    assert alice_api.post(f"/bookings/{stay['id']}/cancel").status_code == 200
    assert alice_api.patch(f"/bookings/{stay['id']}", {"guest_name": "X"}, format="json").status_code == 409
    assert _book(alice_api, unit, day(1), day(3)).status_code == 201


def test_platform_bookings_are_listed_but_changed_only_on_the_platform(alice_api, unit, day):
    first = booking_create(unit=unit, check_in=day(1), check_out=day(4), source="airbnb", channel_booking_id="HM1")
    over = booking_create(
        unit=unit,
        check_in=day(2),
        check_out=day(5),
        source="booking_com",
        channel_booking_id="B1",
        overbook_on_clash=True,
    )
    listed = alice_api.get("/bookings?status=overbooked").json()["results"]
    assert [(b["id"], b["clashes_with"]) for b in listed] == [(over.pk, first.pk)]
    assert alice_api.post(f"/bookings/{over.pk}/cancel").status_code == 409
    assert alice_api.patch(f"/bookings/{first.pk}", {"guest_name": "X"}, format="json").status_code == 409


def test_bookings_are_filtered_by_unit_status_source_and_dates(alice_api, unit, day):
    booking_create(unit=unit, check_in=day(1), check_out=day(3))
    booking_create(unit=unit, check_in=day(10), check_out=day(12), source="airbnb", channel_booking_id="HM2")
    assert alice_api.get(f"/bookings?unit={unit.pk}").json()["count"] == 2
    assert alice_api.get("/bookings?source=airbnb").json()["count"] == 1
    assert alice_api.get(f"/bookings?start={day(2)}&end={day(10)}").json()["count"] == 1
    assert alice_api.get("/bookings?status=bogus").status_code == 400
