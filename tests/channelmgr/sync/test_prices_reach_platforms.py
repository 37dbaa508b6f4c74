"""Prices and restrictions reach the platforms: once the system is quiet, every active connection's
platform holds, for every night of its sync window, what the PMS holds (through the connection's price
rule and the platform's wire rules); a value no platform can take is refused where staff see it; nothing
the PMS changed is lost. Found in review (2026-12-04); each sequence here broke it once.

Each test drives the real path: PMS services record outbox events, ``consume_outbox_event`` turns them
into dirty ranges, ``push_connection`` pushes them through the adapter to a fake platform (``responses``)
that applies each request as it lands. "Quiet" (``settle``) is: every outbox event consumed, the
scheduler's window-edge job and sweep run, every connection pushed for both kinds, with the clock moved
past any later retry or stale claim; where asked, the daily ``reconcile --fix`` too.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import responses
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from lxml import etree

from adapters.base import PlatformAPIError
from channelmgr.models import ChannelConnection, DirtyRange, SyncLog
from channelmgr.services.connections import connection_update
from channelmgr.sync.outbound import mark_dirty, push_sweep
from channelmgr.sync.push import push_connection
from channelmgr.sync.reconcile import reconcile_connection
from channelmgr.sync.window import window_edges_mark
from channelmgr.tasks import consume_outbox_event
from pms_core.models import CalendarDay, OutboxEvent, Property, Unit
from pms_core.services import booking_create, calendar_set_prices
from pms_core.services.catalog import property_update

pytestmark = pytest.mark.django_db

AVAILABILITY, PRICING = DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING
WINDOW_DAYS = 30
# "Now" for every test: 2027-06-20, so day(1) = 2027-07-01 is inside a 30-night window ending 2027-07-20.
NOW = dt.datetime(2027, 6, 20, 10, 0, tzinfo=dt.UTC)

FEWO_AVAIL = re.compile(r".*/v1/listings/([^/]+)/availability$")
FEWO_RATES = re.compile(r".*/v1/listings/([^/]+)/rates$")
FEWO_RESERVATIONS = re.compile(r".*/v1/listings/([^/]+)/reservations.*$")
BDC_AVAIL = re.compile(r".*/hotels/ota/OTA_HotelAvailNotif$")
BDC_RATES = re.compile(r".*/hotels/ota/OTA_HotelRateAmountNotif$")
OTA = "http://www.opentravel.org/OTA/2003/05"
NS = {"ota": OTA}


def _ota_ok(root: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{OTA}" Version="1.000"><Success/></{root}>'


def _nights(first: str, last: str):
    """Inclusive wire range -> each night."""
    night, last_night = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    while night <= last_night:
        yield night
        night += dt.timedelta(days=1)


class FakePlatforms:
    """What the platforms hold, per (listing key, night), each request applied when it lands.

    FeWo-direkt: key = listing id. Booking.com: key = "hotel/room/rate plan". A night never written holds
    nothing (a listing's own default: open, no price of ours)."""

    def __init__(self):
        self.held: dict[tuple[str, dt.date], dict] = {}
        self.before_rates = None  # called once a FeWo-direkt rates request is on its way, before it lands
        # FeWo-direkt refuses for good (400) an availability request with a longer minimum stay than this.
        self.longest_min_stay: int | None = None
        self.refusals = 0

    def night(self, key: str, night: dt.date) -> dict:
        return self.held.get((key, night), {})

    # --- FeWo-direkt (JSON) ---
    def fewo_availability(self, request):
        listing = FEWO_AVAIL.match(request.url).group(1)
        entries = json.loads(request.body)["entries"]
        longest = self.longest_min_stay
        if longest is not None and any(e["minStay"] > longest for e in entries):
            self.refusals += 1
            return 400, {}, json.dumps({"errors": [{"code": "INVALID_VALUE", "message": f"minStay over {longest}"}]})
        for e in entries:
            for night in _nights(e["from"], e["to"]):
                self.held.setdefault((listing, night), {}).update(
                    status=e["status"],
                    min_stay=e["minStay"],
                    max_stay=e.get("maxStay"),
                    cta=not e["arrivalAllowed"],
                    ctd=not e["departureAllowed"],
                )
        return 200, {}, json.dumps({"accepted": len(entries)})

    def fewo_rates(self, request):
        if self.before_rates is not None:
            hook, self.before_rates = self.before_rates, None
            hook()
        listing = FEWO_RATES.match(request.url).group(1)
        body = json.loads(request.body)
        for e in body["entries"]:
            for night in _nights(e["from"], e["to"]):
                self.held.setdefault((listing, night), {}).update(price=e["nightlyRate"], currency=body["currency"])
        return 200, {}, json.dumps({"accepted": len(body["entries"])})

    # --- Booking.com (OTA XML) ---
    def bdc_rates(self, request):
        root = etree.fromstring(request.body)
        hotel = root.find("ota:RateAmountMessages", NS).get("HotelCode")
        for message in root.iterfind(".//ota:RateAmountMessage", NS):
            sac = message.find("ota:StatusApplicationControl", NS)
            amount = message.find(".//ota:BaseByGuestAmt", NS)
            key = f"{hotel}/{sac.get('InvTypeCode')}/{sac.get('RatePlanCode')}"
            for night in _nights(sac.get("Start"), sac.get("End")):
                self.held.setdefault((key, night), {}).update(
                    price=amount.get("AmountAfterTax"), currency=amount.get("CurrencyCode")
                )
        return 200, {}, _ota_ok("OTA_HotelRateAmountNotifRS")

    def bdc_availability(self, request):
        """Each availability message applied field by field (booking limit, min/max stay, stop-sell,
        CTA/CTD), with ``availability_written`` set on every night it names."""
        root = etree.fromstring(request.body)
        hotel = root.find("ota:AvailStatusMessages", NS).get("HotelCode")
        for message in root.iterfind(".//ota:AvailStatusMessage", NS):
            sac = message.find("ota:StatusApplicationControl", NS)
            key = f"{hotel}/{sac.get('InvTypeCode')}/{sac.get('RatePlanCode')}"
            values: dict = {"availability_written": True}
            if message.get("BookingLimit") is not None:
                values["booking_limit"] = int(message.get("BookingLimit"))
            for stay in message.iterfind("ota:LengthsOfStay/ota:LengthOfStay", NS):
                field = {"SetMinLOS": "min_stay", "SetMaxLOS": "max_stay"}[stay.get("MinMaxMessageType")]
                values[field] = int(stay.get("Time"))
            status = message.find("ota:RestrictionStatus", NS)
            if status is not None:
                field = {"Master": "stop_sell", "Arrival": "cta", "Departure": "ctd"}[status.get("Restriction")]
                values[field] = status.get("Status") == "Close"
            for night in _nights(sac.get("Start"), sac.get("End")):
                self.held.setdefault((key, night), {}).update(values)
        return 200, {}, _ota_ok("OTA_HotelAvailNotifRS")


@pytest.fixture
def clock():
    traveller = time_machine.travel(NOW, tick=False)
    coordinates = traveller.start()
    yield coordinates
    traveller.stop()


@pytest.fixture(autouse=True)
def _quick(settings, clock):
    settings.PUSH_DEBOUNCE_SECONDS = 0.0
    settings.SYNC_WINDOW_DAYS = WINDOW_DAYS
    cache.clear()


def fake_platform_routes(fake: FakePlatforms, http: responses.RequestsMock) -> None:
    """Route the platforms' requests that ``http`` sees to ``fake`` (the ``platforms`` fixture, and the
    state machine of ``test_prices_state_machine``)."""
    http.add_callback(responses.PUT, FEWO_AVAIL, callback=fake.fewo_availability)
    http.add_callback(responses.PUT, FEWO_RATES, callback=fake.fewo_rates)
    http.add(responses.GET, FEWO_RESERVATIONS, json={"items": [], "page": 1, "hasMore": False})
    http.add_callback(responses.POST, BDC_RATES, callback=fake.bdc_rates, content_type="application/xml")
    http.add_callback(responses.POST, BDC_AVAIL, callback=fake.bdc_availability, content_type="application/xml")
    fake.http = http


@pytest.fixture
def platforms():
    fake = FakePlatforms()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        fake_platform_routes(fake, http)
        yield fake


@pytest.fixture
def fewo(unit) -> ChannelConnection:
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="fewo_direkt",
        platform_listing_id="L-1",
        api_key="fewo-key",
        rate_limit=1000,
        rate_window=1.0,
    )


