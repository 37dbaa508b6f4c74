from decimal import Decimal

import pytest

from pms_core.models import CalendarDay
from pms_core.services import booking_create, calendar_block


def _nights(api, unit, start, end):
    answer = api.get(f"/units/{unit.pk}/calendar?start={start}&end={end}")
    assert answer.status_code == 200, answer.content
    return answer.json()["nights"]


def test_the_calendar_has_one_entry_per_night_and_says_what_closes_it(alice_api, unit, day):
    stay = booking_create(unit=unit, check_in=day(2), check_out=day(4), guest_name="Weber")
    block = calendar_block(unit=unit, start=day(4), end=day(5))
    nights = _nights(alice_api, unit, day(1), day(6))
    assert [n["date"] for n in nights] == [str(day(n)) for n in range(1, 6)]
    assert [n["available"] for n in nights] == [True, False, False, False, True]
    assert nights[1]["closed_by"] == {
        "booking": stay.pk,
        "kind": "reservation",
        "status": "confirmed",
        "source": "direct",
    }
    assert nights[3]["closed_reason"] == "block" and nights[3]["closed_by"]["booking"] == block.pk
    assert nights[0]["closed_by"] is None and nights[0]["price"] == "150.00" and nights[0]["min_stay"] == 2


@pytest.mark.parametrize(
    "query", ["start=2027-07-05&end=2027-07-01", "start=2027-01-01&end=2030-01-01", "start=x&end=y", ""]
)
def test_a_bad_calendar_range_is_a_400(alice_api, unit, query):
    assert alice_api.get(f"/units/{unit.pk}/calendar?{query}").status_code == 400


def test_calendar_values_set_prices_and_restrictions_and_leave_other_fields_alone(alice_api, unit, day):
    body = {
        "values": [
            {"unit": unit.pk, "start": str(day(1)), "end": str(day(4)), "price": "200.00", "min_stay": 3},
            {"unit": unit.pk, "start": str(day(3)), "end": str(day(5)), "closed_to_arrival": True, "stop_sell": True},
        ]
    }
    answer = alice_api.post("/calendar", body, format="json")
    assert answer.status_code == 200, answer.content
    nights = _nights(alice_api, unit, day(1), day(6))
    assert [n["price"] for n in nights] == ["200.00", "200.00", "200.00", "150.00", "150.00"]
    assert [n["min_stay"] for n in nights] == [3, 3, 3, 2, 2]
    assert [n["stop_sell"] for n in nights] == [False, False, True, True, False]
    assert nights[2]["closed_reason"] == "stop_sell" and not nights[2]["available"]


def test_one_bad_value_fails_the_whole_request_naming_its_index_and_field(alice_api, unit, day):
    body = {
        "values": [
            {"unit": unit.pk, "start": str(day(1)), "end": str(day(4)), "price": "200.00"},
            {"unit": unit.pk, "start": str(day(1)), "end": str(day(4)), "min_stay": 2},
            {"unit": unit.pk, "start": str(day(1)), "end": str(day(4)), "price": "-5"},
        ]
    }
    answer = alice_api.post("/calendar", body, format="json")
    assert answer.status_code == 400
    assert list(answer.json()["fields"]["values"]) == ["2"]
    assert "price" in answer.json()["fields"]["values"]["2"]
    assert not CalendarDay.objects.exists()


def test_a_zero_price_is_refused_naming_why(alice_api, unit, day):
    """No platform takes a night for nothing: a zero price would fail every push it travels in."""
    body = {"values": [{"unit": unit.pk, "start": str(day(1)), "end": str(day(4)), "price": "0.00"}]}
    answer = alice_api.post("/calendar", body, format="json")
    assert answer.status_code == 400
    assert "more than 0" in str(answer.json()["fields"]["values"]["0"]["price"])
    assert not CalendarDay.objects.exists()


def test_a_value_that_sets_nothing_or_spans_backwards_is_refused(alice_api, unit, day):
    body = {
        "values": [
            {"unit": unit.pk, "start": str(day(1)), "end": str(day(4))},
            {"unit": unit.pk, "start": str(day(4)), "end": str(day(1)), "price": "1.00"},
        ]
    }
    fields = alice_api.post("/calendar", body, format="json").json()["fields"]["values"]
    assert "non_field_errors" in fields["0"] and "end" in fields["1"]


def test_blocks_are_created_and_reopened(alice_api, unit, day):
    block = alice_api.post(
        "/calendar/blocks", {"unit": unit.pk, "start": str(day(1)), "end": str(day(8))}, format="json"
    )
    assert block.status_code == 201 and block.json()["kind"] == "block"
    clash = alice_api.post(
        "/calendar/blocks", {"unit": unit.pk, "start": str(day(3)), "end": str(day(4))}, format="json"
    )
    assert clash.status_code == 409 and clash.json()["clash"]["booking"] == block.json()["id"]
    reopened = alice_api.post(
        "/calendar/unblock", {"unit": unit.pk, "start": str(day(3)), "end": str(day(5))}, format="json"
    )
    assert reopened.json() == {"blocks_touched": 1}
    assert [n["available"] for n in _nights(alice_api, unit, day(1), day(8))] == [
        False,
        False,
        True,
        True,
        False,
        False,
        False,
    ]
    assert Decimal(_nights(alice_api, unit, day(3), day(4))[0]["price"]) == Decimal("150.00")


def test_an_overbooked_stay_closes_its_nights_in_the_calendar(alice_api, unit, day):
    first = booking_create(unit=unit, check_in=day(2), check_out=day(4), source="airbnb", channel_booking_id="HM1")
    late = booking_create(
        unit=unit,
        check_in=day(3),
        check_out=day(6),
        source="booking_com",
        channel_booking_id="B1",
        overbook_on_clash=True,
    )
    nights = _nights(alice_api, unit, day(1), day(7))
    assert [n["available"] for n in nights] == [True, False, False, False, False, True]
    # Night 3 is the clash: the confirmed stay is named. Nights 4 and 5 are held by the overbooked one alone.
    assert nights[2]["closed_by"]["booking"] == first.pk
    assert nights[3]["closed_by"] == {
        "booking": late.pk,
        "kind": "reservation",
        "status": "overbooked",
        "source": "booking_com",
    }
