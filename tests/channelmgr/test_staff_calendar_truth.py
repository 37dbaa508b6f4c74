"""The staff calendar's "why" panel (``night_explanation``) against what the platforms hold.

The promise: per platform, the panel says "closed there" only when our last successful push (or the
platform's own booking) closed it and nothing newer is pending; "pending" when a change has not reached
it yet; and says when a connection will not receive it (paused, needs attention, held to close-outs).

Every sequence here drives the real path against the fake FeWo-direkt of ``test_refusal_keeps_closeouts``
(``responses``, each request applied as it lands): PMS services record outbox events,
``consume_outbox_event`` turns them into dirty ranges, ``push_connection`` sends them. "Now" is
2027-06-20 10:00 UTC and the sync window 30 nights (``test_prices_reach_platforms._quick``), so day(1) =
2027-07-01 is inside it. A night FeWo-direkt was never sent is open there (the listing's own default).

Tests whose docstring starts "Used to fail" failed before their fix (found in review, 2026-12-06); Safe tests
are sequences checked and found to hold.
"""

# The fixtures come from the modules whose fake platform this one uses.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from channelmgr.accounts import sync_window
from channelmgr.models import ChannelConnection, DirtyRange, IcalExport
from channelmgr.services.connections import connection_pause
from channelmgr.services.ical_export import ical_export_for
from channelmgr.staff_calendar.selectors import PlatformNight, night_explanation
from channelmgr.sync.push import push_again_later, push_connection
from channelmgr.tasks import consume_outbox_event
from pms_core.models import Booking, OutboxEvent, Property, Unit
from pms_core.services import (
    booking_cancel,
    booking_change_unit,
    booking_create,
    calendar_block,
    calendar_set_prices,
    calendar_set_restrictions,
)
from tests.channelmgr.sync.test_prices_reach_platforms import (  # noqa: F401 (fixtures)
    AVAILABILITY,
    _quick,
    clock,
    fewo,
    settle,
)
from tests.channelmgr.sync.test_refusal_keeps_closeouts import (  # noqa: F401 (fixtures)
    MAX_MIN_STAY,
    Refusing,
    platform,
)

pytestmark = pytest.mark.django_db

FEWO = "fewo_direkt"


@pytest.fixture
def staff(alice):
    """Alice as staff of her organization, allowed to view properties (the calendar's permission)."""
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    alice.user_permissions.add(Permission.objects.get(codename="view_property"))
    return alice


# --- helpers ------------------------------------------------------------------------------------------


def _status(fake: Refusing, night: dt.date, listing: str = "L-1") -> str:
    """What FeWo-direkt holds for the night: a night never written is open (the listing's default)."""
    return fake.night(listing, night).get("status", "AVAILABLE")


def _explained(unit: Unit, night: dt.date, platform_type: str = FEWO) -> PlatformNight:
    explanation = night_explanation(unit=Unit.objects.get(pk=unit.pk), date=night)
    return next(p for p in explanation.platforms if p.connection.platform == platform_type)


def _panel_row(client, unit: Unit, night: dt.date, platform_type: str = FEWO) -> list[str]:
    """The cells of the platform's row in the panel fragment staff see: platform, on the platform, price
    there, why, last received."""
    url = reverse("admin:pms_core_property_calendar_night", args=[unit.property_id, unit.pk, night.isoformat()])
    html = client.get(url, {"fragment": "1"}).content.decode()
    row = re.search(rf'<tr class="platform-night" data-platform="{platform_type}">(.*?)</tr>', html, re.S)
    assert row, f"no {platform_type} row in the panel"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert len(cells) == 5, cells
    return cells


def _shown_on_platform(cells: list[str]) -> str:
    """What the "On the platform" column says: "open", "closed", or another state in words."""
    if "badge-closed" in cells[1]:
        return "closed"
    if "badge-open" in cells[1]:
        return "open"
    return re.sub(r"<[^>]+>", "", cells[1]).strip()