def settle(connections, clock, *, rounds: int = 4, reconcile: bool = False) -> None:
    """Let the system go quiet, as generously as the workers and the scheduler would."""
    for _ in range(rounds):
        for event_id in (
            OutboxEvent.objects.filter(consumed_at__isnull=True).order_by("pk").values_list("pk", flat=True)
        ):
            consume_outbox_event.fn(event_id)
        window_edges_mark()  # the scheduler's window_edges job
        push_sweep(older_than_seconds=0)  # the scheduler's sweep (its messages go nowhere here)
        for connection in connections:
            for kind in (AVAILABILITY, PRICING):
                try:
                    push_connection(connection_id=connection.pk, kind=kind)
                except Exception:  # the worker logs it and retries later
                    pass
        # Past any later re-push (late write, overlap) and any claim a dead push left (STALE_CLAIM).
        clock.shift(dt.timedelta(minutes=11))
    if reconcile:
        for connection in connections:
            reconcile_connection(connection=ChannelConnection.objects.get(pk=connection.pk), days=WINDOW_DAYS, fix=True)
        settle(connections, clock, rounds=rounds, reconcile=False)


# --- 1. a property's currency change ---------------------------------------------------------------


def test_a_change_of_the_propertys_currency_reaches_the_platform(unit, fewo, platforms, clock, day):
    """A night is priced 180.00 and pushed (FeWo-direkt holds 180.00 EUR); staff change the property's
    currency to CHF (``property_update``): every connection of its units re-prices its window, so the
    platform holds 180.00 CHF. (It used to keep 180.00 EUR for good: the change recorded no event.)"""
    calendar_set_prices(unit=unit, start=day(1), end=day(3), price=Decimal("180.00"))
    settle([fewo], clock)
    assert (platforms.night("L-1", day(1)).get("price"), platforms.night("L-1", day(1)).get("currency")) == (
        "180.00",
        "EUR",
    )

    property_update(prop=Property.objects.get(pk=unit.property_id), currency="CHF")
    settle([fewo], clock, reconcile=True)

    held = platforms.night("L-1", day(1))
    assert (held.get("price"), held.get("currency")) == ("180.00", "CHF"), held


