"""Mapping changes (a connection re-mapped to another listing, deleted, re-connected) while dirty
ranges wait, a push or a drain is in flight, or a booking import is under way.

Invariants checked:
1. After a re-map the NEW listing gets the unit's full state (every held night closed, prices); no later
   push goes to the OLD listing id (a stale in-flight one may land, but the new listing still ends up right).
2. A push that claimed before a re-map and finishes after it never marks the new listing's nights clean.
3. Deleting / disconnecting a connection loses no booking the platform already reported, and leaves nothing
   that errors for ever.
4. Two connections never sell the same platform listing.

"In flight" is simulated by calling the services in the order a race interleaves them: from a `responses`
callback (the change lands while the request is on the wire) or from the one step a push takes between
loading its connection and claiming its nights.

Found in review (2026-12): each test whose docstring starts "Used to fail" failed before its fix; the others
pin behaviour that held already.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import responses
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import timezone

from adapters.base import BookingData, BookingPage, BookingStatus, Guest
from channelmgr.inbound.events import inbound_event_store
from channelmgr.inbound.importer import booking_import, ical_snapshot_import
from channelmgr.inbound.processing import inbound_event_process
from channelmgr.models import ChannelConnection, DirtyRange, InboundEvent
from channelmgr.services.connections import (
    connection_create,
    connection_delete,
    connection_store_tokens,
    connection_update,
)
from channelmgr.sync import drain as drain_module
from channelmgr.sync import push as push_module
from channelmgr.sync.drain import push_drain
from channelmgr.sync.outbound import mark_dirty, outbox_event_apply, push_sweep
from channelmgr.sync.push import push_connection
from pms_core.models import Booking, OutboxEvent
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db

AVAILABILITY, PRICING = DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING
FEWO_AVAIL = re.compile(r".*/v1/listings/(L-\d+)/availability$")
FEWO_RATES = re.compile(r".*/v1/listings/(L-\d+)/rates$")
AIRBNB_BASE = django_settings.PLATFORMS["airbnb"]["base_url"]
AIRBNB_CALENDAR = re.compile(r".*/v2/listings/(AIR-\d+)/calendar$")
AIRBNB_PRICING = re.compile(r".*/v2/listings/(AIR-\d+)/pricing$")


@pytest.fixture(autouse=True)
def _no_debounce(settings):
    settings.PUSH_DEBOUNCE_SECONDS = 0.0  # each push runs when called
    cache.clear()  # debounce flags, limiter windows and breaker states live in the local cache


@pytest.fixture
def fewo(unit) -> ChannelConnection:
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="fewo_direkt",
        platform_listing_id="L-0",
        api_key="fewo-key",
    )


@pytest.fixture
def airbnb(unit) -> ChannelConnection:
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="airbnb",
        platform_listing_id="AIR-1",
        access_token="airbnb-access-1",
        refresh_token="airbnb-refresh-1",
        token_expires_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
    )


class Listings:
    """What each platform listing holds, as the requests that reached it say: night -> status / rate."""

    def __init__(self):
        self.status: dict[str, dict[str, str]] = {}
        self.rates: dict[str, dict[str, object]] = {}
        self.calls: list[tuple[str, str]] = []  # (listing, "availability" | "rates")

    def fewo_availability(self, request):
        listing = FEWO_AVAIL.match(request.url).group(1)
        self.calls.append((listing, "availability"))
        for entry in json.loads(request.body)["entries"]:
            for night in _nights(entry["from"], entry["to"]):
                self.status.setdefault(listing, {})[night] = entry["status"]
        return 200, {}, "{}"

    def fewo_rates(self, request):
        listing = FEWO_RATES.match(request.url).group(1)
        self.calls.append((listing, "rates"))
        for entry in json.loads(request.body)["entries"]:
            for night in _nights(entry["from"], entry["to"]):
                self.rates.setdefault(listing, {})[night] = entry["nightlyRate"]
        return 200, {}, "{}"

    def airbnb_calendar(self, request):
        listing = AIRBNB_CALENDAR.match(request.url).group(1)
        self.calls.append((listing, "availability"))
        for entry in json.loads(request.body)["ranges"]:
            for night in _nights(entry["start_date"], entry["end_date"]):
                self.status.setdefault(listing, {})[night] = "AVAILABLE" if entry["available"] else "UNAVAILABLE"
        return 200, {}, "{}"

    def airbnb_pricing(self, request):
        listing = AIRBNB_PRICING.match(request.url).group(1)
        self.calls.append((listing, "rates"))
        return 200, {}, "{}"

    def night(self, listing: str, day: dt.date) -> str | None:
        return self.status.get(listing, {}).get(day.isoformat())


def _nights(first: str, last: str) -> list[str]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)  # "to"/"end_date": the last night
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def _fewo_platform(http: responses.RequestsMock, listings: Listings, *, availability=None) -> None:
    http.add_callback(responses.PUT, FEWO_AVAIL, callback=availability or listings.fewo_availability)
    http.add_callback(responses.PUT, FEWO_RATES, callback=listings.fewo_rates)


def _remap(connection: ChannelConnection, listing_id: str) -> ChannelConnection:
    """What PATCH /channel-connections/{id} {"platform_listing_id": ...} does (the admin form too)."""
    return connection_update(connection=ChannelConnection.objects.get(pk=connection.pk), platform_listing_id=listing_id)


def _push_everything_due(connection: ChannelConnection) -> None:
    for kind in (AVAILABILITY, PRICING):
        for _ in range(3):
            if push_connection(connection_id=connection.pk, kind=kind).status != "success":
                break


# --- 1 and 2: a re-map while a push is in flight -------------------------------------------------------


def test_a_push_claimed_before_a_remap_and_landing_after_it_leaves_the_new_listing_to_be_pushed(fewo, unit, day):
    """Invariant 2. The push claimed and read before the re-map; its request to L-0 is on the
    wire when staff re-map to L-9. It lands on L-0 and marks only its own claim clean: the re-map's whole
    window is still dirty, and the next push sends every held night closed to L-9."""
    booking_create(unit=unit, check_in=day(2), check_out=day(4))
    mark_dirty(connection=fewo, kinds=[AVAILABILITY], start=day(1), end=day(6), schedule=False)
    listings = Listings()

    def availability(request):
        if not listings.calls:  # the first request, to the old listing, is on the wire
            _remap(fewo, "L-9")
        return listings.fewo_availability(request)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        _fewo_platform(http, listings, availability=availability)
        assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "success"
        assert listings.calls == [("L-0", "availability")]  # the stale push landed where it was aimed
        assert DirtyRange.objects.filter(connection=fewo, kind=AVAILABILITY).exists()  # not marked clean
        _push_everything_due(fewo)

    assert listings.night("L-9", day(2)) == listings.night("L-9", day(3)) == "UNAVAILABLE"
    assert listings.night("L-9", day(1)) == "AVAILABLE"
    assert ("L-9", "rates") in listings.calls
    assert [call for call in listings.calls[1:] if call[0] == "L-0"] == []  # nothing more to the old listing
    # Left: the new listing's window once more, once a former connection's late write cannot land.
    left = DirtyRange.objects.filter(connection=fewo)
    assert all(row.not_before and row.not_before > timezone.now() for row in left), list(left)


def test_a_remap_between_a_push_loading_its_connection_and_claiming_reaches_the_new_listing(
    fewo, unit, day, monkeypatch
):
    """Used to fail. ``push_connection`` reads the connection (listing L-0), then debounces and claims. A re-map
    committed in between (PATCH on the web process, the push on a worker) marks the whole window dirty for
    L-9; the push then claims those ranges too, sends the whole window to the OLD listing L-0 under the
    stale object and deletes them as pushed. L-9 never gets a single night: every night booked in the PMS is
    open there until some unrelated change or a manual sync. Broken invariants 1 and 2."""
    booking_create(unit=unit, check_in=day(2), check_out=day(4))
    mark_dirty(connection=fewo, kinds=[AVAILABILITY], start=day(1), end=day(6), schedule=False)
    original = push_module.push_mark_sent  # the last step before the claim

    def remap_meanwhile(**kwargs):
        _remap(fewo, "L-9")
        return original(**kwargs)

    monkeypatch.setattr(push_module, "push_mark_sent", remap_meanwhile)
    listings = Listings()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        _fewo_platform(http, listings)
        push_connection(connection_id=fewo.pk, kind=AVAILABILITY)
        monkeypatch.setattr(push_module, "push_mark_sent", original)
        _push_everything_due(fewo)

    assert listings.night("L-9", day(2)) == "UNAVAILABLE", (
        f"the new listing L-9 never got the booked night; requests made: {listings.calls}; "
        f"the whole window went to the old listing ({len(listings.status.get('L-0', {}))} nights of L-0 set)"
    )


def test_a_remap_between_a_drain_loading_its_connections_and_claiming_reaches_the_new_listing(
    fewo, unit, day, monkeypatch
):
    """Used to fail. The same in the drain (``push_drain`` loads its connections, then ``_ready`` and
    ``push_mark_sent_many``, then ``_claim_many``): a re-map committed between load and claim has its whole
    window claimed by the drain, sent to the OLD listing and deleted as pushed."""
    booking_create(unit=unit, check_in=day(2), check_out=day(4))
    mark_dirty(connection=fewo, kinds=[AVAILABILITY], start=day(1), end=day(6), schedule=False)
    original = drain_module.push_mark_sent_many

    def remap_meanwhile(**kwargs):
        _remap(fewo, "L-9")
        return original(**kwargs)

    monkeypatch.setattr(drain_module, "push_mark_sent_many", remap_meanwhile)
    listings = Listings()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        _fewo_platform(http, listings)
        push_drain(kind=AVAILABILITY, connection_ids=[fewo.pk])
        monkeypatch.setattr(drain_module, "push_mark_sent_many", original)
        _push_everything_due(fewo)

    assert listings.night("L-9", day(2)) == "UNAVAILABLE", f"L-9 never got the booked night: {listings.calls}"


def test_the_old_listing_refusing_an_in_flight_push_for_good_does_not_stop_the_new_listing(fewo, unit, day):
    """Used to fail. Staff re-map because the old listing is gone; a push to it is on the wire and comes back
    404 (permanent). ``push_refused`` records that on the connection, which is now the re-mapped one: it
    turns ``needs_attention`` held to close-outs, so the NEW listing L-9 gets no prices and no opening
    night (close-outs only) until a person resumes it, and staff are alerted about a listing they just
    fixed. Broken invariant 1: a refusal about the old listing id must not land on the new mapping."""
    booking_create(unit=unit, check_in=day(2), check_out=day(4))
    mark_dirty(connection=fewo, kinds=[AVAILABILITY], start=day(1), end=day(6), schedule=False)
    listings = Listings()

    def availability(request):
        if "/L-0/" in request.url:  # the old listing: re-mapped while this request is on the wire, and gone
            _remap(fewo, "L-9")
            return 404, {}, json.dumps({"errors": [{"code": "NOT_FOUND", "message": "no such listing"}]})
        return listings.fewo_availability(request)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        _fewo_platform(http, listings, availability=availability)
        try:
            push_connection(connection_id=fewo.pk, kind=AVAILABILITY)
        except Exception:  # the stale push's refusal, raised to its actor
            pass
        _push_everything_due(fewo)

    fewo.refresh_from_db()
    assert (fewo.status, fewo.closeouts_only) == (ChannelConnection.Status.ACTIVE, False), (
        f"the re-mapped connection was flagged by the old listing's 404: {fewo.status}, {fewo.last_error!r}"
    )
    assert ("L-9", "rates") in listings.calls


# --- the entry points that change a mapping: a stale row saved over concurrent changes -------------------


def test_a_remap_saved_over_a_concurrent_delete_does_not_bring_the_connection_back(fewo):
    """Used to fail. PATCH /channel-connections/{id} (and the admin form) load the row, validate, then
    ``connection_update`` saves the WHOLE row (``_save`` -> ``save()`` without ``update_fields``). A DELETE
    committed in between is overwritten: the deleted connection is ``active`` again (listed by the API
    again), pushed to and pulled, though staff removed it. A concurrent pause is lost the same way."""
    loaded_by_patch = ChannelConnection.objects.get(pk=fewo.pk)
    connection_delete(connection=ChannelConnection.objects.get(pk=fewo.pk))  # DELETE, on another request

    connection_update(connection=loaded_by_patch, platform_listing_id="L-9")

    assert ChannelConnection.objects.get(pk=fewo.pk).status == ChannelConnection.Status.DELETED


def test_a_remap_saved_over_a_concurrent_token_refresh_keeps_the_new_tokens(airbnb):
    """Used to fail. The same whole-row save, racing the scheduler's token refresh: the refresh stored a new pair
    (refresh tokens are single-use) while the PATCH that re-maps the listing was validating; the PATCH then
    writes the old, spent refresh token back. The next refresh is refused and the re-mapped connection
    goes ``needs_attention``: the new listing stops getting close-outs until someone reconnects."""
    from adapters.base import TokenSet

    loaded_by_patch = ChannelConnection.objects.get(pk=airbnb.pk)
    connection_store_tokens(
        connection=ChannelConnection.objects.get(pk=airbnb.pk),
        tokens=TokenSet(access_token="airbnb-access-2", refresh_token="airbnb-refresh-2", expires_at=None),
    )

    connection_update(connection=loaded_by_patch, platform_listing_id="AIR-9")

    stored = ChannelConnection.objects.get(pk=airbnb.pk)
    assert (stored.platform_listing_id, stored.refresh_token) == ("AIR-9", "airbnb-refresh-2")


# --- a booking import under way while the mapping changes ------------------------------------------------


def _airbnb_booking(day, code: str, *, listing: str, start=2, end=4, version=1) -> BookingData:
    return BookingData(
        platform="airbnb",
        channel_booking_id=code,
        listing_id=listing,
        status=BookingStatus.CONFIRMED,
        check_in=day(start),
        check_out=day(end),
        guest=Guest(name="Greta Gast", email="greta@example.test"),
        guests_count=2,
        total_amount=Decimal("480.00"),
        currency="EUR",
        version=f"{version:010d}",
    )


def test_a_booking_of_the_old_listing_imported_after_a_remap_closes_its_nights_on_the_new_listing(
    airbnb, fewo, unit, day
):
    """Used to fail. A booking made on the old Airbnb listing AIR-1 is being imported (its webhook stored while
    AIR-1 was mapped; the import retries with backoff) when staff re-map the connection to AIR-9, and the
    re-map's full push has already read the nights. The import then commits; ``outbox_event_apply`` skips
    every Airbnb connection for ``booking.confirmed`` from Airbnb (``ORIGIN_KNOWS``: "that platform already
    has it"), but it is AIR-1 that has it: AIR-9, the unit's listing now, keeps those nights open for good.
    A double sale on Airbnb itself."""
    booking_in_flight = _airbnb_booking(day, "HM1", listing="AIR-1")
    _remap(airbnb, "AIR-9")
    listings = Listings()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.PUT, AIRBNB_CALENDAR, callback=listings.airbnb_calendar)
        http.add_callback(responses.PUT, AIRBNB_PRICING, callback=listings.airbnb_pricing)
        _push_everything_due(airbnb)  # the re-map's full window, read before the import commits
        assert listings.night("AIR-9", day(2)) == "AVAILABLE"

        before = OutboxEvent.objects.count()
        booking, _action = booking_import(
            connection=ChannelConnection.objects.get(pk=airbnb.pk), data=booking_in_flight
        )
        assert booking.status == Booking.Status.CONFIRMED and booking.unit_id == unit.pk
        for event in OutboxEvent.objects.order_by("pk")[before:]:
            outbox_event_apply(event=event)
        _push_everything_due(airbnb)

    assert listings.night("AIR-9", day(2)) == "UNAVAILABLE", (
        "AIR-9 still sells a night the AIR-1 guest holds: the close-out skipped the re-mapped Airbnb connection"
    )


def _airbnb_webhook(code: str, *, type_: str, version: int, listing: str) -> InboundEvent:
    from adapters.airbnb.adapter import AirbnbAdapter

    body = json.dumps(
        {
            "event_id": f"evt-{code}-{version}",
            "type": type_,
            "listing_id": listing,
            "confirmation_code": code,
            "version": version,
            "occurred_at": "2027-06-01T12:00:00Z",
        }
    ).encode()
    (note,) = AirbnbAdapter.parse_webhook(headers={}, body=body)
    event, _created = inbound_event_store(notification=note, correlation_id=f"{code}-{version}")
    return event


def _airbnb_reservation(day, code: str, *, listing: str, start: int, end: int, version: int) -> dict:
    return {
        "reservation": {
            "confirmation_code": code,
            "listing_id": listing,
            "status": "accepted",
            "start_date": day(start).isoformat(),
            "end_date": day(end).isoformat(),
            "guest": {"first_name": "Greta", "last_name": "Gast", "email": "greta@example.test", "phone": "+49 30 1"},
            "number_of_guests": 2,
            "total_price": "480.00",
            "currency": "EUR",
            "updated_at": "2027-06-01T12:00:00Z",
            "version": version,
        }
    }


def test_a_date_change_of_a_stay_we_hold_from_the_old_listing_is_applied_after_a_remap(airbnb, unit, day):
    """Used to fail. HM1 was booked on AIR-1 and imported; staff then re-map the connection to AIR-9 (the listing
    was re-created on Airbnb). The guest's stay is still real and Airbnb still reports its changes, naming
    AIR-1: an alteration to nights 10..12 is stored ``ignored: no connection for listing 'AIR-1'``, though
    we hold HM1 on this unit. The PMS keeps the old nights closed and leaves the new ones open on every
    platform: a double sale. ``connection_for_listing`` falls back to the unit already holding the booking
    only for hotels (room types), not for a plain listing."""
    booking_import(connection=airbnb, data=_airbnb_booking(day, "HM1", listing="AIR-1"))
    _remap(airbnb, "AIR-9")

    event = _airbnb_webhook("HM1", type_="reservation.updated", version=2, listing="AIR-1")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.get(
            f"{AIRBNB_BASE}/v2/reservations/HM1",
            json=_airbnb_reservation(day, "HM1", listing="AIR-1", start=10, end=12, version=2),
        )
        outcome = inbound_event_process(event_id=event.pk)

    booking = Booking.objects.get(channel_booking_id="HM1")
    assert (booking.check_in, booking.check_out) == (day(10), day(12)), (
        f"the alteration was dropped ({outcome}: {InboundEvent.objects.get(pk=event.pk).error!r})"
    )


# --- 3: deleting / re-connecting loses nothing and leaves nothing erroring --------------------------------


def test_a_deleted_connection_with_dirty_ranges_is_neither_swept_nor_pushed(fewo, unit, day):
    """Invariant 3. Its waiting ranges never go out and never error: the sweep ignores them
    and a push message still queued for it ends as skipped, with no request."""
    mark_dirty(connection=fewo, kinds=[AVAILABILITY, PRICING], start=day(1), end=day(6), schedule=False)
    DirtyRange.objects.update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    connection_delete(connection=fewo)

    with responses.RequestsMock() as http:  # any request would fail the test
        assert push_sweep(older_than_seconds=0) == 0
        assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "skipped"
        assert push_drain(kind=PRICING, connection_ids=[fewo.pk]).pushed == []
        assert len(http.calls) == 0


def test_a_connection_deleted_while_its_push_is_in_flight_stays_deleted_and_leaves_nothing_due(fewo, unit, day):
    """Invariant 3. The push's request is refused for good after staff deleted the
    connection: the connection is not brought back as ``needs_attention``, and nothing is pushed again."""
    mark_dirty(connection=fewo, kinds=[AVAILABILITY], start=day(1), end=day(6), schedule=False)

    def refused(request):
        connection_delete(connection=ChannelConnection.objects.get(pk=fewo.pk))
        return 404, {}, json.dumps({"errors": [{"code": "NOT_FOUND", "message": "no such listing"}]})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.PUT, FEWO_AVAIL, callback=refused)
        with pytest.raises(Exception):  # noqa: B017 (the permanent refusal, raised to the actor)
            push_connection(connection_id=fewo.pk, kind=AVAILABILITY)
        assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "skipped"
        assert push_sweep(older_than_seconds=0) == 0
        assert len(http.calls) == 1
    assert ChannelConnection.objects.get(pk=fewo.pk).status == ChannelConnection.Status.DELETED


def test_a_remap_while_paused_is_pushed_whole_on_resume_not_to_the_old_listing(fewo, unit, day):
    """Re-mapped while paused: nothing goes out meanwhile; the resume's full sync sends every held
    night to the new listing, and nothing to the old one."""
    from channelmgr.services.connections import connection_pause, connection_resume

    booking_create(unit=unit, check_in=day(2), check_out=day(4))
    connection_pause(connection=fewo)
    _remap(fewo, "L-9")
    listings = Listings()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        _fewo_platform(http, listings)
        assert push_connection(connection_id=fewo.pk, kind=AVAILABILITY).status == "skipped"
        connection_resume(connection=ChannelConnection.objects.get(pk=fewo.pk))
        _push_everything_due(fewo)

    assert listings.night("L-9", day(2)) == "UNAVAILABLE" and listings.night("L-9", day(1)) == "AVAILABLE"
    assert all(listing == "L-9" for listing, _what in listings.calls)


def test_a_webhook_booking_whose_connection_was_re_created_before_its_import_ran_is_imported(airbnb, unit, day):
    """Used to fail. The webhook for HM1 was stored (and answered 2xx: Airbnb never sends it again) against
    connection A; its import is retrying (the fetch failed: expired credentials, Airbnb down). Staff fix the
    connection the way the API allows, delete it and connect the same listing again (connection B). The
    retry loads the event, sees ``event.connection`` deleted and marks it ``ignored: no live connection``,
    though B is live for that very listing. The guest's booking is never imported: its nights stay open on
    every other platform. Broken invariant 3."""
    event = _airbnb_webhook("HM1", type_="reservation.created", version=1, listing="AIR-1")
    assert event.connection_id == airbnb.pk and event.status == InboundEvent.Status.RECEIVED

    connection_delete(connection=airbnb)
    again = connection_create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="airbnb",
        platform_listing_id="AIR-1",
        credentials={"access_token": "airbnb-access-2", "refresh_token": "airbnb-refresh-2"},
        token_expires_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
    )
    reservation = _airbnb_reservation(day, "HM1", listing="AIR-1", start=2, end=4, version=1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=reservation)
        outcome = inbound_event_process(event_id=event.pk)

    assert Booking.objects.filter(channel_booking_id="HM1", unit=unit).exists(), (
        f"the reported booking was dropped ({outcome}: {InboundEvent.objects.get(pk=event.pk).error!r}) "
        f"though connection {again.pk} holds AIR-1"
    )


def test_re_connecting_the_same_ical_feed_lets_its_removals_release_the_nights(connect_ical, unit, day):
    """Used to fail. An iCal feed's blocks are keyed by the connection's id (``BookingIdScope.CONNECTION``). Staff
    delete the feed's connection and connect the same feed again: its blocks are imported a second time under
    the new id, on top of the old ones (stored ``overbooked``: a phantom overbooking for staff), and when
    the host later frees the nights the feed drops the event, the new block is cancelled but the old one,
    which no live connection reads any more, keeps the nights closed on every platform for good."""
    first = connect_ical()
    ical_snapshot_import(connection=first, page=_feed(_ical_event(day, "a1", 2, 4)))
    connection_delete(connection=first)
    second = connect_ical()

    ical_snapshot_import(connection=second, page=_feed(_ical_event(day, "a1", 2, 4)))
    ical_snapshot_import(connection=second, page=_feed())  # the host freed the nights; hold or not ...
    ical_snapshot_import(connection=second, page=_feed())  # ... the next poll confirms the removal

    holding = Booking.objects.active().filter(unit=unit, check_in__lt=day(4), check_out__gt=day(2))
    assert not holding.exists(), f"nights still held by {list(holding.values_list('channel_booking_id', 'status'))}"


@pytest.fixture
def connect_ical(unit):
    def make() -> ChannelConnection:
        return ChannelConnection.objects.create(
            organization=unit.property.organization,
            unit=unit,
            platform_type="ical",
            platform_listing_id="listing-1",
            feed_url="https://feeds.example.test/listing-1.ics",
        )

    return make


def _ical_event(day, uid, start, end) -> BookingData:
    return BookingData(
        platform="ical",
        channel_booking_id=uid,
        listing_id="listing-1",
        status=BookingStatus.CONFIRMED,
        check_in=day(start),
        check_out=day(end),
        version="0000000000-20270601T120000Z",
        raw_status="Reserved",
        kind="block",
    )


def _feed(*events) -> BookingPage:
    return BookingPage(bookings=tuple(events), cursor=None, is_snapshot=True)


# --- 4: two connections on one listing ------------------------------------------------------------------


def test_two_live_connections_cannot_hold_one_listing_even_by_a_remap(fewo, unit, day):
    """Invariant 4. Re-mapping another unit's connection onto a listing already held is
    refused, by the service and by the database."""
    from django.core.exceptions import ValidationError

    from pms_core.models import Unit

    annex = Unit.objects.create(property=unit.property, name="Annex", base_price=Decimal("90.00"))
    other = ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=annex,
        platform_type="fewo_direkt",
        platform_listing_id="L-1",
        api_key="fewo-key",
    )
    with pytest.raises(ValidationError):
        _remap(other, "L-0")
    other.refresh_from_db()
    assert other.platform_listing_id == "L-1"
