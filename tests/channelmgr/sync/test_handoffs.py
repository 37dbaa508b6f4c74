"""Hand-offs: a platform listing, or a listing's rate plan, changing hands while a push or a drain
of its former mapping is in flight (between reading the nights and its request landing).

Invariant: a night is closed on a platform listing exactly when an active stay or block of the unit mapped
to that listing holds it; never open while a guest holds it.

``test_mapping_changes.py`` covers a connection re-mapped while its own push is in flight (the old listing
may get a stale write, the new one ends up right) and ``test_pushes_in_flight.py`` two pushes of ONE
connection overlapping. What neither covers: the listing the stale push lands on may by then belong to
ANOTHER connection (another unit), whose pushes ``push.push_again_if_overlapped`` never compares with it.

Races are staged as in those files: the change lands from the ``responses`` callback, while the request is
on the wire, or in the one step a push takes between loading its connection and claiming its nights.

Each test whose docstring starts "Used to fail" failed before its fix (found in review, 2026-12-06); "Safe:"
ones pin a sequence that held.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import requests
import responses
import time_machine
from django.core.cache import cache
from django.utils import timezone
from lxml import etree

from adapters.base import PlatformAPIError
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.resilience.guard import Backpressure
from channelmgr.services.connections import connection_create, connection_delete, connection_sync, connection_update
from channelmgr.sync import push as push_module
from channelmgr.sync.drain import push_drain
from channelmgr.sync.outbound import mark_dirty
from channelmgr.sync.push import push_connection
from pms_core.models import Unit
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db

AVAILABILITY, PRICING = DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING
FEWO_AVAIL = re.compile(r".*/v1/listings/(L-\d+)/availability$")
FEWO_RATES = re.compile(r".*/v1/listings/(L-\d+)/rates$")
BDC_AVAIL = re.compile(r".*/hotels/ota/OTA_HotelAvailNotif$")
BDC_RATES = re.compile(r".*/hotels/ota/OTA_HotelRateAmountNotif$")
NS = {"ota": "http://www.opentravel.org/OTA/2003/05"}


def _ota_ok(root: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="http://www.opentravel.org/OTA/2003/05"'
        f' Version="1.000"><Success/></{root}>'
    )


@pytest.fixture(autouse=True)
def _no_debounce(settings):
    settings.PUSH_DEBOUNCE_SECONDS = 0.0  # each push runs when called
    cache.clear()


@pytest.fixture
def annex(unit) -> Unit:
    """Another unit of the same property (and so the same organization and account)."""
    return Unit.objects.create(property=unit.property, name="Annex", base_price=Decimal("90.00"), default_min_stay=1)


def _fewo(unit: Unit, listing: str, key: str) -> ChannelConnection:
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="fewo_direkt",
        platform_listing_id=listing,
        api_key=key,
    )


class FewoListings:
    """What each FeWo-direkt listing holds, each request applied when it lands: listing -> night -> status."""

    def __init__(self):
        self.status: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []

    def apply(self, request) -> None:
        listing = FEWO_AVAIL.match(request.url).group(1)
        self.calls.append(listing)
        for entry in json.loads(request.body)["entries"]:
            start, last = dt.date.fromisoformat(entry["from"]), dt.date.fromisoformat(entry["to"])  # "to": last night
            for i in range((last - start).days + 1):
                self.status.setdefault(listing, {})[(start + dt.timedelta(days=i)).isoformat()] = entry["status"]

    def night(self, listing: str, day: dt.date) -> str | None:
        return self.status.get(listing, {}).get(day.isoformat())


def _remap(connection: ChannelConnection, **fields) -> ChannelConnection:
    """What PATCH /channel-connections/{id} does (the admin form too)."""
    return connection_update(connection=ChannelConnection.objects.get(pk=connection.pk), **fields)


def _push_now(connection: ChannelConnection) -> None:
    for kind in (AVAILABILITY, PRICING):
        for _ in range(3):
            if push_connection(connection_id=connection.pk, kind=kind).status != "success":
                break


def _settle(*connections: ChannelConnection, rounds: int = 8) -> None:
    """Run every due push of the live ``connections``, each round at the latest time any of their rows is
    due (a late write's recheck, an overlap's), until nothing is left."""
    for _ in range(rounds):
        live = [c.pk for c in connections if ChannelConnection.objects.get(pk=c.pk).status == "active"]
        rows = list(DirtyRange.objects.filter(connection_id__in=live))
        if not rows:
            return
        due = max((r.not_before for r in rows if r.not_before), default=timezone.now())
        with time_machine.travel(max(due, timezone.now()) + dt.timedelta(seconds=1), tick=False):
            for pk in live:
                for kind in (AVAILABILITY, PRICING):
                    try:
                        push_connection(connection_id=pk, kind=kind)
                    except Backpressure:
                        pass
    raise AssertionError(f"still dirty after {rounds} rounds: {rows}")


def _stage_handoff(unit, annex, day, *, first, hand_over, lands_after_new_owner=True):
    """Connection A (``unit``) maps FeWo-direkt listing L-0 and has a backlog of nights 1..6; ``unit``
    holds none of them, so A's push (``first``) reads them all open. While its request to L-0 is on the
    wire, ``hand_over`` gives L-0 to a connection of ``annex``, whose guest holds nights 2 and 3, and that
    connection's whole window is pushed: L-0 shows the annex guest's nights closed. Then A's request lands
    (``lands_after_new_owner``; else it lands before the hand-over). Returns (listings, the new owner)."""
    a = _fewo(unit, "L-0", "key-a")
    booking_create(unit=annex, check_in=day(2), check_out=day(4))
    mark_dirty(connection=a, kinds=[AVAILABILITY], start=day(1), end=day(6), schedule=False)
    listings = FewoListings()
    state: dict[str, ChannelConnection] = {}

    def hand_over_and_push():
        owner = hand_over(a)
        state["owner"] = owner
        _push_now(owner)  # the new owner's whole window: the annex guest's nights closed on L-0
        assert listings.night("L-0", day(2)) == "UNAVAILABLE", "staging: the new owner's push closed night 2"

    def availability(request):
        stale = "owner" not in state and FEWO_AVAIL.match(request.url).group(1) == "L-0"
        if stale and lands_after_new_owner:
            hand_over_and_push()  # overtakes A's request, still on the wire
        listings.apply(request)
        if stale and not lands_after_new_owner:
            hand_over_and_push()
        return 200, {}, "{}"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.PUT, FEWO_AVAIL, callback=availability)
        http.add_callback(responses.PUT, FEWO_RATES, callback=lambda request: (200, {}, "{}"))
        first(a)
        assert "owner" in state, "staging: the hand-over ran while A's request was on the wire"
        _settle(a, state["owner"])
    return listings, state["owner"]


@contextlib.contextmanager
def _timing_out_on_l0(unit, annex, day):
    """Connection A (``unit``) on L-0 with a backlog of nights 1..6, the annex's guest on nights 2-3; A's
    push to L-0 times out, and the platform keeps the request to apply later (``timed_out``)."""
    a = _fewo(unit, "L-0", "key-a")
    booking_create(unit=annex, check_in=day(2), check_out=day(4))
    mark_dirty(connection=a, kinds=[AVAILABILITY], start=day(1), end=day(6), schedule=False)
    listings = FewoListings()
    timed_out = []

    def availability(request):
        if not timed_out and FEWO_AVAIL.match(request.url).group(1) == "L-0":
            timed_out.append(request)  # the platform has it and applies it later
            raise requests.Timeout("read timed out")
        listings.apply(request)
        return 200, {}, "{}"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.PUT, FEWO_AVAIL, callback=availability)
        http.add_callback(responses.PUT, FEWO_RATES, callback=lambda request: (200, {}, "{}"))
        with pytest.raises(PlatformAPIError):
            push_connection(connection_id=a.pk, kind=AVAILABILITY)
        yield a, listings, timed_out


def _remap_handoff(annex):
    """Staff move listing L-0 from unit to annex: A re-mapped to L-5, annex's connection (on L-1) to L-0."""

    def hand_over(a):
        b = _fewo(annex, "L-1", "key-b")
        _remap(a, platform_listing_id="L-5")
        return _remap(b, platform_listing_id="L-0")

    return hand_over