def _consume_outbox() -> None:
    for event_id in OutboxEvent.objects.filter(consumed_at__isnull=True).order_by("pk").values_list("pk", flat=True):
        consume_outbox_event.fn(event_id)


def _hold_to_closeouts(unit, fewo, platform, clock, day) -> None:
    """A minimum stay FeWo-direkt refuses for good (day 15): the connection is held to close-outs."""
    calendar_set_restrictions(unit=unit, start=day(15), end=day(16), min_stay=MAX_MIN_STAY + 6)
    settle([fewo], clock)
    held = ChannelConnection.objects.get(pk=fewo.pk)
    assert (held.status, held.closeouts_only) == (ChannelConnection.Status.NEEDS_ATTENTION, True)


# --- HOLE: pending shown as done ------------------------------------------------------------------------


def test_a_booking_whose_event_is_not_yet_consumed_is_shown_closed_there_with_nothing_pending(
    client, staff, unit, fewo, platform, clock, day
):
    """Used to fail. a direct booking is made; its outbox event has not yet been turned into dirty ranges (the
    outbox worker is a step behind, or the broker is down and the relay has not re-sent it yet). The
    panel shows FeWo-direkt "closed" with no "not yet pushed" badge, exactly as if the close-out had
    been delivered; FeWo-direkt still has the nights open.
    Consequence: staff (or a guest on the phone) are told the night is safe everywhere while FeWo-direkt
    can sell it; nothing on the page hints that the change has not even been queued.
    Cause: channelmgr/staff_calendar/selectors.py:_pending reads only DirtyRange rows, and the change
    exists until then only as an unconsumed ``pms_core.OutboxEvent``.
    Fix: count the unit's unconsumed OutboxEvents that overlap the night (``consumed_at`` null, the
    kinds of ``outbound.EVENT_KINDS``, sparing the origin for ``ORIGIN_KNOWS``) as pending for every
    connection that receives that kind."""
    settle([fewo], clock)
    booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Walk-in")
    assert OutboxEvent.objects.filter(consumed_at__isnull=True).exists()  # not yet consumed
    assert _status(platform, day(1)) == "AVAILABLE"  # FeWo-direkt still sells it

    shown = _explained(unit, day(1))
    client.force_login(staff)
    cells = _panel_row(client, unit, day(1))
    assert shown.pending, "the panel shows FeWo-direkt closed and nothing pending; FeWo-direkt has the night open"
    assert _shown_on_platform(cells) == "closing: not yet pushed" and "availability not yet pushed" in cells[4]


def test_a_close_out_still_pending_is_shown_closed_on_the_platform(client, staff, unit, fewo, platform, clock, day):
    """Used to fail. a direct booking's nights are dirty for FeWo-direkt but not pushed yet (debounce, rate limit,
    an open breaker, a platform outage with retries for hours). The panel's "On the platform" column
    says "closed"; only the last column adds "availability not yet pushed". FeWo-direkt has it open.
    Consequence: the column named for the platform's state states the PMS's; a reader of the badge (or of
    ``PlatformNight.open``, e.g. an export of the panel) believes FeWo-direkt is closed while it can
    still be sold there.
    Cause: channelmgr/staff_calendar/selectors.py:_platform_night sets ``open=night.available`` whatever
    ``pending`` says.
    Fix: give PlatformNight a state of its own: "closed" only when nothing newer is pending, else
    "closing (not yet pushed)" / "opening (not yet pushed)", and show that in the column."""
    settle([fewo], clock)
    booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Walk-in")
    _consume_outbox()  # dirty, not pushed
    assert _status(platform, day(1)) == "AVAILABLE"

    client.force_login(staff)
    cells = _panel_row(client, unit, day(1))
    assert "availability not yet pushed" in cells[4]
    assert _shown_on_platform(cells) != "closed", "shown closed on FeWo-direkt; the close-out has not reached it"


# --- HOLE: connections that do not receive the change --------------------------------------------------


