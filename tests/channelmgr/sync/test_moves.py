"""Stays that change shape or place. A stay moved to another unit (by staff resolving
an overbooking, by its platform moving the guest), a block split, a stay modified to other dates, an
overbooking settled when its clash goes away. After everything settles:

1. every night the stay holds is closed on every connection of its current unit (its own platform too,
   where staff moved it);
2. every night it no longer holds is open again on every connection of the unit it left, unless
   another active stay or block holds it;
3. the outbox events of each step cover every night whose held state changed, on both units;
4. a later webhook of the same booking from its platform still finds the stay where it is now, and
   neither moves it back nor duplicates it.

Found in review (2026-12): the test whose docstring starts "Used to fail" failed before its fix; every
other test pins behaviour nothing else tested end to end.

Three units of one property (A, B, C), each on FeWo-direkt (listings L-A, L-B, L-C) and on Booking.com
(hotel H1, rooms RA, RB, RC). The platforms are the fakes of ``test_prices_reach_platforms`` (``responses``,
each push applied as it lands); FeWo-direkt's reservation API answers ``Platforms.reservations``, and its
webhooks go through ``inbound_event_store`` / ``inbound_event_process`` as the view and the actor do.
"""

# The fixtures come from the modules whose fake platforms this one uses.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import responses

from adapters.base import Notification, NotificationKind
from channelmgr.models import ChannelConnection
from pms_core.models import Booking, OutboxEvent, Unit
from pms_core.services import booking_create, booking_modify
from pms_core.services.calendar import calendar_block, calendar_unblock
from pms_core.services.overbookings import Resolution, overbooking_resolve
from tests.channelmgr.sync.test_prices_reach_platforms import (  # noqa: F401 (fixtures)
    BDC_AVAIL,
    BDC_RATES,
    FEWO_AVAIL,
    FEWO_RATES,
    FEWO_RESERVATIONS,
    FakePlatforms,
    _ota_ok,
    _quick,
    clock,
    settle,
)

pytestmark = pytest.mark.django_db

BDC_RES = re.compile(r".*/hotels/ota/OTA_HotelResNotif.*$")
FEWO_ONE = re.compile(r".*/v1/reservations/([^/?]+)$")
UNITS = ("A", "B", "C")


class Platforms(FakePlatforms):
    """FeWo-direkt and Booking.com applying each push; FeWo-direkt's reservations answer ``reservations``."""

    def __init__(self):
        super().__init__()
        self.reservations: dict[str, dict] = {}

    def fewo_reservations(self, request):
        listing = re.match(r".*/v1/listings/([^/]+)/reservations", request.url).group(1)
        items = [r for r in self.reservations.values() if r["listingId"] == listing]
        return 200, {}, json.dumps({"items": items, "page": 1, "hasMore": False})

    def fewo_reservation(self, request):
        found = self.reservations.get(FEWO_ONE.match(request.url).group(1))
        if found is None:
            return 404, {}, json.dumps({"errors": [{"code": "NOT_FOUND", "message": "no such reservation"}]})
        return 200, {}, json.dumps(found)

    def book(self, rid: str, listing: str, arrival: dt.date, departure: dt.date, *, revision=1, status="BOOKED"):
        self.reservations[rid] = {
            "reservationId": rid,
            "listingId": listing,
            "status": status,
            "arrivalDate": arrival.isoformat(),
            "departureDate": departure.isoformat(),
            "guest": {"name": "Gast", "email": "gast@example.com"},
            "adults": 2,
            "totalAmount": {"amount": "450.00", "currency": "EUR"},
            "revision": revision,
        }

    # What each connection of a unit shows for a night: True closed, False open, None never written.
    def fewo_closed(self, unit: str, night: dt.date) -> bool | None:
        status = self.night(f"L-{unit}", night).get("status")
        return None if status is None else status == "UNAVAILABLE"

    def bdc_closed(self, unit: str, night: dt.date) -> bool | None:
        limit = self.night(f"H1/R{unit}/BAR", night).get("booking_limit")
        return None if limit is None else limit == 0


@pytest.fixture
def platform():
    fake = Platforms()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.PUT, FEWO_AVAIL, callback=fake.fewo_availability)
        http.add_callback(responses.PUT, FEWO_RATES, callback=fake.fewo_rates)
        http.add_callback(responses.GET, FEWO_RESERVATIONS, callback=fake.fewo_reservations)
        http.add_callback(responses.GET, FEWO_ONE, callback=fake.fewo_reservation)
        http.add_callback(responses.POST, BDC_RATES, callback=fake.bdc_rates, content_type="application/xml")
        http.add_callback(responses.POST, BDC_AVAIL, callback=fake.bdc_availability, content_type="application/xml")
        http.add(responses.GET, BDC_RES, body=_ota_ok("OTA_HotelResNotifRS"), content_type="application/xml")
        yield fake


