"""The convergence promise at the service level, driven by random sequences (a Hypothesis state machine).

Invariants, checked after every step against a model the test keeps on its own:
- a night is held exactly when an active stay or block covers it (confirmed or overbooked), and the
  calendar, the calendar API and the iCal export all say so;
- no two confirmed stays overlap;
- an overbooked stay is confirmed as soon as it no longer clashes: each one that is left overlaps a
  confirmed stay or an overbooking that started waiting before it;
- every night whose held state a step changed is covered by an outbox event of that step, so the
  push that follows reaches the platforms.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import icalendar
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from rest_framework.test import APIClient

from channelmgr.services.ical_export import ical_export_for, ical_feed
from pms_core.errors import BookingClash
from pms_core.models import Booking, OutboxEvent, Property, Unit
from pms_core.selectors import calendar_nights
from pms_core.services import (
    booking_cancel,
    booking_change_unit,
    booking_create,
    booking_modify,
    calendar_block,
    calendar_unblock,
)
from pms_core.services.overbookings import NotOverbooked, Resolution, overbooking_resolve
from testkit import push_platforms

BASE = dt.date(2027, 7, 1)
WINDOW = 16
# The platforms a guest books on (the API platforms), from the registry.
PLATFORMS = push_platforms()

nights = st.integers(min_value=0, max_value=WINDOW - 2)
lengths = st.integers(min_value=1, max_value=5)


def _day(n: int) -> dt.date:
    return BASE + dt.timedelta(days=n)


def _span(start: int, length: int) -> tuple[dt.date, dt.date]:
    return _day(start), _day(min(start + length, WINDOW))


def _nights(check_in: dt.date, check_out: dt.date) -> set[dt.date]:
    return {check_in + dt.timedelta(days=i) for i in range((check_out - check_in).days)}


class Convergence(RuleBasedStateMachine):
    """Fresh units for every run; the model is {booking id: (unit id, check_in, check_out)} of active stays."""

    organization = None
    client: APIClient | None = None
    ids = itertools.count(1)

    def __init__(self):
        super().__init__()
        prop = Property.objects.create(organization=self.organization, name=f"Haus {next(self.ids)}")
        self.units = [Unit.objects.create(property=prop, name=n, base_price=Decimal("100")) for n in ("A", "B")]
        self.held: dict[int, tuple[int, dt.date, dt.date]] = {}
        self.before = self._held_nights()
        self.last_event = OutboxEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    # --- the model ---------------------------------------------------------------------------------

    def _held_nights(self) -> dict[int, set[dt.date]]:
        held = {unit.pk: set() for unit in self.units}
        for unit_id, check_in, check_out in self.held.values():
            held[unit_id] |= _nights(check_in, check_out)
        return held

    def _overlaps(self, unit_id: int, check_in: dt.date, check_out: dt.date, exclude: int | None = None) -> bool:
        return any(
            u == unit_id and a < check_out and check_in < b for pk, (u, a, b) in self.held.items() if pk != exclude
        )

    def _unit(self, index: int) -> Unit:
        return self.units[index]

    def _active(self, pk: int) -> Booking:
        return Booking.objects.get(pk=pk)

    # --- rules ------------------------------------------------------------------------------------

    @rule(unit=st.integers(0, 1), start=nights, length=lengths, block=st.booleans())
    def direct_booking_or_block(self, unit, start, length, block):
        check_in, check_out = _span(start, length)
        target = self._unit(unit)
        expect_clash = self._overlaps(target.pk, check_in, check_out)
        try:
            if block:
                booking = calendar_block(unit=target, start=check_in, end=check_out, note="owner")
            else:
                booking = booking_create(unit=target, check_in=check_in, check_out=check_out)
        except BookingClash:
            assert expect_clash, "refused although the nights were free"
            return
        assert not expect_clash, "accepted onto held nights"
        assert booking.status == Booking.Status.CONFIRMED
        self.held[booking.pk] = (target.pk, check_in, check_out)

    @rule(unit=st.integers(0, 1), start=nights, length=lengths, platform=st.sampled_from(PLATFORMS))
    def platform_import(self, unit, start, length, platform):
        check_in, check_out = _span(start, length)
        target = self._unit(unit)
        clash = self._overlaps(target.pk, check_in, check_out)
        booking = booking_create(
            unit=target,
            check_in=check_in,
            check_out=check_out,
            source=platform,
            channel_booking_id=f"sm-{next(self.ids)}",
            overbook_on_clash=True,
            actor=platform,
        )
        assert booking.status == (Booking.Status.OVERBOOKED if clash else Booking.Status.CONFIRMED)
        self.held[booking.pk] = (target.pk, check_in, check_out)

    @precondition(lambda self: self.held)
    @rule(data=st.data(), start=nights, length=lengths, as_platform=st.booleans())
    def modify(self, data, start, length, as_platform):
        pk = data.draw(st.sampled_from(sorted(self.held)))
        unit_id, old_in, old_out = self.held[pk]
        current = self._active(pk)
        check_in, check_out = _span(start, length)
        # Only nights the stay does not hold yet can clash: an overbooking waiting for it is no clash.
        added = _nights(check_in, check_out) - _nights(old_in, old_out)
        clash = any(self._overlaps(unit_id, n, n + dt.timedelta(days=1), exclude=pk) for n in added)
        try:
            booking = booking_modify(
                booking=current, check_in=check_in, check_out=check_out, overbook_on_clash=as_platform
            )
        except BookingClash:
            assert clash and current.status == Booking.Status.CONFIRMED and not as_platform
            return
        assert not (clash and current.status == Booking.Status.CONFIRMED and not as_platform)
        assert booking.status in Booking.ACTIVE_STATUSES
        self.held[pk] = (unit_id, check_in, check_out)

    @precondition(lambda self: Booking.objects.filter(pk__in=self.held).exclude(source="direct").exists())
    @rule(data=st.data())
    def room_change(self, data):
        """The platform moved its guest to the other unit (another room type of a hotel)."""
        movable = sorted(Booking.objects.filter(pk__in=self.held).exclude(source="direct").values_list("pk", flat=True))
        pk = data.draw(st.sampled_from(movable))
        unit_id, check_in, check_out = self.held[pk]
        target = next(u for u in self.units if u.pk != unit_id)
        clash = self._overlaps(target.pk, check_in, check_out, exclude=pk)
        booking = booking_change_unit(booking=self._active(pk), unit=target, actor="platform")
        assert booking.unit_id == target.pk
        assert booking.status == (Booking.Status.OVERBOOKED if clash else Booking.Status.CONFIRMED)
        self.held[pk] = (target.pk, check_in, check_out)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def cancel(self, data):
        pk = data.draw(st.sampled_from(sorted(self.held)))
        booking_cancel(booking=self._active(pk), actor="test")
        del self.held[pk]

    @rule(unit=st.integers(0, 1), start=nights, length=lengths)
    def unblock(self, unit, start, length):
        check_in, check_out = _span(start, length)
        target = self._unit(unit)
        released = _nights(check_in, check_out)
        ours = {
            pk
            for pk in Booking.objects.filter(pk__in=self.held, kind="block", source="direct").values_list(
                "pk", flat=True
            )
            if self.held[pk][0] == target.pk
        }
        expected = set()
        for pk, (u, a, b) in self.held.items():
            if u == target.pk:
                expected |= _nights(a, b) - released if pk in ours else _nights(a, b)
        calendar_unblock(unit=target, start=check_in, end=check_out)
        # Our own blocks lose those nights (one split in two gets a new id for its tail); nothing else changes.
        for pk in ours:
            del self.held[pk]
        for block in Booking.objects.active().filter(unit=target, kind="block", source="direct"):
            self.held[block.pk] = (target.pk, block.check_in, block.check_out)
        assert self._held_nights()[target.pk] == expected

    @precondition(lambda self: Booking.objects.filter(unit__in=self.units, status="overbooked").exists())
    @rule(data=st.data(), resolution=st.sampled_from(Resolution.values))
    def resolve(self, data, resolution):
        waiting = list(Booking.objects.filter(unit__in=self.units, status="overbooked").order_by("pk"))
        booking = data.draw(st.sampled_from(waiting))
        other_unit = next(u for u in self.units if u.pk != booking.unit_id)
        other = booking.clashes_with
        try:
            outcome = overbooking_resolve(
                booking=booking, resolution=resolution, actor="staff", unit=other_unit, reason="test"
            )
        except BookingClash:
            assert resolution == Resolution.MOVE
            assert self._overlaps(other_unit.pk, booking.check_in, booking.check_out)
            return
        except NotOverbooked:
            assert resolution == Resolution.CANCEL_OTHER and (other is None or not other.is_active)
            return
        if resolution == Resolution.CANCEL:
            del self.held[booking.pk]
        elif resolution == Resolution.CANCEL_OTHER:
            del self.held[outcome.cancelled.pk]
        elif resolution == Resolution.MOVE:
            assert not self._overlaps(other_unit.pk, booking.check_in, booking.check_out, exclude=booking.pk)
            assert outcome.booking.status == Booking.Status.CONFIRMED
            self.held[booking.pk] = (other_unit.pk, booking.check_in, booking.check_out)
        else:
            assert outcome.booking.overbooking_accepted_at is not None

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def held_exactly_when_an_active_stay_covers_it(self):
        model = self._held_nights()
        for unit in self.units:
            db_active = Booking.objects.active().filter(unit=unit)
            assert {(b.pk, b.check_in, b.check_out) for b in db_active} == {
                (pk, a, b) for pk, (u, a, b) in self.held.items() if u == unit.pk
            }
            closed = {n.date for n in calendar_nights(unit=unit, start=BASE, end=_day(WINDOW)) if not n.available}
            assert closed == model[unit.pk], "calendar_nights"

    @invariant()
    def calendar_api_and_ical_export_agree(self):
        model = self._held_nights()
        for unit in self.units:
            answer = self.client.get(f"/units/{unit.pk}/calendar", {"start": BASE, "end": _day(WINDOW)})
            assert answer.status_code == 200, answer.content
            closed = {dt.date.fromisoformat(n["date"]) for n in answer.json()["nights"] if not n["available"]}
            assert closed == model[unit.pk], "GET /units/{id}/calendar"
            feed = icalendar.Calendar.from_ical(ical_feed(ical_export_for(unit)))
            exported = set()
            for event in feed.walk("VEVENT"):
                exported |= _nights(event.decoded("DTSTART"), event.decoded("DTEND"))
            assert {n for n in exported if BASE <= n < _day(WINDOW)} == model[unit.pk], "iCal export"

    @invariant()
    def no_two_confirmed_stays_overlap(self):
        for unit in self.units:
            confirmed = list(Booking.objects.filter(unit=unit, status=Booking.Status.CONFIRMED))
            for a, b in itertools.combinations(confirmed, 2):
                assert not (a.check_in < b.check_out and b.check_in < a.check_out), (a, b)

    @invariant()
    def an_overbooking_waits_only_while_it_clashes(self):
        for unit in self.units:
            active = list(Booking.objects.active().filter(unit=unit))
            for stay in active:
                if stay.status != Booking.Status.OVERBOOKED:
                    continue
                blockers = [
                    other
                    for other in active
                    if other.pk != stay.pk
                    and other.check_in < stay.check_out
                    and stay.check_in < other.check_out
                    and (
                        other.status == Booking.Status.CONFIRMED
                        or (other.overbooked_at, other.pk) < (stay.overbooked_at, stay.pk)
                    )
                ]
                assert blockers, f"#{stay.pk} is overbooked but nothing holds its nights before it"
                assert stay.clashes_with_id in {b.pk for b in blockers}

    @invariant()
    def every_change_of_held_nights_has_an_outbox_event(self):
        now = self._held_nights()
        events = list(OutboxEvent.objects.filter(pk__gt=self.last_event))
        for unit in self.units:
            changed = now[unit.pk] ^ self.before[unit.pk]
            covered = set()
            for event in events:
                if event.unit_id != unit.pk:
                    continue
                for start, end in (event.payload or {}).get("ranges") or [(event.start, event.end)]:
                    covered |= _nights(_as_date(start), _as_date(end))
            assert changed <= covered, f"no event for {sorted(changed - covered)}"
        self.before = now
        self.last_event = max([e.pk for e in events], default=self.last_event)


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


@pytest.mark.django_db
def test_random_sequences_keep_every_held_night_closed(org_a, alice):
    client = APIClient()
    client.force_authenticate(alice)
    Convergence.organization = org_a
    Convergence.client = client
    run_state_machine_as_test(
        Convergence,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
