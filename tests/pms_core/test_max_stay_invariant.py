"""Hypothesis: any sequence of min/max stay changes on nights and on the unit leaves every night with a
maximum stay at or above its minimum stay; a change that would break that is refused naming its field and
changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pms_core.models import CalendarDay, Unit
from pms_core.selectors import calendar_nights
from pms_core.services import calendar_set
from pms_core.services.catalog import unit_update

START = dt.date(2027, 7, 1)
STAY = st.one_of(st.none(), st.integers(min_value=1, max_value=12))
CHANGE = st.one_of(
    st.tuples(st.just("night"), st.integers(0, 9), st.integers(1, 4), st.sampled_from(["min_stay", "max_stay"]), STAY),
    st.tuples(st.just("unit"), st.sampled_from(["default_min_stay", "default_max_stay"]), STAY),
)


def _state(unit):
    return sorted(CalendarDay.objects.filter(unit=unit).values_list("date", "min_stay", "max_stay")), (
        Unit.objects.values_list("default_min_stay", "default_max_stay").get(pk=unit.pk)
    )


@pytest.mark.django_db
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(changes=st.lists(CHANGE, max_size=12))
def test_every_night_keeps_its_max_stay_at_or_above_its_min_stay(unit, changes):
    with transaction.atomic():
        for change in changes:
            unit = Unit.objects.select_related("property").get(pk=unit.pk)
            before = _state(unit)
            try:
                with transaction.atomic():
                    if change[0] == "night":
                        _, first, length, field, value = change
                        start = START + dt.timedelta(days=first)
                        calendar_set(unit=unit, start=start, end=start + dt.timedelta(days=length), **{field: value})
                    else:
                        _, field, value = change
                        unit_update(unit=unit, **{field: value if value or field.endswith("max_stay") else 1})
            except ValidationError as exc:
                assert set(exc.message_dict) <= {"min_stay", "max_stay", "default_min_stay", "default_max_stay"}
                assert _state(unit) == before
            unit = Unit.objects.get(pk=unit.pk)
            for night in calendar_nights(unit=unit, start=START, end=START + dt.timedelta(days=14)):
                assert night.max_stay is None or night.max_stay >= night.min_stay, night
        transaction.set_rollback(True)