@pytest.fixture
def units(unit) -> dict[str, Unit]:
    """Units A (the conftest's), B and C of one property, each with its FeWo-direkt and Booking.com
    connection."""
    found = {"A": unit}
    for name in ("B", "C"):
        found[name] = Unit.objects.create(property=unit.property, name=name, base_price=Decimal("150.00"))
    for name, each in found.items():
        ChannelConnection.objects.create(
            organization=unit.property.organization,
            unit=each,
            platform_type="fewo_direkt",
            platform_listing_id=f"L-{name}",
            api_key="fewo-key",
            rate_limit=1000,
            rate_window=1.0,
        )
        ChannelConnection.objects.create(
            organization=unit.property.organization,
            unit=each,
            platform_type="booking_com",
            platform_listing_id="H1",
            platform_metadata={"room_id": f"R{name}", "rate_plan_id": "BAR"},
            username="bdc-user",
            password="bdc-pass",
            rate_limit=500,
            rate_window=60.0,
        )
    return found


def _all() -> list[ChannelConnection]:
    return list(ChannelConnection.objects.order_by("pk"))


def _closed(platform: Platforms, unit: str, night: dt.date) -> dict[str, bool | None]:
    return {"fewo": platform.fewo_closed(unit, night), "bdc": platform.bdc_closed(unit, night)}


def _nights(platform: Platforms, unit: str, day, days) -> dict[int, dict[str, bool | None]]:
    return {n: _closed(platform, unit, day(n)) for n in days}


CLOSED = {"fewo": True, "bdc": True}
OPEN = {"fewo": False, "bdc": False}


def _webhook(rid: str, listing: str, kind: NotificationKind, key: str, version: int) -> str:
    """A FeWo-direkt webhook for ``listing``, stored and processed as the view and the import actor do."""
    from channelmgr.inbound.events import inbound_event_store
    from channelmgr.inbound.processing import inbound_event_process

    notification = Notification(
        platform="fewo_direkt",
        kind=kind,
        event_key=key,
        listing_id=listing,
        channel_booking_id=rid,
        version=f"{version:010d}",
    )
    event, _created = inbound_event_store(notification=notification, correlation_id="")
    return inbound_event_process(event_id=event.pk)


def _events_since(mark: int) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(pk__gt=mark).order_by("pk"))


def _mark() -> int:
    last = OutboxEvent.objects.order_by("-pk").first()
    return last.pk if last else 0


def _covered(events, unit: Unit, night: dt.date) -> bool:
    """Whether an event of ``events`` marks ``night`` of ``unit`` for every connection of the unit."""
    for e in events:
        if e.unit_id != unit.pk:
            continue
        ranges = (e.payload or {}).get("ranges") or [[e.start.isoformat(), e.end.isoformat()]]
        if any(dt.date.fromisoformat(a) <= night < dt.date.fromisoformat(b) for a, b in ranges):
            return True
    return False


def _overbooked_fewo_stay(platform, units, day, *, rid="R-1", first=10, last=13, held=(10, 11)):
    """A direct stay holds A's nights ``held`` (check-out excluded); FeWo-direkt sells A's days
    ``first``..``last`` anyway: its webhook is imported as an overbooking on A."""
    booking_create(unit=units["A"], check_in=day(held[0]), check_out=day(held[1]), guest_name="Walk-in")
    platform.book(rid, "L-A", day(first), day(last))
    assert _webhook(rid, "L-A", NotificationKind.BOOKING_CREATED, f"{rid}-1", 1) == "processed"
    stay = Booking.objects.get(source="fewo_direkt", channel_booking_id=rid)
    assert (stay.unit_id, stay.status) == (units["A"].pk, Booking.Status.OVERBOOKED)
    return stay


# --- 1. staff move an overbooked stay to a free unit ------------------------------------------------------


def test_a_stay_staff_moved_closes_the_new_unit_everywhere_and_frees_what_it_left(units, platform, clock, day):
    """A direct stay holds A's day 10; FeWo-direkt sells days 10-12 of A anyway (overbooked). Staff
    move it to B (``overbooking_resolve`` move). B's days 10-12 close on Booking.com AND on FeWo-direkt
    (it still lists the guest on L-A: nobody told it about B); A keeps day 10 closed (the direct stay),
    and days 11-12 open everywhere, FeWo-direkt too. The move's events cover every changed night."""
    stay = _overbooked_fewo_stay(platform, units, day)
    settle(_all(), clock)
    assert _nights(platform, "A", day, (10, 11, 12)) == {10: CLOSED, 11: CLOSED, 12: CLOSED}

    mark = _mark()
    overbooking_resolve(booking=stay, resolution=Resolution.MOVE, actor="staff", unit=units["B"])
    events = _events_since(mark)
    for n in (10, 11, 12):
        assert _covered(events, units["B"], day(n)) and _covered(events, units["A"], day(n)), n
    settle(_all(), clock)

    assert _nights(platform, "B", day, (9, 10, 11, 12, 13)) == {
        9: OPEN, 10: CLOSED, 11: CLOSED, 12: CLOSED, 13: OPEN,
    }  # fmt: skip
    assert _nights(platform, "A", day, (10, 11, 12)) == {10: CLOSED, 11: OPEN, 12: OPEN}