def test_a_new_time_zone_pushes_the_night_that_became_today(unit, fewo, platforms, clock, day):
    """At 10:00 UTC on 2027-06-20 the Berlin property's today is the 20th; moved to Pago Pago (UTC-11) it
    is the 19th, a night never pushed (it was past): the new window goes out whole, that night with it.
    (Found by the pricing state machine: it used to stay as the platform had it, open at its own price.)"""
    settle([fewo], clock)
    assert platforms.night("L-1", dt.date(2027, 6, 19)) == {}

    property_update(prop=Property.objects.get(pk=unit.property_id), timezone="Pacific/Pago_Pago")
    settle([fewo], clock)

    held = platforms.night("L-1", dt.date(2027, 6, 19))
    assert (held.get("price"), held.get("status")) == ("150.00", "AVAILABLE"), held


# --- 2. a unit moved to another property --------------------------------------------------------------


def test_a_unit_moved_to_a_property_in_another_currency_is_repriced(unit, fewo, platforms, clock, day):
    """The unit's nights are pushed in EUR; staff move the unit in the admin to a property whose currency
    is GBP: the move goes through ``unit_update``, which re-prices the window, so the platform holds GBP.
    (The admin used to save the property alone, recording no event: the platform kept EUR.)"""
    from django.contrib import admin
    from django.forms.models import model_to_dict
    from django.test import RequestFactory

    from pms_core.models import User

    calendar_set_prices(unit=unit, start=day(1), end=day(2), price=Decimal("180.00"))
    settle([fewo], clock)
    assert (platforms.night("L-1", day(1)).get("price"), platforms.night("L-1", day(1)).get("currency")) == (
        "180.00",
        "EUR",
    )

    london = Property.objects.create(
        organization=unit.property.organization, name="London flat", timezone="Europe/Berlin", currency="GBP"
    )
    root = User.objects.create_superuser("root", password="root-pass-123", organization=unit.property.organization)
    request = RequestFactory().post("/admin/pms_core/unit/")
    request.user = root
    unit_admin = admin.site._registry[Unit]
    form_class = unit_admin.get_form(request, unit, change=True)
    data = {k: v for k, v in model_to_dict(unit, fields=list(form_class.base_fields)).items() if v is not None}
    data["property"] = london.pk
    form = form_class(data=data, instance=unit)
    assert form.is_valid(), form.errors
    unit_admin.save_model(request, form.save(commit=False), form, change=True)
    assert Unit.objects.get(pk=unit.pk).property_id == london.pk

    settle([fewo], clock, reconcile=True)
    held = platforms.night("L-1", day(1))
    assert (held.get("price"), held.get("currency")) == ("180.00", "GBP"), held


