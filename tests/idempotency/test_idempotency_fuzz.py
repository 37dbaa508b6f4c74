"""Hypothesis: any Idempotency-Key and any body, sent twice to a write, never gets a 5xx, and the second
answer is the first one (a replay, or the same refusal)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
VALID_KEY = st.from_regex(r"[\x21-\x7e]{1,255}", fullmatch=True)
KEY = st.one_of(VALID_KEY, VALID_KEY, VALID_KEY, st.text(max_size=300))  # mostly keys that get past the check


def _bodies(unit_id: int):
    first = dt.date(2027, 7, 1)
    stay = st.tuples(st.integers(0, 60), st.integers(-1, 5)).map(
        lambda n: {"check_in": str(first + dt.timedelta(n[0])), "check_out": str(first + dt.timedelta(n[0] + n[1]))}
    )
    booking = st.tuples(
        stay,
        st.fixed_dictionaries(
            {"unit": st.just(unit_id)},
            optional={"guest_name": st.text(max_size=30), "kind": st.sampled_from(["reservation", "block", "x"])},
        ),
    ).map(lambda parts: {**parts[0], **parts[1]})
    return st.one_of(
        booking.map(lambda b: json.dumps(b).encode()),
        JSON_VALUE.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=50),
    )


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data(), key=KEY, path=st.sampled_from(["/bookings", "/booking-revisions/1/ack", "/calendar"]))
def test_any_key_and_body_twice_never_a_server_error_and_the_same_answer(alice_api, unit, data, key, path):
    body = data.draw(_bodies(unit.pk))
    answers = [
        alice_api.generic("POST", path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)
        for _ in range(2)
    ]
    first, again = answers
    event(f"{path} {first.status_code}")
    assert first.status_code < 500 and again.status_code < 500, (first.content, again.content)
    assert (again.status_code, again.content) == (first.status_code, first.content)