def test_a_staff_moved_stay_follows_its_platforms_later_changes_where_it_is(units, platform, clock, day):
    """After staff moved the FeWo-direkt stay (days 10-12) from A to B, FeWo-direkt still names L-A. Its
    next modification (days 14-16) changes the stay on B, without moving it back or copying it: B's old
    nights open and its new nights close everywhere, A's day 10 stays closed (the direct stay). Its
    cancellation then opens B's nights."""
    stay = _overbooked_fewo_stay(platform, units, day)
    overbooking_resolve(booking=stay, resolution=Resolution.MOVE, actor="staff", unit=units["B"])
    settle(_all(), clock)

    platform.book("R-1", "L-A", day(14), day(17), revision=2)
    assert _webhook("R-1", "L-A", NotificationKind.BOOKING_MODIFIED, "R-1-2", 2) == "processed"
    settle(_all(), clock)

    [only] = Booking.objects.filter(source="fewo_direkt")
    assert (only.pk, only.unit_id, only.check_in, only.check_out) == (stay.pk, units["B"].pk, day(14), day(17))
    assert _nights(platform, "B", day, (10, 11, 12, 14, 15, 16, 17)) == {
        10: OPEN, 11: OPEN, 12: OPEN, 14: CLOSED, 15: CLOSED, 16: CLOSED, 17: OPEN,
    }  # fmt: skip
    assert [platform.bdc_closed("A", day(n)) for n in (10, 11, 14, 15, 16)] == [True, False, False, False, False]

    platform.book("R-1", "L-A", day(14), day(17), revision=3, status="CANCELLED")
    assert _webhook("R-1", "L-A", NotificationKind.BOOKING_CANCELLED, "R-1-3", 3) == "processed"
    settle(_all(), clock)
    only.refresh_from_db()
    assert (only.unit_id, only.status) == (units["B"].pk, Booking.Status.CANCELLED)
    assert _nights(platform, "B", day, (14, 15, 16)) == {14: OPEN, 15: OPEN, 16: OPEN}
    assert Booking.objects.filter(source="fewo_direkt").count() == 1


# --- 2. the platform moves its guest ----------------------------------------------------------------------


def test_a_platform_move_closes_the_new_unit_and_opens_the_old(units, platform, clock, day):
    """FeWo-direkt's guest on L-A (days 10-12) is moved by the host to L-B: the webhook for L-B moves the
    stay to B. B's nights close on Booking.com; A's open on both platforms; the events cover both units."""
    platform.book("R-2", "L-A", day(10), day(13))
    assert _webhook("R-2", "L-A", NotificationKind.BOOKING_CREATED, "R-2-1", 1) == "processed"
    settle(_all(), clock)
    assert [platform.bdc_closed("A", day(n)) for n in (10, 11, 12)] == [True] * 3

    mark = _mark()
    platform.book("R-2", "L-B", day(10), day(13), revision=2)
    assert _webhook("R-2", "L-B", NotificationKind.BOOKING_MODIFIED, "R-2-2", 2) == "processed"
    events = _events_since(mark)
    settle(_all(), clock)

    stay = Booking.objects.get(source="fewo_direkt", channel_booking_id="R-2")
    assert (stay.unit_id, stay.status) == (units["B"].pk, Booking.Status.CONFIRMED)
    for n in (10, 11, 12):
        assert _covered(events, units["A"], day(n)) and _covered(events, units["B"], day(n)), n
        assert platform.bdc_closed("B", day(n)) is True, n
        assert _closed(platform, "A", day(n)) == OPEN, n