def test_a_paused_connection_is_shown_closed_for_a_night_it_was_never_told(
    client, staff, unit, fewo, platform, clock, day
):
    """Used to fail. FeWo-direkt is paused; a direct booking is then made and everything settles. A paused
    connection gets no dirty ranges (``outbox_event_apply`` marks only connections that receive pushes),
    so the panel shows FeWo-direkt "closed" with nothing pending (beside "connection paused: receives no
    updates"). FeWo-direkt has the night open: it was never told.
    Consequence: staff see a closed badge on FeWo-direkt and believe the night cannot be sold there; a
    FeWo-direkt guest books it and the night is sold twice. The badge contradicts the row's own reason.
    Cause: channelmgr/staff_calendar/selectors.py:_platform_night: ``open=night.available`` for a
    connection that does not receive the change (``ChannelConnection.receives``), and ``_pending`` finds
    nothing because nothing is marked for it.
    Fix: for a connection that does not receive availability, show "not told: paused since <when>" (no
    open/closed claim), or at least "PMS: closed, FeWo-direkt: unknown (last push <when>)"."""
    settle([fewo], clock)
    assert _status(platform, day(1)) == "AVAILABLE"
    connection_pause(connection=fewo)
    booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Walk-in")
    settle([fewo], clock)
    assert _status(platform, day(1)) == "AVAILABLE"  # never told

    shown = _explained(unit, day(1))
    assert shown.pending == []
    client.force_login(staff)
    cells = _panel_row(client, unit, day(1))
    assert _shown_on_platform(cells) != "closed", "a paused FeWo-direkt is shown closed; it has the night open"


def test_a_held_connection_is_shown_open_for_a_cancelled_stay_it_still_has_closed(
    client, staff, unit, fewo, platform, clock, day
):
    """Used to fail. a direct stay's nights were closed on FeWo-direkt; FeWo-direkt then refused a value and the
    connection is held to close-outs (openings wait for a person). The stay is cancelled and everything
    settles: the cancel's push to the held connection sends nothing (``_closeouts`` keeps only closed
    nights) and its dirty ranges are deleted as pushed. The panel shows FeWo-direkt "open" with nothing
    pending; FeWo-direkt still has the nights closed.
    Consequence: staff believe the freed nights are for sale on FeWo-direkt (and plan around that demand,
    or tell an owner so) while they stay closed there until someone resumes the connection.
    Cause: channelmgr/staff_calendar/selectors.py:_platform_night: ``open=night.available`` for a
    ``closeouts_only`` connection, which never receives an opening.
    Fix: for a held connection, an open PMS night reads "open in the PMS; not opened on <platform>
    (openings wait for the resume)" unless it was open there before the hold."""
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Cancels later")
    settle([fewo], clock)
    assert _status(platform, day(1)) == "UNAVAILABLE"
    _hold_to_closeouts(unit, fewo, platform, clock, day)

    booking_cancel(booking=Booking.objects.get(pk=booking.pk))
    settle([fewo], clock)
    assert _status(platform, day(1)) == "UNAVAILABLE"  # openings are not sent to a held connection

    shown = _explained(unit, day(1))
    assert shown.pending == []
    client.force_login(staff)
    cells = _panel_row(client, unit, day(1))
    assert _shown_on_platform(cells) != "open", "a held FeWo-direkt is shown open; it still has the night closed"


