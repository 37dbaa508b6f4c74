"""Out and back: a connection that is out (paused, needing attention whole, held to close-outs)
or comes back must never leave a night a stay holds open on its platform with nothing left to correct
it, must not stay stuck, and must not make a close-out wait much longer than it should.

Each test drives the real path against the fake platforms of ``test_prices_reach_platforms`` (each
request applied as it lands) and describes its sequence in its docstring. Found in review (2026-12-05);
each failed before its fix.
"""

# The fixtures come from the modules whose fake platforms this one uses.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from channelmgr.models import ChannelConnection
from channelmgr.services.connections import connection_pause, connection_resume
from pms_core.services import booking_create, calendar_set_prices
from pms_core.services.calendar import calendar_set_restrictions
from tests.channelmgr.sync.test_prices_reach_platforms import (  # noqa: F401 (fixtures)
    AVAILABILITY,
    NOW,
    PRICING,
    _quick,
    clock,
    fewo,
    platforms,
    settle,
)
from tests.channelmgr.sync.test_refusal_keeps_closeouts import (  # noqa: F401 (fixtures)
    MAX_MIN_STAY,
    MAX_PRICE,
    Refusing,
    platform,
)

pytestmark = pytest.mark.django_db


def _status(fake, night: dt.date, listing: str = "L-1") -> str | None:
    return fake.night(listing, night).get("status")


def _held(connection: ChannelConnection) -> ChannelConnection:
    return ChannelConnection.objects.get(pk=connection.pk)


def _refuse_a_minimum_stay(unit, fewo, platform, clock, day) -> None:
    settle([fewo], clock)
    calendar_set_restrictions(unit=unit, start=day(5), end=day(8), min_stay=MAX_MIN_STAY + 6)
    settle([fewo], clock)
    held = _held(fewo)
    assert (held.status, held.closeouts_only) == (ChannelConnection.Status.NEEDS_ATTENTION, True)


# --- 1. pause and resume of a held connection -------------------------------------------------------


def test_a_held_connection_paused_and_resumed_is_not_left_active_in_closeouts_form(unit, fewo, platform, clock, day):
    """Held to close-outs (a minimum stay of 20 refused). Staff fix the value (7), then pause the
    connection and resume it (``connection_pause`` / ``connection_resume``: the resume goes through the
    PAUSED branch, not ``connection_recover``, so ``closeouts_only`` is never cleared). It comes back
    ACTIVE with ``closeouts_only=True`` and no error: the catch-up full sync sends availability in the
    close-outs form only (the fixed minimum stay never goes), and the next permanent refusal (a price
    too high) is taken as a refused *close-out*: the connection stops whole and a booking made elsewhere
    afterwards stays OPEN on FeWo-direkt, with nothing left to close it.

    Should be: a resume clears ``closeouts_only`` whatever the status it resumes from; the full window
    goes out; a refused price holds the connection to close-outs and the booking's nights are closed."""
    _refuse_a_minimum_stay(unit, fewo, platform, clock, day)
    calendar_set_restrictions(unit=unit, start=day(5), end=day(8), min_stay=7)  # the fix
    connection_pause(connection=_held(fewo))
    connection_resume(connection=_held(fewo))
    settle([fewo], clock)
    resumed = _held(fewo)
    min_stay_sent = platform.night("L-1", day(5)).get("min_stay")

    calendar_set_prices(unit=unit, start=day(3), end=day(4), price=MAX_PRICE + 1)  # refused for good
    settle([fewo], clock)
    booking_create(unit=unit, check_in=day(10), check_out=day(13))
    settle([fewo], clock)

    after = _held(fewo)
    assert [_status(platform, day(n)) for n in (10, 11, 12)] == ["UNAVAILABLE"] * 3, (
        f"after resume: status={resumed.status} closeouts_only={resumed.closeouts_only} "
        f"min_stay on FeWo={min_stay_sent}; after the refused price: status={after.status} "
        f"closeouts_only={after.closeouts_only}; booked nights on FeWo: "
        f"{[_status(platform, day(n)) for n in (10, 11, 12)]}"
    )


# --- 2. account-batched Booking.com hotels ------------------------------------------------------------


def _hotel_rooms(unit, n: int = 2) -> list[ChannelConnection]:
    """``n`` units of one property, each a room type (R1, R2, ...) of Booking.com hotel H1 on one account."""
    from pms_core.models import Unit

    units = [unit] + [
        Unit.objects.create(property=unit.property, name=f"Room {i}", base_price=Decimal("100.00"), default_min_stay=1)
        for i in range(2, n + 1)
    ]
    return [
        ChannelConnection.objects.create(
            organization=unit.property.organization,
            unit=each,
            platform_type="booking_com",
            platform_listing_id="H1",
            platform_metadata={"room_id": f"R{i}", "rate_plan_id": "BAR"},
            username="bdc-user",
            password="bdc-pass",
            rate_limit=500,
            rate_window=60.0,
        )
        for i, each in enumerate(units, start=1)
    ]


