"""A stay's dates are ones a stay can have (``validate_stay_dates``): the API's direct bookings and blocks
refuse, naming the bound, what the import refuses (a platform's year 1 or 9999); a price is not a stay."""

import datetime as dt
from decimal import Decimal

import pytest

from pms_core.models import Booking
from pms_core.services import calendar_set
from pms_core.services.stays import HORIZON_DAYS

TODAY = dt.date(2027, 6, 1)
LATEST = TODAY + dt.timedelta(days=HORIZON_DAYS + 1)  # with the day's slack for properties east of UTC


@pytest.fixture(autouse=True)
def _today(time_machine):
    time_machine.move_to(dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC), tick=False)


def _book(api, unit, check_in, check_out, **extra):
    body = {"unit": unit.pk, "check_in": str(check_in), "check_out": str(check_out), **extra}
    return api.post("/bookings", body, format="json")


@pytest.mark.parametrize(
    ("check_in", "check_out", "field", "bound"),
    [
        ("0001-01-01", "0001-01-03", "check_in", "2000-01-01"),
        ("1999-12-30", "2000-01-02", "check_in", "2000-01-01"),
        ("9999-12-29", "9999-12-31", "check_out", str(LATEST)),
        (LATEST - dt.timedelta(days=2), LATEST + dt.timedelta(days=1), "check_out", str(LATEST)),
    ],
)
@pytest.mark.parametrize("kind", ["reservation", "block"])
def test_a_stay_on_dates_no_stay_can_have_is_a_400_naming_the_bound(
    alice_api, unit, kind, check_in, check_out, field, bound
):
    answer = _book(alice_api, unit, check_in, check_out, kind=kind)

    assert answer.status_code == 400, answer.content
    assert bound in str(answer.json()["fields"][field])
    assert not Booking.objects.exists()


def test_the_bounds_themselves_are_stay_dates(alice_api, unit):
    assert _book(alice_api, unit, "2000-01-01", "2000-01-03").status_code == 201
    assert _book(alice_api, unit, LATEST - dt.timedelta(days=2), LATEST).status_code == 201


def test_a_price_beyond_the_horizon_is_no_stay_and_is_kept(unit):
    start = LATEST + dt.timedelta(days=30)
    assert calendar_set(unit=unit, start=start, end=start + dt.timedelta(days=3), price=Decimal("180.00")) == 3