@pytest.mark.parametrize("out", ["paused", "held"])
def test_price_there_is_shown_for_a_connection_that_receives_no_prices(
    client, staff, unit, fewo, platform, clock, day, out
):
    """Used to fail. FeWo-direkt holds 150.00 for a night; the connection is then paused, or held to close-outs,
    and staff set the night to 199.00. Neither receives prices (no pricing dirty range is even made for
    them), yet the panel's "Price there" column shows 199.00 EUR for FeWo-direkt with nothing pending.
    Consequence: staff quote or check the FeWo-direkt price from the panel and believe the new price is
    live there; guests book at 150.00 on FeWo-direkt.
    Cause: channelmgr/staff_calendar/selectors.py:_platform_night computes ``price`` from the PMS price
    whenever the adapter has PUSH_PRICING, not whether the connection receives pricing
    (``ChannelConnection.receives(PRICING)``); its own docstring says None means "no prices pushed there".
    Fix: ``price=None`` (shown "no prices sent: paused / held to close-outs") unless
    ``connection.receives(DirtyRange.Kind.PRICING)``."""
    settle([fewo], clock)
    assert platform.night("L-1", day(1)).get("price") == "150.00"
    if out == "paused":
        connection_pause(connection=fewo)
    else:
        _hold_to_closeouts(unit, fewo, platform, clock, day)
    calendar_set_prices(unit=unit, start=day(1), end=day(2), price=Decimal("199.00"))
    settle([fewo], clock)
    assert platform.night("L-1", day(1)).get("price") == "150.00"  # never sent

    shown = _explained(unit, day(1))
    assert "pricing" not in shown.pending
    assert shown.price is None or shown.price == Decimal("150.00"), (
        f"the panel says FeWo-direkt gets {shown.price}; it holds 150.00"
    )


# --- HOLE: the sync window and the property's time zone ------------------------------------------------


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Pacific/Pago_Pago", "Pacific/Kiritimati"])
def test_the_first_night_beyond_the_sync_window_is_shown_closed_there(
    client, staff, unit, fewo, platform, clock, day, zone
):
    """Used to fail. a direct stay covers the last night of the sync window (the property's today + 30 nights,
    exclusive) and the first nights beyond it. The push sends only the window and drops the rest of its
    claim, so FeWo-direkt closes the last night inside and keeps the one beyond open. The panel shows
    FeWo-direkt "closed" for that night too, with nothing pending (its dirty range was deleted). Same in
    any zone (UTC-11, UTC+1, UTC+14), where the window's ends are the property's dates, not UTC's.
    Consequence: staff scrolling the calendar past the window see the stay's nights closed on every
    platform and take the booking as safe; the nights are open there until the window reaches them
    (``window_edges``), and a platform that sells further ahead than our window can sell them now.
    Cause: channelmgr/staff_calendar/selectors.py:_platform_night ignores ``accounts.sync_window``.
    Fix: for a night outside ``sync_window(connection)``, say "beyond the sync window: not sent yet
    (goes out on <window reaches it>)" instead of open/closed."""
    Property.objects.filter(pk=unit.property_id).update(timezone=zone)
    fewo = ChannelConnection.objects.select_related("unit__property").get(pk=fewo.pk)
    _today, end = sync_window(fewo)  # exclusive
    last_inside, first_beyond = end - dt.timedelta(days=1), end
    booking_create(unit=unit, check_in=last_inside, check_out=end + dt.timedelta(days=2), guest_name="Far")
    settle([fewo], clock)
    assert _status(platform, last_inside) == "UNAVAILABLE"  # the window's last night went out
    assert _status(platform, first_beyond) == "AVAILABLE"  # the night beyond did not

    assert not _explained(unit, last_inside).open  # Safe: the last night inside is truly closed there
    shown = _explained(unit, first_beyond)
    assert shown.pending == []
    client.force_login(staff)
    cells = _panel_row(client, unit, first_beyond)
    assert _shown_on_platform(cells) != "closed", (
        f"{first_beyond} (beyond the window in {zone}) is shown closed on FeWo-direkt; it was never sent"
    )


# --- HOLE: iCal feed connections ------------------------------------------------------------------------


@pytest.fixture
def ical(unit) -> ChannelConnection:
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="ical",
        platform_listing_id="Airbnb calendar",
        feed_url="https://www.airbnb.example/calendar/ical/1.ics",
    )