def _push(a):
    assert push_connection(connection_id=a.pk, kind=AVAILABILITY).status == "success"


def _drain(a):
    assert push_drain(kind=AVAILABILITY, connection_ids=[a.pk]).pushed == [a.pk]


def _sent_to_l0_after(listings: FewoListings) -> str:
    return f"requests to listings, in landing order: {listings.calls}"


# --- a listing handed to another unit while a push of its former connection is on the wire -------------


def test_a_listing_handed_to_another_unit_while_a_push_is_on_the_wire_keeps_the_new_units_guest_closed(
    unit, annex, day
):
    """Used to fail. sequence: connection A (unit) has L-0 and a backlog; its push reads the nights (all open on
    unit) and its request to L-0 is on the wire. Staff re-map A to L-5 and the annex's connection B onto
    L-0 (``connection_update``); B's whole-window push closes the annex guest's nights 2-3 on L-0 and lands.
    Then A's stale request lands on L-0 and reopens nights 2-3.

    Effect: the annex's guest holds nights 2-3, yet L-0 sells them (a double booking), and nothing ever
    corrects it: A's push finishes as a success and deletes its claim; ``push_again_if_overlapped`` looks
    only at other claims of A (none), and B's push, which finished first, looked only at claims of B. B has
    nothing dirty left, so L-0 stays open until some unrelated change of the annex or a manual sync.

    Cause: channelmgr/sync/push.py:_push_claimed (and push_again_if_overlapped, which keys overlaps by
    connection id, not by the listing a push was sent to): a push that finishes never checks that the
    listing it wrote to still belongs to its connection. Fix: in the push's bookkeeping, compare the stored
    mapping with the one the push sent under (as ``push_refused`` does); when it changed, mark the nights
    it sent dirty (``closes=True``, after ``LATE_WRITE_SECONDS``, for a write that may land later still) on
    whichever live connection now holds that listing key. Alternatively, ``connection_update`` /
    ``connection_create`` giving a listing a new owner push that owner's window once more after
    ``LATE_WRITE_SECONDS`` when the listing's former connection had a claim in flight."""
    listings, b = _stage_handoff(unit, annex, day, first=_push, hand_over=_remap_handoff(annex))

    assert listings.night("L-0", day(2)) == listings.night("L-0", day(3)) == "UNAVAILABLE", (
        f"L-0 (now the annex's listing, connection {b.pk}) sells nights 2-3 the annex's guest holds: "
        f"night 2 is {listings.night('L-0', day(2))!r} after A's stale push landed last; {_sent_to_l0_after(listings)}"
    )