# --- 3. nights entering the sync window ---------------------------------------------------------------


def test_a_price_set_beyond_the_window_reaches_the_platform_once_its_night_enters_it(unit, fewo, platforms, clock, day):
    """A night 40 days ahead (outside the 30-night window) is priced 210.00; the push sends only the
    window. Weeks later the night enters the window and the scheduler's ``window_edges`` job marks it:
    the platform gets 210.00. (Nothing used to mark a night entering the window: it never got it.)"""
    far = day(40)  # 2027-08-09; the window ends 2027-07-20
    calendar_set_prices(unit=unit, start=far, end=far + dt.timedelta(days=1), price=Decimal("210.00"))
    settle([fewo], clock)
    assert platforms.night("L-1", far) == {}  # out of the window: rightly not pushed yet

    clock.shift(dt.timedelta(days=25))  # today 2027-07-15: the window now reaches 2027-08-14
    settle([fewo], clock, reconcile=True)

    held = platforms.night("L-1", far)
    assert held.get("price") == "210.00", held


def test_a_direct_stay_beyond_the_window_is_closed_once_its_nights_enter_it(unit, fewo, platforms, clock, day):
    """A direct booking 40-42 days ahead (outside the window): once its nights enter the window they go
    out closed. (They used to stay open on FeWo-direkt for good, free to be sold twice.)"""
    booking_create(unit=unit, check_in=day(40), check_out=day(43))
    settle([fewo], clock)
    clock.shift(dt.timedelta(days=25))
    settle([fewo], clock, reconcile=True)

    held = platforms.night("L-1", day(40))
    assert held.get("status") == "UNAVAILABLE", held


# --- 4. a price no platform can take ------------------------------------------------------------------


def test_a_zero_price_is_refused_when_set(unit, fewo, platforms, clock, day):
    """No platform takes a night for nothing: ``calendar_set`` refuses a zero price naming why, and the
    night priced with it goes out. (A zero used to be stored, and failed every push it travelled in.)"""
    with pytest.raises(ValidationError, match="more than 0"):
        calendar_set_prices(unit=unit, start=day(1), end=day(2), price=Decimal("0"))
    calendar_set_prices(unit=unit, start=day(5), end=day(6), price=Decimal("180.00"))
    settle([fewo], clock)

    assert platforms.night("L-1", day(5)).get("price") == "180.00"