def test_an_ical_connection_is_shown_closed_though_no_platform_ever_read_our_export(client, staff, unit, ical, day):
    """Used to fail. a unit imports a platform's calendar by iCal (a feed connection); a direct booking is made.
    No export URL was ever created for the unit (``IcalExport`` does not exist), so no platform can have
    read our calendar; still the panel's iCal row says "closed" (with "import only: this platform reads
    our iCal export").
    Consequence: staff believe the platform behind the feed has the night closed; it learns of it only
    when (and if) it was given our export URL and next polls it (hours), and here it never was: the night
    is sold twice.
    Cause: channelmgr/staff_calendar/selectors.py:_platform_night reports ``open=night.available`` for
    import-only connections, which take no pushes and whose reads we never see.
    Fix: for an import-only connection, do not claim a platform state: "closed in our export (read by
    the platform on its own schedule)" when an export exists, and "not exported: give the platform the
    unit's iCal export URL" when none does."""
    booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Walk-in")
    assert not IcalExport.objects.filter(unit=unit).exists()  # no URL was ever given out

    client.force_login(staff)
    cells = _panel_row(client, unit, day(1), "ical")
    assert "import only" in cells[3]
    assert _shown_on_platform(cells) != "closed", "shown closed on the iCal platform; it never read our calendar"


def test_a_paused_ical_connection_is_said_to_receive_no_updates_while_its_export_still_closes_the_night(
    client, staff, unit, ical, day
):
    """HOLE (minor): an iCal feed connection is paused. The panel says "connection paused: receives no
    updates", yet the platform behind it still gets every change: our export URL for it
    (``/ical/<token>.ics?for=<connection>``) answers whatever the connection's status, with the new stay.
    Consequence: staff believe the platform keeps selling nights booked here and close them there by
    hand, or pause the connection thinking it stops our calendar reaching that platform (it does not).
    Cause: channelmgr/staff_calendar/selectors.py:_platform_night adds "receives no updates" for any
    non-active status before looking at whether the connection is import-only; the export
    (channelmgr/api/ical.py:ical_feed_view, ``ical_export_feeds``) ignores the status.
    Fix: for an import-only connection, say what pausing stops (we stop reading its feed) and that our
    export still serves it, or have the export honour the pause."""
    export = ical_export_for(unit)
    connection_pause(connection=ical)
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Walk-in")
    feed = client.get(reverse("ical-export", kwargs={"token": export.token}), {"for": ical.pk})
    assert feed.status_code == 200 and f"booking-{booking.pk}@" in feed.content.decode()  # it still gets it

    client.force_login(staff)
    cells = _panel_row(client, unit, day(1), "ical")
    assert "receives no updates" not in cells[3], "the panel says the iCal platform gets nothing; it gets the stay"


# --- Safe ------------------------------------------------------------------------------------------------


def test_rows_claimed_by_a_push_in_flight_and_a_late_write_recheck_are_shown_pending(
    unit, fewo, platform, clock, day, monkeypatch
):
    """Safe: while a push is on the wire its claimed rows are still DirtyRange rows, so the panel shows
    "availability not yet pushed" until the push's bookkeeping deletes them; afterwards the night is
    closed there and nothing is pending. A recheck row with ``not_before`` in the future (a late write
    that may still land) is shown pending too, and a push before it is due does not clear it."""
    from channelmgr.sync import push

    settle([fewo], clock)
    booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Walk-in")
    _consume_outbox()
    seen = []
    real = push.push_request

    def in_flight(connection, kind, items, **kwargs):
        seen.append(_explained(unit, day(1)).pending)
        return real(connection, kind, items, **kwargs)

    monkeypatch.setattr(push, "push_request", in_flight)
    push_connection(connection_id=fewo.pk, kind=AVAILABILITY)
    assert seen == [["availability"]]
    after = _explained(unit, day(1))
    assert (after.open, after.pending, _status(platform, day(1))) == (False, [], "UNAVAILABLE")

    push_again_later(ChannelConnection.objects.get(pk=fewo.pk), AVAILABILITY, [(day(1), day(2))], delay_seconds=60)
    assert _explained(unit, day(1)).pending == ["availability"]
    push_connection(connection_id=fewo.pk, kind=AVAILABILITY)  # not due yet: nothing claimed
    assert _explained(unit, day(1)).pending == ["availability"]