def test_a_listing_handed_to_another_unit_while_a_drain_is_on_the_wire_keeps_the_new_units_guest_closed(
    unit, annex, day
):
    """Used to fail. the same hand-over, with A's nights read and sent by a drain (``push_drain``, the sweep's
    or a full sync's path). Sequence: the drain reads A's nights (open on unit), its request to L-0 is on
    the wire; staff re-map A to L-5 and the annex's connection B onto L-0; B's whole window goes out and
    closes the annex guest's nights 2-3; the drain's request lands last and reopens them.

    Effect: a double booking on L-0 for good (nothing left dirty on B). The drain's ``FRESH_READ_SECONDS``
    re-read does not help: it re-reads A's own unit, not the new owner's, and the request was already on
    the wire.

    Cause: channelmgr/sync/drain.py:_finish -> push.push_again_if_overlapped compares claims per connection
    only; ``_claim_many``'s ``remapped`` check runs at claim time, not when the drain's bookkeeping runs.
    Fix: as for the push: in ``_finish``, for every pushed connection whose stored mapping differs from the
    one it sent under, mark the nights it sent dirty (closes, after ``LATE_WRITE_SECONDS``) on the live
    connection that now holds that listing key."""
    listings, b = _stage_handoff(unit, annex, day, first=_drain, hand_over=_remap_handoff(annex))

    assert listings.night("L-0", day(2)) == listings.night("L-0", day(3)) == "UNAVAILABLE", (
        f"L-0 (now connection {b.pk}'s, the annex's) sells the annex guest's nights 2-3: night 2 is "
        f"{listings.night('L-0', day(2))!r} after the drain's stale request landed last; {_sent_to_l0_after(listings)}"
    )


