"""The overbooking lifecycle: an overbooked stay holds its nights, is confirmed as soon as they are free,
and staff or integrators decide on the rest (cancel either side, move, accept), every step recorded."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from pms_core.errors import BookingClash
from pms_core.models import Booking, BookingTransition, OutboxEvent, Unit
from pms_core.services import booking_cancel, booking_create, booking_modify, calendar_block
from pms_core.services.overbookings import NotOverbooked, Resolution, overbooking_resolve

pytestmark = pytest.mark.django_db


def _import(unit, day, start, end, platform="booking_com", ref=None):
    return booking_create(
        unit=unit,
        check_in=day(start),
        check_out=day(end),
        source=platform,
        channel_booking_id=ref or f"{platform}-{start}-{end}",
        overbook_on_clash=True,
        actor=platform,
    )


def _transitions(booking):
    return list(BookingTransition.objects.filter(booking=booking).values_list("action", "from_status", "to_status"))


def _count(action, to_status):
    return (
        REGISTRY.get_sample_value(
            "channel_manager_booking_transitions_total", {"action": action, "to_status": to_status}
        )
        or 0
    )


def test_a_direct_booking_over_nights_an_overbooking_holds_is_a_clash(unit, day):
    _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)  # nights 4..6 are held only by this overbooked stay
    with pytest.raises(BookingClash) as refused:
        booking_create(unit=unit, check_in=day(5), check_out=day(6))
    assert refused.value.clash == late
    with pytest.raises(BookingClash):
        calendar_block(unit=unit, start=day(6), end=day(8))


def test_an_import_over_an_overbookings_nights_is_overbooked_too(unit, day):
    _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    later = _import(unit, day, 5, 6, "expedia")
    assert later.status == Booking.Status.OVERBOOKED and later.clashes_with == late


def test_cancelling_the_stay_it_clashed_with_confirms_the_overbooking(unit, day):
    first = _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    before = _count("promoted", "confirmed")
    booking_cancel(booking=first, actor="airbnb", reason="guest cancelled")
    late.refresh_from_db()
    assert late.status == Booking.Status.CONFIRMED and late.clashes_with is None
    assert _transitions(late) == [("overbooked", "", "overbooked"), ("promoted", "overbooked", "confirmed")]
    assert _count("promoted", "confirmed") == before + 1
    promoted = BookingTransition.objects.get(booking=late, action="promoted")
    assert promoted.actor == "airbnb" and f"#{first.pk} was cancelled" in promoted.reason
    assert OutboxEvent.objects.filter(booking=late, event_type=OutboxEvent.Type.BOOKING_CONFIRMED).exists()


def test_shortening_the_stay_it_clashed_with_confirms_it_once_its_nights_are_free(unit, day):
    first = _import(unit, day, 1, 6, "airbnb")
    late = _import(unit, day, 4, 8)
    booking_modify(booking=first, check_out=day(5), overbook_on_clash=True)  # still holds night 4
    late.refresh_from_db()
    assert late.status == Booking.Status.OVERBOOKED
    booking_modify(booking=first, check_out=day(4), overbook_on_clash=True)
    late.refresh_from_db()
    assert late.status == Booking.Status.CONFIRMED


def test_the_older_overbooking_takes_the_nights_first(unit, day):
    first = _import(unit, day, 1, 8, "airbnb")
    older = _import(unit, day, 2, 5, "booking_com")
    newer = _import(unit, day, 4, 6, "expedia")
    assert newer.clashes_with == first  # a confirmed stay is named before an overbooked one
    booking_cancel(booking=first)
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.status == Booking.Status.CONFIRMED
    assert newer.status == Booking.Status.OVERBOOKED and newer.clashes_with == older


def test_shortening_a_confirmed_stay_is_never_a_clash(unit, day):
    block = calendar_block(unit=unit, start=day(1), end=day(6))
    _import(unit, day, 2, 4)
    shorter = booking_modify(booking=block, check_out=day(3))
    assert shorter.status == Booking.Status.CONFIRMED


def test_extending_onto_an_overbookings_nights_is_a_clash(unit, day):
    _import(unit, day, 3, 4, "airbnb")
    late = _import(unit, day, 3, 6)  # overbooked; nights 4 and 5 are held only by it
    direct = booking_create(unit=unit, check_in=day(6), check_out=day(8))
    with pytest.raises(BookingClash) as refused:
        booking_modify(booking=direct, check_in=day(5))
    assert refused.value.clash == late
    assert Booking.objects.get(pk=direct.pk).check_in == day(6)


def test_resolve_cancel_other_confirms_the_overbooking_and_names_what_to_do_on_the_platform(unit, day):
    first = _import(unit, day, 1, 4, "airbnb", ref="HM-1")
    late = _import(unit, day, 3, 7)
    outcome = overbooking_resolve(booking=late, resolution=Resolution.CANCEL_OTHER, actor="alice", reason="call")
    assert outcome.cancelled == first and outcome.booking.status == Booking.Status.CONFIRMED
    assert "HM-1" in outcome.platform_notice and "airbnb" in outcome.platform_notice
    cancelled = BookingTransition.objects.get(booking=first, action="cancelled")
    assert cancelled.actor == "alice" and "call" in cancelled.reason


def test_resolve_cancel_releases_only_the_nights_nothing_else_holds(unit, day):
    _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    outcome = overbooking_resolve(booking=late, resolution=Resolution.CANCEL, actor="alice")
    assert outcome.booking.status == Booking.Status.CANCELLED
    event = OutboxEvent.objects.get(booking=late, event_type=OutboxEvent.Type.BOOKING_CANCELLED)
    assert (event.start, event.end) == (day(3), day(7))


def test_resolve_move_needs_a_free_unit_of_the_same_property(unit, villa, other_unit, day):
    _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    annex = Unit.objects.create(property=villa, name="Annex", base_price=Decimal("90"))
    with pytest.raises(ValueError):
        overbooking_resolve(booking=late, resolution=Resolution.MOVE, actor="alice", unit=other_unit)
    blocker = calendar_block(unit=annex, start=day(6), end=day(8))
    with pytest.raises(BookingClash):
        overbooking_resolve(booking=late, resolution=Resolution.MOVE, actor="alice", unit=annex)
    booking_cancel(booking=blocker)
    moved = overbooking_resolve(booking=late, resolution=Resolution.MOVE, actor="alice", unit=annex).booking
    assert (moved.unit, moved.status) == (annex, Booking.Status.CONFIRMED)
    events = OutboxEvent.objects.filter(booking=late).order_by("pk")
    # Both units' channels hear of it, the origin platform included (it does not know of the move).
    assert [(e.event_type, e.unit_id, e.source) for e in events][-2:] == [
        (OutboxEvent.Type.AVAILABILITY_UPDATED, unit.pk, "direct"),
        (OutboxEvent.Type.BOOKING_CONFIRMED, annex.pk, "direct"),
    ]


def test_resolve_accept_keeps_the_nights_held_and_is_recorded(unit, day):
    _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    accepted = overbooking_resolve(booking=late, resolution=Resolution.ACCEPT, actor="alice", reason="two cabins")
    assert accepted.booking.status == Booking.Status.OVERBOOKED and accepted.booking.overbooking_accepted_at
    assert BookingTransition.objects.get(booking=late, action="accepted").reason == "two cabins"
    with pytest.raises(BookingClash):
        booking_create(unit=unit, check_in=day(5), check_out=day(6))


def test_only_an_overbooked_stay_can_be_resolved(unit, day):
    confirmed = _import(unit, day, 1, 4, "airbnb")
    for resolution in Resolution.values:
        with pytest.raises(NotOverbooked):
            overbooking_resolve(booking=confirmed, resolution=resolution, actor="alice", unit=unit)
    assert Booking.objects.get(pk=confirmed.pk).status == Booking.Status.CONFIRMED


# --- the API ------------------------------------------------------------------------------------------


@pytest.fixture
def alice_api(alice):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(alice)
    return client


def test_the_resolve_endpoint_applies_a_decision_and_lists_the_history(alice_api, unit, day):
    first = _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    answer = alice_api.post(
        f"/bookings/{late.pk}/resolve", {"action": "cancel_other", "clashes_with": first.pk}, format="json"
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["booking"]["status"] == "confirmed" and body["cancelled"]["id"] == first.pk
    assert "airbnb" in body["platform_notice"]
    history = alice_api.get(f"/bookings/{late.pk}/transitions").json()["results"]
    assert [(t["action"], t["to_status"]) for t in history] == [("overbooked", "overbooked"), ("promoted", "confirmed")]
    assert history[1]["actor"] == "api:alice"


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "action"),
        ({"action": "explode"}, "action"),
        ({"action": "move"}, "unit"),
        ({"action": "move", "unit": 0}, "unit"),
        ({"action": "cancel_other"}, "clashes_with"),  # a decision on a clash names the clash it read
        ({"action": "accept"}, "clashes_with"),
        ({"action": "cancel", "updated_at": "yesterday"}, "updated_at"),
    ],
)
def test_a_bad_resolve_request_is_a_400_and_changes_nothing(alice_api, unit, day, body, field):
    _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    answer = alice_api.post(f"/bookings/{late.pk}/resolve", body, format="json")
    assert answer.status_code == 400 and field in answer.json()["fields"]
    assert Booking.objects.get(pk=late.pk).status == Booking.Status.OVERBOOKED
    assert BookingTransition.objects.filter(booking=late).count() == 1


def test_resolving_a_confirmed_booking_is_a_409(alice_api, unit, day):
    confirmed = _import(unit, day, 1, 4, "airbnb")
    answer = alice_api.post(
        f"/bookings/{confirmed.pk}/resolve", {"action": "accept", "clashes_with": None}, format="json"
    )
    assert answer.status_code == 409


def test_another_tenants_overbooking_is_a_404(api_for_charlie, unit, day):
    _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    assert api_for_charlie.post(f"/bookings/{late.pk}/resolve", {"action": "accept"}, format="json").status_code == 404
    assert Booking.objects.get(pk=late.pk).overbooking_accepted_at is None


@pytest.fixture
def api_for_charlie(charlie):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(charlie)
    return client


# --- the admin ----------------------------------------------------------------------------------------


def test_staff_resolve_an_overbooking_with_an_admin_action(client, alice, unit, villa, day):
    alice.is_staff = True
    alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    Unit.objects.create(property=villa, name="Annex", base_price=Decimal("90"))
    action = {"action": "resolve_move", "_selected_action": [late.pk]}
    page = client.post("/admin/pms_core/booking/", action)  # first, what would be decided
    assert page.status_code == 200 and b"Annex" in page.content
    late.refresh_from_db()
    assert late.status == Booking.Status.OVERBOOKED
    shown = dict(
        re.findall(r'<input type="hidden" name="((?:shown|clash|unit)_\d+)" value="([^"]*)"', page.content.decode())
    )
    answer = client.post("/admin/pms_core/booking/", {**action, **shown, "post": "yes"}, follow=True)
    assert answer.status_code == 200
    late.refresh_from_db()
    assert late.status == Booking.Status.CONFIRMED and late.unit.name == "Annex"
    assert BookingTransition.objects.get(booking=late, action="moved").actor == "alice"
    page = client.get(f"/admin/pms_core/booking/{late.pk}/change/")
    assert b"moved from Whole house to Annex" in page.content


def test_an_admin_list_decision_on_an_overbooking_that_changed_since_it_was_shown_is_refused(client, alice, unit, day):
    """Used to fail (found in review, 2026-12-06), as on the staff home: the list's "cancel the stay it clashes
    with" cancelled whatever the booking clashed with when the action ran, not the stay staff were shown."""
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    first = _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    action = {"action": "resolve_cancel_other", "_selected_action": [late.pk]}
    page = client.post("/admin/pms_core/booking/", action).content.decode()
    shown = dict(re.findall(r'<input type="hidden" name="((?:shown|clash)_\d+)" value="([^"]*)"', page))
    assert shown[f"clash_{late.pk}"] == str(first.pk)
    Booking.objects.filter(pk=late.pk).update(updated_at=timezone.now())  # the platform changed it meanwhile

    answer = client.post("/admin/pms_core/booking/", {**action, **shown, "post": "yes"}, follow=True)

    assert "changed since it was shown" in answer.content.decode()
    assert Booking.objects.get(pk=first.pk).status == Booking.Status.CONFIRMED
    assert Booking.objects.get(pk=late.pk).status == Booking.Status.OVERBOOKED


