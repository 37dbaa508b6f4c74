"""Hypothesis: any sequence of creates, modifies, cancels, acknowledgements and odd feed queries through the
API never answers 5xx, and the feed is exactly the successful changes, in the order they were made, minus
the acknowledged ones."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NIGHT = st.integers(min_value=1, max_value=30)
OPERATION = st.one_of(
    st.tuples(st.just("create"), NIGHT, st.integers(min_value=1, max_value=5)),
    st.tuples(st.just("modify"), st.integers(min_value=0, max_value=9), NIGHT, st.integers(min_value=1, max_value=5)),
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=9)),
    st.tuples(st.just("ack"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("ack_id"), st.text(max_size=30)),
    st.tuples(
        st.just("list"),
        st.dictionaries(
            st.sampled_from(["acknowledged", "booking", "page_size", "page"]), st.text(max_size=12), max_size=3
        ),
    ),
)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(operations=st.lists(OPERATION, max_size=15))
def test_the_feed_is_every_successful_change_in_order_and_never_a_server_error(alice_api, unit, day, operations):
    with transaction.atomic():  # each example starts from no bookings
        _run(alice_api, unit, day, operations)
        transaction.set_rollback(True)


def _run(api, unit, day, operations):
    bookings, expected, cancelled, acked = [], [], set(), set()
    for operation in operations:
        kind, answer = operation[0], None
        if kind == "create":
            answer = api.post(
                "/bookings",
                {
                    "unit": unit.pk,
                    "check_in": str(day(operation[1])),
                    "check_out": str(day(operation[1] + operation[2])),
                },
                format="json",
            )
            if answer.status_code == 201:
                bookings.append(answer.json()["id"])
                expected.append((bookings[-1], "created"))
        elif kind == "modify" and bookings:
            booking = bookings[operation[1] % len(bookings)]
            body = {"check_in": str(day(operation[2])), "check_out": str(day(operation[2] + operation[3]))}
            answer = api.patch(f"/bookings/{booking}", body, format="json")
            if answer.status_code == 200:
                expected.append((booking, "modified"))
        elif kind == "cancel" and bookings:
            booking = bookings[operation[1] % len(bookings)]
            answer = api.post(f"/bookings/{booking}/cancel")
            if answer.status_code == 200 and booking not in cancelled:
                cancelled.add(booking)
                expected.append((booking, "cancelled"))
        elif kind == "ack":
            feed = _all(api, "")
            if feed:
                revision = feed[operation[1] % len(feed)]["id"]
                answer = api.post(f"/booking-revisions/{revision}/ack")
                assert answer.status_code == 200
                acked.add(revision)
        elif kind == "ack_id":
            answer = api.post(f"/booking-revisions/{operation[1]}/ack")
        elif kind == "list":
            answer = api.get("/booking-revisions", operation[1])
        if answer is not None:
            assert answer.status_code < 500, (operation, answer.content)

    feed = _all(api, "")
    assert [(r["booking_id"], r["change"]) for r in feed] == expected
    assert [r["id"] for r in _all(api, "?acknowledged=false")] == [r["id"] for r in feed if r["id"] not in acked]
    assert {r["id"] for r in _all(api, "?acknowledged=true")} == acked


def _all(api, query) -> list:
    separator = "&" if query else "?"
    answer = api.get(f"/booking-revisions{query}{separator}page_size=500")
    assert answer.status_code == 200
    return answer.json()["results"]