def test_a_connection_deleted_and_its_listing_connected_to_another_unit_while_a_push_is_on_the_wire(unit, annex, day):
    """Used to fail. sequence: A's push to L-0 has read unit's nights (open) and is on the wire. Staff delete A
    (``connection_delete``) and connect L-0 to the annex instead (``connection_create``), then ask for a
    full sync (``connection_sync``): its push closes the annex guest's nights 2-3 on L-0. A's stale request
    lands last and reopens them.

    Effect: the annex guest's nights are for sale on L-0 with nothing dirty anywhere to correct them: A is
    deleted (its pushes are skipped; its finishing push deleted its claim as pushed) and C's push is done.
    A deleted connection's in-flight write is never compensated.

    Cause: channelmgr/sync/push.py:_push_claimed / push_again_if_overlapped (per-connection overlap only)
    and channelmgr/services/connections.py:connection_delete, which does nothing about a push of the
    connection still in flight. Fix: the push's bookkeeping re-reads its connection; if it is deleted or
    re-mapped, the nights it sent are marked dirty (closes, after ``LATE_WRITE_SECONDS``) on the live
    connection now holding the same (platform, listing_key); or ``connection_create`` of a listing whose
    former (deleted) connection has a claim newer than ``STALE_CLAIM`` pushes its window once more later."""

    def hand_over(a):
        connection_delete(connection=ChannelConnection.objects.get(pk=a.pk))
        c = connection_create(
            organization=annex.property.organization,
            unit=annex,
            platform_type="fewo_direkt",
            platform_listing_id="L-0",
            credentials={"api_key": "key-c"},
        )
        connection_sync(connection=c, sync_type="full")  # staff: "sync now" on the new connection
        return c

    listings, c = _stage_handoff(unit, annex, day, first=_push, hand_over=hand_over)

    assert listings.night("L-0", day(2)) == listings.night("L-0", day(3)) == "UNAVAILABLE", (
        f"L-0 (now connection {c.pk}'s, the annex's) sells the annex guest's nights 2-3: night 2 is "
        f"{listings.night('L-0', day(2))!r} after the deleted connection's push landed last; "
        f"{_sent_to_l0_after(listings)}"
    )


def test_a_listing_handed_to_another_unit_after_a_push_to_it_timed_out_is_closed_again_after_the_late_write(
    unit, annex, day
):
    """Used to fail. sequence: A's push to L-0 times out (the platform may still apply it: a late write).
    ``push_failed`` schedules the late-write recheck, ``LATE_WRITE_SECONDS`` on, as dirty ranges of
    connection A. Staff then hand L-0 to the annex (A re-mapped to L-5, the annex's B onto L-0) and B's
    whole window closes the annex guest's nights 2-3 on L-0. The timed-out request is applied late by the
    platform and reopens nights 2-3 on L-0. A's recheck then runs, but it goes where A points now: L-5.

    Effect: the late-write safeguard exists exactly for this overwrite, yet after a hand-over it corrects
    the wrong listing: L-0 sells the annex guest's nights for good (nothing dirty on B).

    Cause: channelmgr/sync/push.py:push_failed -> push_again_later(connection, ...) (also
    drain.py:_interrupted) keys the recheck by connection, not by the listing the request was sent to.
    Fix: record the listing key the request went to with the recheck (or, when ``connection_update`` /
    ``connection_create`` hands a listing key to a new owner while a recheck of the former owner for it
    is pending, copy that recheck onto the new owner, ``closes=True``)."""
    with _timing_out_on_l0(unit, annex, day) as (a, listings, timed_out):
        assert DirtyRange.objects.filter(connection=a, not_before__isnull=False).exists(), "staging: a recheck"
        b = _remap_handoff(annex)(a)
        _push_now(b)
        assert listings.night("L-0", day(2)) == "UNAVAILABLE", "staging: B's push closed night 2"
        listings.apply(timed_out[0])  # the late write lands
        _settle(a, b)

    assert listings.night("L-0", day(2)) == listings.night("L-0", day(3)) == "UNAVAILABLE", (
        f"L-0 (now connection {b.pk}'s) sells the annex guest's nights 2-3 after the late write: night 2 is "
        f"{listings.night('L-0', day(2))!r}; the recheck went to {[c for c in listings.calls if c != 'L-0']} "
        f"({_sent_to_l0_after(listings)})"
    )


