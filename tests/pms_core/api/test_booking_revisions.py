"""The booking revision feed: every change of a booking, in order, with the booking as the API showed it
right after; an integrator acknowledges each; one left unacknowledged for 30 minutes is counted."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from pms_core.models import BookingRevision
from pms_core.revisions import booking_revisions_overdue, revisions_overdue_gauge_update


def _book(api, unit, day, first=1, last=4, **extra):
    body = {"unit": unit.pk, "check_in": str(day(first)), "check_out": str(day(last)), **extra}
    return api.post("/bookings", body, format="json")


def _feed(api, query="?acknowledged=false"):
    answer = api.get(f"/booking-revisions{query}")
    assert answer.status_code == 200, answer.content
    return answer.json()["results"]


def test_create_modify_and_cancel_show_in_order_with_the_booking_as_the_api_showed_it(alice_api, unit, day):
    created = _book(alice_api, unit, day, guest_name="Weber")
    booking_id = created.json()["id"]
    modified = alice_api.patch(f"/bookings/{booking_id}", {"check_out": str(day(5))}, format="json")
    cancelled = alice_api.post(f"/bookings/{booking_id}/cancel")
    assert (created.status_code, modified.status_code, cancelled.status_code) == (201, 200, 200)

    feed = _feed(alice_api)
    assert [(r["booking_id"], r["change"]) for r in feed] == [
        (booking_id, "created"),
        (booking_id, "modified"),
        (booking_id, "cancelled"),
    ]
    assert [r["booking"] for r in feed] == [created.json(), modified.json(), cancelled.json()]
    assert [r["id"] for r in feed] == sorted(r["id"] for r in feed)


def test_an_acknowledged_revision_leaves_the_unacknowledged_feed_and_a_second_ack_changes_nothing(
    alice_api, bob_api, unit, day
):
    _book(alice_api, unit, day)
    _book(alice_api, unit, day, 10, 12)
    first, second = _feed(alice_api)

    acked = alice_api.post(f"/booking-revisions/{first['id']}/ack")
    assert acked.status_code == 200 and acked.json()["acknowledged_at"]
    assert [r["id"] for r in _feed(alice_api)] == [second["id"]]
    assert [r["id"] for r in _feed(alice_api, "?acknowledged=true")] == [first["id"]]
    assert len(_feed(alice_api, "")) == 2

    again = bob_api.post(f"/booking-revisions/{first['id']}/ack")
    assert again.json()["acknowledged_at"] == acked.json()["acknowledged_at"]
    assert BookingRevision.objects.get(pk=first["id"]).acknowledged_by == "api:alice"


def test_charlie_sees_none_of_alices_revisions_and_cannot_acknowledge_them(alice_api, charlie_api, unit, day):
    _book(alice_api, unit, day)
    (revision,) = _feed(alice_api)
    assert _feed(charlie_api) == []
    assert charlie_api.post(f"/booking-revisions/{revision['id']}/ack").status_code == 404
    assert BookingRevision.objects.get().acknowledged_at is None


@pytest.mark.parametrize("pk", ["abc", "0", "99999999999999999999", "9" * 5000, "0" * 5000 + "77"])
def test_an_id_that_is_no_revision_is_a_404_even_past_pythons_int_digit_limit(alice_api, pk):
    assert alice_api.post(f"/booking-revisions/{pk}/ack").status_code == 404


def test_a_refused_change_leaves_no_revision(alice_api, unit, day):
    _book(alice_api, unit, day)
    assert _book(alice_api, unit, day, 2, 3).status_code == 409  # the nights are taken: rolled back
    assert [r["change"] for r in _feed(alice_api)] == ["created"]


def test_the_feed_filters_by_booking_and_refuses_bad_filters(alice_api, unit, day):
    one = _book(alice_api, unit, day).json()["id"]
    _book(alice_api, unit, day, 10, 12)
    assert [r["booking_id"] for r in _feed(alice_api, f"?booking={one}")] == [one]
    for query in ("?acknowledged=maybe", "?booking=0", "?booking=x"):
        answer = alice_api.get(f"/booking-revisions{query}")
        assert answer.status_code == 400, query


def test_a_revision_unacknowledged_for_31_minutes_is_counted(alice_api, unit, day, client):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _book(alice_api, unit, day)
        _book(alice_api, unit, day, 10, 12)
    first, second = _feed(alice_api)
    alice_api.post(f"/booking-revisions/{second['id']}/ack")

    with time_machine.travel(start + dt.timedelta(minutes=29), tick=False):
        assert revisions_overdue_gauge_update() == 0
        assert _scraped(client) == 0
    with time_machine.travel(start + dt.timedelta(minutes=31), tick=False):
        assert revisions_overdue_gauge_update() == 1
        assert _scraped(client) == 1
        assert list(booking_revisions_overdue().values_list("id", flat=True)) == [first["id"]]
        alice_api.post(f"/booking-revisions/{first['id']}/ack")
        assert revisions_overdue_gauge_update() == 0


def _scraped(client) -> float:
    text = client.get("/metrics").content.decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    (sample,) = families["channel_manager_booking_revisions_unacknowledged"].samples
    return sample.value


def test_the_scheduler_gauge_job_counts_overdue_revisions(alice_api, unit, day):
    from channelmgr.scheduler import update_gauges
    from pms_core import metrics

    _book(alice_api, unit, day)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31), tick=False):
        update_gauges()
    assert metrics.BOOKING_REVISIONS_UNACKNOWLEDGED._value.get() == 1


def test_lists_take_page_size_up_to_500_and_refuse_anything_else_with_a_400(alice_api, unit, day):
    for first in (1, 10, 20):
        _book(alice_api, unit, day, first, first + 2)
    page = alice_api.get("/booking-revisions?page_size=2").json()
    assert (len(page["results"]), page["count"]) == (2, 3) and "page_size=2" in page["next"]
    assert len(alice_api.get("/bookings?page_size=500").json()["results"]) == 3
    assert len(alice_api.get(f"/bookings?page_size={'0' * 5000}2").json()["results"]) == 2
    # 5000 digits: more than Python turns into an int (its 4300-digit limit), which was a 500.
    for bad in ("501", "0", "-1", "abc", "1.5", "", "１", "9" * 5000, "1" + "0" * 4999, "0" * 5000 + "1000"):
        answer = alice_api.get(f"/bookings?page_size={bad}")
        assert answer.status_code == 400, bad
        assert "page_size" in answer.json()["fields"]


def test_an_overbooked_import_and_its_resolution_are_revisions_too(alice_api, unit, day):
    from pms_core.services import booking_create
    from pms_core.services.overbookings import overbooking_resolve

    direct = _book(alice_api, unit, day).json()
    imported = booking_create(
        unit=unit,
        check_in=day(2),
        check_out=day(5),
        source="airbnb",
        channel_booking_id="HM-1",
        overbook_on_clash=True,
        actor="airbnb",
    )
    overbooking_resolve(booking=imported, resolution="cancel_other", actor="staff:dora")
    changes = [(r["booking_id"], r["change"], r["booking"]["status"]) for r in _feed(alice_api)]
    assert changes == [
        (direct["id"], "created", "confirmed"),
        (imported.pk, "overbooked", "overbooked"),
        (direct["id"], "cancelled", "cancelled"),
        (imported.pk, "resolved", "confirmed"),
    ]


def test_a_revision_rolls_back_with_its_change(unit, day):
    from pms_core.services import booking_create

    with pytest.raises(RuntimeError), transaction.atomic():
        booking_create(unit=unit, check_in=day(1), check_out=day(3))
        assert BookingRevision.objects.count() == 1  # written inside the change's transaction
        raise RuntimeError("the caller's transaction fails after the change")
    assert not BookingRevision.objects.exists()