def test_an_overbooking_waiting_for_a_block_waits_for_its_tail_after_a_split(unit, day):
    from pms_core.services import calendar_unblock

    block = calendar_block(unit=unit, start=day(1), end=day(10))
    late = _import(unit, day, 7, 9)  # waits for the block's nights 7 and 8
    calendar_unblock(unit=unit, start=day(3), end=day(5))
    late.refresh_from_db()
    tail = Booking.objects.get(kind="block", status="confirmed", check_in=day(5))
    assert (tail.check_out, late.status, late.clashes_with) == (day(10), Booking.Status.OVERBOOKED, tail)
    assert Booking.objects.get(pk=block.pk).check_out == day(3)
    assert BookingTransition.objects.get(booking=tail).reason == f"split from #{block.pk}"


def test_settle_overbookings_confirms_what_an_older_version_left_waiting(unit, day):
    from io import StringIO

    from django.core.management import call_command

    # As an older version left it: the stay it clashed with is gone, and nothing confirmed it.
    first = _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 7)
    Booking.objects.filter(pk=first.pk).update(status=Booking.Status.CANCELLED)
    out = StringIO()
    call_command("settle_overbookings", stdout=out)
    assert Booking.objects.get(pk=late.pk).status == Booking.Status.CONFIRMED
    assert "confirmed 1 overbooking(s); 0 still wait" in out.getvalue()