def test_a_listing_handed_over_after_the_former_push_landed_ends_right(unit, annex, day):
    """Safe: the same hand-over, but A's request lands BEFORE the hand-over (the hand-over commits while
    A's push is still finishing). The new owner's whole window is read and sent after A's write, so L-0
    ends with the annex guest's nights closed and the rest open."""
    listings, _b = _stage_handoff(
        unit, annex, day, first=_push, hand_over=_remap_handoff(annex), lands_after_new_owner=False
    )

    assert [listings.night("L-0", day(n)) for n in (1, 2, 3, 4)] == [
        "AVAILABLE",
        "UNAVAILABLE",
        "UNAVAILABLE",
        "AVAILABLE",
    ]
    assert listings.night("L-5", day(2)) == "AVAILABLE"  # A's new listing gets unit's own state


# --- a rate plan re-mapped between a push loading its connection and claiming -------------------------


class BdcRatePlans:
    """What each Booking.com (room, rate plan) holds: (room, rate) -> night -> BookingLimit."""

    def __init__(self):
        self.limit: dict[tuple[str, str], dict[str, str]] = {}

    def availability(self, request):
        root = etree.fromstring(request.body)
        for message in root.iterfind(".//ota:AvailStatusMessage", NS):
            if message.get("BookingLimit") is None:
                continue
            control = message.find("ota:StatusApplicationControl", NS)
            start, last = dt.date.fromisoformat(control.get("Start")), dt.date.fromisoformat(control.get("End"))
            plan = (control.get("InvTypeCode"), control.get("RatePlanCode"))
            for i in range((last - start).days + 1):
                self.limit.setdefault(plan, {})[(start + dt.timedelta(days=i)).isoformat()] = message.get(
                    "BookingLimit"
                )
        return 200, {}, _ota_ok("OTA_HotelAvailNotifRS")

    def night(self, room: str, rate: str, day: dt.date) -> str | None:
        return self.limit.get((room, rate), {}).get(day.isoformat())


@pytest.fixture
def bdc(unit) -> ChannelConnection:
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="booking_com",
        platform_listing_id="H1",
        platform_metadata={"room_id": "R1", "rate_plan_id": "RP1"},
        username="bdc-user",
        password="bdc-pass",
        rate_limit=500,  # room in the limit: pacing is not what this tests
        rate_window=60.0,
    )


def test_a_rate_plan_remap_between_a_push_loading_its_connection_and_claiming_reaches_the_new_rate_plan(
    bdc, unit, day, monkeypatch
):
    """Used to fail. sequence: ``push_connection`` loads the Booking.com connection (room R1, rate plan RP1), then
    debounces; staff re-map it to rate plan RP2 (PATCH platform_metadata; ``connection_update`` marks the
    whole window dirty, since "another listing, room or rate plan holds nothing we pushed yet"); the push
    then claims those ranges too. ``push.remapped`` compares only ``MAPPING`` = (listing_key, unit_id),
    and Booking.com's listing_key is hotel/room, without the rate plan: no re-map is seen. The push sends
    the whole window under the stale object's RP1 and deletes it as pushed.

    Effect: RP2 (the rate plan guests now book on Booking.com, which takes availability and restrictions
    per rate plan: ``RATE_PLAN_RESTRICTIONS``) never gets a single night: the guest's nights 2-3 are never
    closed there, nor are its prices set, until an unrelated change or a manual sync. The same gap lets
    ``push_refused`` pin an old rate plan's permanent refusal on the re-mapped connection (it compares the
    same ``MAPPING``).

    Cause: channelmgr/sync/push.py: ``MAPPING`` / ``_mapping_of`` / ``remapped`` (and ``push_refused``)
    leave out ``platform_metadata``, which ``connection_update`` treats as part of the mapping. Fix: add
    ``connection__platform_listing_id`` and ``connection__platform_metadata`` (what ``_send`` and the
    adapter actually address: ``_codes`` reads room and rate plan from it) to ``MAPPING``."""
    booking_create(unit=unit, check_in=day(2), check_out=day(4))
    mark_dirty(connection=bdc, kinds=[AVAILABILITY], start=day(1), end=day(6), schedule=False)
    original = push_module.push_mark_sent  # the last step before the claim

    def remap_meanwhile(**kwargs):
        _remap(bdc, platform_metadata={"room_id": "R1", "rate_plan_id": "RP2"})
        return original(**kwargs)

    plans = BdcRatePlans()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.POST, BDC_AVAIL, callback=plans.availability)
        http.add(responses.POST, BDC_RATES, body=_ota_ok("OTA_HotelRateAmountNotifRS"), content_type="application/xml")
        monkeypatch.setattr(push_module, "push_mark_sent", remap_meanwhile)
        push_connection(connection_id=bdc.pk, kind=AVAILABILITY)
        monkeypatch.setattr(push_module, "push_mark_sent", original)
        stored = ChannelConnection.objects.get(pk=bdc.pk).platform_metadata
        assert stored == {"room_id": "R1", "rate_plan_id": "RP2"}, "staging: the re-map committed"
        _settle(bdc)

    sent_to = {plan: len(nights) for plan, nights in plans.limit.items()}
    assert plans.night("R1", "RP2", day(2)) == "0", (
        f"rate plan RP2 never got the booked night 2 closed (BookingLimit {plans.night('R1', 'RP2', day(2))!r}); "
        f"nights set per (room, rate plan): {sent_to}"
    )