def test_one_rooms_unsendable_price_does_not_hold_the_hotels_prices_for_ten_minutes(unit, platforms, clock, day):
    """Hotel H1, rooms R1 and R2 (two connections, batched). R2 has a stored zero price (from before prices
    had to be more than 0) on a dirty night; R1 gets a new price, 199.00. R1's push batches R2
    (``_batch_siblings``); building R2's items raises inside ``_push_batch`` before its ``try``, so the
    claim of BOTH rooms is kept (no row, no error, nothing released). Every push of the hotel for the
    next ``STALE_CLAIM`` (10 minutes) finds nothing to claim: R1's price waits 10 minutes although R1 has
    nothing wrong (and each new price of any room of the hotel batched with R2 meets the same again).

    Should be (as for a connection alone, ``_push_claimed``): the room whose items cannot be built fails
    visibly and gives its claim back at once; the other rooms of the hotel go out with the next push."""
    from channelmgr.models import DirtyRange
    from channelmgr.sync.outbound import mark_dirty, push_sweep
    from channelmgr.sync.push import push_connection
    from channelmgr.tasks import consume_outbox_event
    from pms_core.models import CalendarDay, OutboxEvent

    r1, r2 = _hotel_rooms(unit)
    settle([r1, r2], clock)
    CalendarDay.objects.create(unit=r2.unit, date=day(2), price=Decimal("0"))
    mark_dirty(connection=r2, kinds=[PRICING], start=day(2), end=day(3), schedule=False)
    calendar_set_prices(unit=unit, start=day(1), end=day(2), price=Decimal("199.00"))
    errors = []
    for _minute in range(5):  # five minutes of workers retrying and the sweep running
        for event_id in OutboxEvent.objects.filter(consumed_at__isnull=True).values_list("pk", flat=True):
            consume_outbox_event.fn(event_id)
        push_sweep(older_than_seconds=0)
        for connection in (r1, r2):
            try:
                push_connection(connection_id=connection.pk, kind=PRICING)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        clock.shift(dt.timedelta(minutes=1))

    rows = list(DirtyRange.objects.filter(kind=PRICING).values_list("connection_id", "claimed_by"))
    assert platforms.night("H1/R1/BAR", day(1)).get("price") == "199.00", (
        f"R1 holds {platforms.night('H1/R1/BAR', day(1))} after 5 minutes; pricing rows (connection, claim): "
        f"{rows}; push errors: {errors[:3]}; last_error R1={_held(r1).last_error!r} R2={_held(r2).last_error!r}"
    )


# --- 3. what a held connection still does and says ---------------------------------------------------------


def test_a_held_hotel_is_still_polled_for_its_bookings(unit, clock, day):
    """A Booking.com hotel (one room type, H1/R1) whose push was refused for one of our values is held to
    close-outs: it still sells on Booking.com, and ``account_connections`` says so ("a hotel needing
    attention still sells rooms: its reservations must reach the PMS and close their nights
    elsewhere"). But ``due_polls`` claims only active connections (and held iCal feeds), and reconcile
    reads only active ones: nothing pulls the held hotel's reservations any more (Booking.com is read by
    polling), so a stay booked there never reaches the PMS and its nights stay OPEN on every other
    platform until a person resumes the connection.

    Should be: a connection held to close-outs is polled on its schedule like an active one."""
    from django.utils import timezone

    from channelmgr.inbound.polling import due_polls
    from channelmgr.services.connections_health import connection_mark_needs_attention

    (hotel,) = _hotel_rooms(unit, n=1)
    clock.shift(dt.timedelta(hours=1))
    assert hotel.pk in due_polls(timezone.now())  # active: polled
    connection_mark_needs_attention(
        connection_id=hotel.pk, error="booking_com: HTTP 400 SetMinLOS 40 refused", closeouts_only=True
    )
    assert _held(hotel).closeouts_only
    clock.shift(dt.timedelta(hours=1))
    assert hotel.pk in due_polls(timezone.now())


def test_a_passing_test_keeps_the_refusal_a_held_connection_must_have_fixed(unit, fewo, platform, clock, day):
    """Held to close-outs (FeWo-direkt refused a minimum stay of 20). Staff click "test": the key works,
    so ``connection_test`` writes ``last_error=""`` and ``healthy=True``, and (rightly) does not resume.
    The connection now reads needs-attention, healthy, with no reason: staff no longer see which value to
    fix, and every push since keeps the (now empty) error (``connections_record_pushed``).

    Should be: a test of a held connection leaves the refusal it is held for."""
    from channelmgr.services.connections import connection_test

    _refuse_a_minimum_stay(unit, fewo, platform, clock, day)
    assert connection_test(connection=_held(fewo)).healthy
    held = _held(fewo)
    assert held.closeouts_only
    assert "minStay 20 exceeds 14" in held.last_error, (held.status, held.healthy, held.last_error)