def test_editing_a_confirmed_stay_never_makes_it_wait_for_an_overbooking(unit, day):
    first = _import(unit, day, 1, 3, "airbnb")
    late = _import(unit, day, 2, 5)  # overbooked, waiting for the first
    direct = booking_create(unit=unit, check_in=day(6), check_out=day(8))
    booking_modify(booking=late, check_in=day(5), check_out=day(8), overbook_on_clash=True)  # onto direct
    late.refresh_from_db()
    assert (late.status, late.clashes_with) == (Booking.Status.OVERBOOKED, direct)
    edited = booking_modify(booking=direct, guest_name="Lovelace")
    assert edited.status == Booking.Status.CONFIRMED
    booking_modify(booking=direct, check_out=day(7))  # shortening: still confirmed, late still waits
    assert Booking.objects.get(pk=direct.pk).status == Booking.Status.CONFIRMED
    assert Booking.objects.get(pk=late.pk).status == Booking.Status.OVERBOOKED
    assert first.pk


def test_an_accepted_overbooking_moved_onto_another_clash_waits_for_a_new_decision(unit, day):
    _import(unit, day, 1, 4, "airbnb")
    late = _import(unit, day, 3, 6)
    overbooking_resolve(booking=late, resolution=Resolution.ACCEPT, actor="alice")
    booking_create(unit=unit, check_in=day(8), check_out=day(10))
    moved = booking_modify(booking=late, check_in=day(7), check_out=day(9), overbook_on_clash=True)
    assert moved.status == Booking.Status.OVERBOOKED and moved.overbooking_accepted_at is None