def test_the_old_rate_plan_refusing_an_in_flight_push_for_good_does_not_hold_the_new_rate_plan(bdc, unit, day):
    """Used to fail. sequence: a push to rate plan RP1 is on the wire when staff re-map the Booking.com connection
    to RP2 (RP1 was removed on Booking.com, which is why they re-map). Booking.com refuses the request to
    RP1 for good (HTTP 400, unknown rate plan). ``push_refused`` checks whether the connection was
    re-mapped meanwhile, but compares only ``MAPPING`` (listing_key = hotel/room, unit): the rate plan is
    not in it, so the refusal of the OLD rate plan is pinned on the re-mapped connection.

    Effect: the connection turns ``needs_attention``, held to close-outs: RP2, the rate plan guests book
    now, gets no prices and no night ever reopened (a cancelled stay's nights stay closed: lost sales) until
    a person resumes it, and staff are alerted about a rate plan they just replaced. The FeWo listing
    variant of this was fixed (test_mapping_changes: "the old listing refusing an in-flight push"); the
    rate-plan variant was not.

    Cause: channelmgr/sync/push.py:push_refused (and ``MAPPING`` / ``_mapping_of``) leave out
    ``platform_metadata``. Fix: compare the whole mapping the push sent under (listing id and metadata)."""
    mark_dirty(connection=bdc, kinds=[AVAILABILITY], start=day(1), end=day(6), schedule=False)

    def refused(request):
        _remap(bdc, platform_metadata={"room_id": "R1", "rate_plan_id": "RP2"})
        return 400, {"Content-Type": "application/xml"}, "<Errors><Error Code='249'>Unknown rate plan</Error></Errors>"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.POST, BDC_AVAIL, callback=refused)
        with pytest.raises(PlatformAPIError) as raised:
            push_connection(connection_id=bdc.pk, kind=AVAILABILITY)
        assert raised.value.permanent, "staging: a refusal for good"

    stored = ChannelConnection.objects.get(pk=bdc.pk)
    assert stored.platform_metadata["rate_plan_id"] == "RP2", "staging: the re-map committed"
    assert (stored.status, stored.closeouts_only) == (ChannelConnection.Status.ACTIVE, False), (
        f"the refusal of the old rate plan RP1 was pinned on the connection re-mapped to RP2: it is now "
        f"{stored.status!r}, closeouts_only={stored.closeouts_only}, last_error={stored.last_error!r}"
    )


def test_a_listing_connected_to_another_unit_right_after_its_connection_was_deleted_mid_timeout(unit, annex, day):
    """The late write of hole 4, with the hand-over a delete and a new connection (``connection_create``):
    the new connection's window goes out once more after ``LATE_WRITE_SECONDS``."""
    with _timing_out_on_l0(unit, annex, day) as (a, listings, timed_out):
        connection_delete(connection=ChannelConnection.objects.get(pk=a.pk))
        c = connection_create(
            organization=annex.property.organization,
            unit=annex,
            platform_type="fewo_direkt",
            platform_listing_id="L-0",
            credentials={"api_key": "key-c"},
        )
        connection_sync(connection=c, sync_type="full")
        _push_now(c)
        assert listings.night("L-0", day(2)) == "UNAVAILABLE", "staging: C's push closed night 2"
        listings.apply(timed_out[0])  # the late write lands
        _settle(c)

    assert listings.night("L-0", day(2)) == listings.night("L-0", day(3)) == "UNAVAILABLE", (
        f"L-0 (now connection {c.pk}'s) sells the annex guest's nights 2-3 after the late write: {listings.calls}"
    )