def test_after_settling_the_panel_matches_the_platform_for_every_night_of_the_window(
    client, staff, unit, fewo, platform, clock, day
):
    """Safe: with an active connection and everything pushed, for every night of the window the panel's
    FeWo-direkt state is what FeWo-direkt holds (stays, a block, a stop-sell, restrictions, a cancelled
    stay, an overbooked clash), nothing is pending, and an overbooked night names both stays."""
    first = booking_create(unit=unit, check_in=day(1), check_out=day(4), source="airbnb", channel_booking_id="HM1")
    clash = booking_create(
        unit=unit, check_in=day(2), check_out=day(5), source="expedia", channel_booking_id="EX1", overbook_on_clash=True
    )
    assert clash.status == Booking.Status.OVERBOOKED
    calendar_block(unit=unit, start=day(6), end=day(8), note="Owner")
    calendar_set_restrictions(unit=unit, start=day(9), end=day(10), stop_sell=True)
    calendar_set_restrictions(unit=unit, start=day(11), end=day(13), min_stay=5, closed_to_arrival=True)
    gone = booking_create(unit=unit, check_in=day(14), check_out=day(16))
    booking_cancel(booking=gone)
    settle([fewo], clock)

    start, end = sync_window(ChannelConnection.objects.select_related("unit__property").get(pk=fewo.pk))
    night = start
    while night < end:
        shown = _explained(unit, night)
        assert (shown.open, shown.pending) == (_status(platform, night) == "AVAILABLE", []), night
        night += dt.timedelta(days=1)
    reasons = night_explanation(unit=unit, date=day(2)).reasons
    assert any(f"booking #{first.pk}" in r for r in reasons) and any(f"booking #{clash.pk}" in r for r in reasons)


def test_a_stay_moved_to_another_unit_is_pending_on_both_then_true_on_both(unit, fewo, platform, clock, day):
    """Safe: staff move a direct stay to another unit of the property. Until pushed, the old unit's
    FeWo-direkt row is open with "availability not yet pushed" and the new unit's closed with the same;
    once pushed, the old listing is open and the new one closed, as the panel says."""
    other = Unit.objects.create(property=unit.property, name="Annex", base_price=Decimal("120.00"))
    annex = ChannelConnection.objects.create(
        organization=unit.property.organization, unit=other, platform_type=FEWO, platform_listing_id="L-2",
        api_key="fewo-key", rate_limit=1000, rate_window=1.0,
    )  # fmt: skip
    stay = booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Moved")
    settle([fewo, annex], clock)
    assert (_status(platform, day(1)), _status(platform, day(1), "L-2")) == ("UNAVAILABLE", "AVAILABLE")

    booking_change_unit(booking=stay, unit=other, actor="staff")
    _consume_outbox()
    old, new = _explained(unit, day(1)), _explained(other, day(1))
    assert (old.open, old.pending, new.open, new.pending) == (True, ["availability"], False, ["availability"])

    settle([fewo, annex], clock)
    old, new = _explained(unit, day(1)), _explained(other, day(1))
    assert (old.open, old.pending, new.open, new.pending) == (True, [], False, [])
    assert (_status(platform, day(1)), _status(platform, day(1), "L-2")) == ("AVAILABLE", "UNAVAILABLE")


def test_a_deleted_connection_is_not_listed_and_another_tenants_night_is_404(
    client, staff, unit, fewo, other_unit, day
):
    """Safe: a deleted connection of the unit has no row in the panel (its listing gets nothing); a night
    URL naming this property with another tenant's unit, or another tenant's property, is a 404."""
    ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="GONE",
        status=ChannelConnection.Status.DELETED,
    )  # fmt: skip
    assert [p.connection.platform for p in night_explanation(unit=unit, date=day(1)).platforms] == [FEWO]
    assert not DirtyRange.objects.filter(connection__status=ChannelConnection.Status.DELETED).exists()
    client.force_login(staff)
    for prop_id, unit_id in ((unit.property_id, other_unit.pk), (other_unit.property_id, other_unit.pk)):
        url = reverse("admin:pms_core_property_calendar_night", args=[prop_id, unit_id, day(1).isoformat()])
        assert client.get(url, {"fragment": "1"}).status_code == 404