def test_a_stored_zero_price_fails_its_push_visibly_and_gives_its_claim_back(unit, fewo, platforms, clock, day):
    """A zero price stored before prices had to be more than 0: the pricing push fails with a row and an
    error staff see, and its nights are dirty again (unclaimed) for the push after the fix. (It used to
    raise before its row was opened and keep its claim, silently, until the claim went stale, then fail
    the same way again.)"""
    settle([fewo], clock)
    CalendarDay.objects.create(unit=unit, date=day(1), price=Decimal("0"))
    mark_dirty(connection=fewo, kinds=[PRICING], start=day(1), end=day(2), schedule=False)

    with pytest.raises(PlatformAPIError, match="cannot send pricing"):
        push_connection(connection_id=fewo.pk, kind=PRICING)

    fewo.refresh_from_db()
    failed = SyncLog.objects.get(connection=fewo, kind=PRICING, status=SyncLog.Status.FAILED)
    assert "cannot send pricing" in failed.error and "cannot send pricing" in fewo.last_error
    assert DirtyRange.objects.filter(connection=fewo, kind=PRICING, claimed_by="").exists()
    assert fewo.status == ChannelConnection.Status.ACTIVE  # our data is wrong, not the connection: close-outs go on


# --- 5. the mapping changes -----------------------------------------------------------------------------


def test_a_new_rate_plan_mapping_receives_the_window(unit, platforms, clock, day):
    """A Booking.com connection (hotel H1, room R1, rate plan BAR) holds its prices; staff map it to rate
    plan NR (``connection_update``): NR receives the whole window, prices and availability. (Only a new
    price rule used to re-push; a new mapping marked nothing.)"""
    bdc = ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="booking_com",
        platform_listing_id="H1",
        platform_metadata={"room_id": "R1", "rate_plan_id": "BAR"},
        username="bdc-user",
        password="bdc-pass",
        rate_limit=500,
        rate_window=60.0,
    )
    calendar_set_prices(unit=unit, start=day(1), end=day(3), price=Decimal("180.00"))
    settle([bdc], clock)
    assert platforms.night("H1/R1/BAR", day(1)).get("price") == "180.00"

    bdc.refresh_from_db()  # as the API and the admin load it
    connection_update(connection=bdc, platform_metadata={"room_id": "R1", "rate_plan_id": "NR"})
    settle([bdc], clock)

    held = platforms.night("H1/R1/NR", day(1))
    assert held.get("price") == "180.00" and held.get("availability_written"), held


# --- pins -----------------------------------------------------------------------------------------


def test_a_rule_changed_while_a_price_push_is_in_flight_still_reaches_the_platform(unit, fewo, platforms, clock, day):
    """A price push has read the nights with the old rule (none) and its request
    is on the way when staff set +10%. The rule change marks the window dirty with rows the in-flight push
    did not claim, so the next push sends 165.00: nothing is lost."""
    calendar_set_prices(unit=unit, start=day(1), end=day(2), price=Decimal("150.00"))
    for event_id in OutboxEvent.objects.filter(consumed_at__isnull=True).values_list("pk", flat=True):
        consume_outbox_event.fn(event_id)
    platforms.before_rates = lambda: connection_update(
        connection=ChannelConnection.objects.get(pk=fewo.pk), price_rule_percent=Decimal(10)
    )
    assert push_connection(connection_id=fewo.pk, kind=PRICING).status == "success"
    assert platforms.night("L-1", day(1))["price"] == "150.00"  # the in-flight read
    settle([fewo], clock)
    assert platforms.night("L-1", day(1))["price"] == "165.00"


def test_a_base_price_change_reprices_the_whole_window_through_the_rule(unit, fewo, platforms, clock, day):
    """``unit_update(base_price=...)`` records a pricing event over the window, and the rule
    (+15%, x9) is applied per night: 200.00 -> 239 on the last night of the window."""
    from pms_core.services.catalog import unit_update

    connection_update(connection=fewo, price_rule_percent=Decimal(15), price_rule_rounding="x9")
    settle([fewo], clock)
    unit_update(unit=Unit.objects.get(pk=unit.pk), base_price=Decimal("200.00"))
    settle([fewo], clock)
    last = NOW.date() + dt.timedelta(days=WINDOW_DAYS - 1)
    assert platforms.night("L-1", last)["price"] == "239.00"
    assert platforms.night("L-1", NOW.date())["price"] == "239.00"