def test_a_platform_move_after_a_staff_move_is_lost(units, platform, clock, day):
    """Used to fail. Staff moved the overbooked FeWo-direkt stay (days 10-12) from A to B. Later the host moves
    the guest on FeWo-direkt to a third listing, L-C (the platform names L-C: neither where the guest
    booked nor where staff put it). The import ignores the move (``moved_by_platform`` is False for good
    once any staff move is recorded): the stay keeps holding B, and C's nights, which FeWo-direkt sold,
    stay open on Booking.com: the same nights of C can be sold twice."""
    stay = _overbooked_fewo_stay(platform, units, day)
    overbooking_resolve(booking=stay, resolution=Resolution.MOVE, actor="staff", unit=units["B"])
    settle(_all(), clock)

    platform.book("R-1", "L-C", day(10), day(13), revision=2)
    assert _webhook("R-1", "L-C", NotificationKind.BOOKING_MODIFIED, "R-1-2", 2) == "processed"
    settle(_all(), clock, reconcile=True)  # the daily reconcile --fix does not see it either

    stay.refresh_from_db()
    assert [platform.bdc_closed("C", day(n)) for n in (10, 11, 12)] == [True] * 3, "C's sold nights open"
    assert stay.unit_id == units["C"].pk
    assert [platform.bdc_closed("B", day(n)) for n in (10, 11, 12)] == [False] * 3


# --- 3. other dates ---------------------------------------------------------------------------------------


def test_a_stay_moved_to_other_dates_opens_what_it_left_and_settles_the_overbooking_behind_it(
    units, platform, clock, day
):
    """A direct stay on A, days 10-12; FeWo-direkt sells days 12-14 anyway (overbooked behind it). Staff
    shift the stay a day earlier, to days 9-11 (overlapping its old nights; the FeWo-direkt stay is
    confirmed: day 12 is its alone), then to days 16-18 (clear of them), then shorten it to day 16 (the
    window ends at day 19). After each step every night it left is open on both platforms unless the
    FeWo-direkt stay holds it, every night it holds is closed, and the step's events cover every night
    whose held state changed."""
    direct = booking_create(unit=units["A"], check_in=day(10), check_out=day(13), guest_name="Walk-in")
    platform.book("R-4", "L-A", day(12), day(15))
    assert _webhook("R-4", "L-A", NotificationKind.BOOKING_CREATED, "R-4-1", 1) == "processed"
    fewo_stay = Booking.objects.get(source="fewo_direkt", channel_booking_id="R-4")
    assert fewo_stay.status == Booking.Status.OVERBOOKED
    settle(_all(), clock)

    steps = [
        ((9, 12), {8: OPEN, 9: CLOSED, 10: CLOSED, 11: CLOSED, 12: CLOSED, 14: CLOSED, 15: OPEN}, [9]),
        (
            (16, 19),
            {9: OPEN, 11: OPEN, 12: CLOSED, 14: CLOSED, 15: OPEN, 16: CLOSED, 18: CLOSED, 19: OPEN},
            [9, 11, 16, 18],
        ),
        ((16, 17), {16: CLOSED, 17: OPEN, 18: OPEN, 12: CLOSED}, [17, 18]),
    ]
    for (first, last), expected, changed in steps:
        mark = _mark()
        booking_modify(booking=direct, check_in=day(first), check_out=day(last), actor="staff")
        events = _events_since(mark)
        assert all(_covered(events, units["A"], day(n)) for n in changed), (first, last)
        settle(_all(), clock)
        assert _nights(platform, "A", day, expected) == expected, (first, last)
    fewo_stay.refresh_from_db()
    assert fewo_stay.status == Booking.Status.CONFIRMED


# --- 4. a block split -------------------------------------------------------------------------------------


def test_a_block_split_opens_the_middle_and_confirms_the_overbooking_inside_it(units, platform, clock, day):
    """Staff block A's days 5-14; FeWo-direkt sells days 8-9 anyway (overbooked). Staff open days 7-10
    (``calendar_unblock``: ``booking_split``): days 7 and 10 open on both platforms, 8-9 stay closed for
    the FeWo-direkt stay (now confirmed), the block's head (5-6) and tail (11-14) stay closed."""
    calendar_block(unit=units["A"], start=day(5), end=day(15), note="owner")
    platform.book("R-5", "L-A", day(8), day(10))
    assert _webhook("R-5", "L-A", NotificationKind.BOOKING_CREATED, "R-5-1", 1) == "processed"
    settle(_all(), clock)

    mark = _mark()
    assert calendar_unblock(unit=units["A"], start=day(7), end=day(11), actor="staff") == 1
    events = _events_since(mark)
    assert all(_covered(events, units["A"], day(n)) for n in (7, 10))
    settle(_all(), clock)

    expected = {n: CLOSED for n in (5, 6, 8, 9, 11, 12, 13, 14)} | {7: OPEN, 10: OPEN, 15: OPEN}
    assert _nights(platform, "A", day, expected) == expected
    stay = Booking.objects.get(source="fewo_direkt", channel_booking_id="R-5")
    assert stay.status == Booking.Status.CONFIRMED
    assert sorted((b.check_in, b.check_out) for b in Booking.objects.active().filter(kind=Booking.Kind.BLOCK)) == [
        (day(5), day(7)),
        (day(11), day(15)),
    ]
