"""Prices and restrictions set in the PMS reach Airbnb, Expedia (EQC AR) and Google Vacation
Rentals (OTA ARI) exactly, and a night held by a stay is closed there.

Each test drives the real path (PMS services -> outbox -> dirty ranges -> ``push_connection`` -> adapter)
against fake platforms (``responses``) that parse and APPLY every request as it lands, keeping
night -> values per listing. What they hold afterwards is compared, night by night over the whole sync
window, with ``pms_core.selectors.calendar_nights`` through an expectation computed here (the price rule is
re-implemented below, not taken from ``channelmgr.price_rules``).

Wire rules (docs/platforms.md): Airbnb ``max_nights`` 1..1125, Expedia EQC ``minLOS``/``maxLOS`` 1..28,
Google ``SetMaxLOS`` up to 365; no platform is told a longer maximum than the PMS holds (MAX_STAY_NIGHTS,
365); a maximum unset or over the ceiling goes out as the ceiling.

Found in review (2026-12): the test whose docstring starts "Used to fail" failed before its fix.
"""

# The fixtures come from the module whose fake platforms' helpers this one shares.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import pytest
import responses
from django.conf import settings as django_settings
from lxml import etree

from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.services.connections import connection_update
from channelmgr.sync.outbound import push_sweep
from channelmgr.sync.push import push_connection
from channelmgr.sync.window import window_edges_mark
from channelmgr.tasks import consume_outbox_event
from pms_core.models import Booking, OutboxEvent, Property
from pms_core.selectors import calendar_nights
from pms_core.services import booking_cancel, booking_create, calendar_set_prices
from pms_core.services.calendar import calendar_set_restrictions
from tests.channelmgr.sync.test_prices_reach_platforms import (  # noqa: F401 (the clock and _quick fixtures)
    NOW,
    NS,
    OTA,
    WINDOW_DAYS,
    _nights,
    _ota_ok,
    _quick,
    clock,
)

pytestmark = pytest.mark.django_db

AVAILABILITY, PRICING = DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING
# NOW: Berlin's today is 2027-06-20; day(1) = 2027-07-01.
TODAY = NOW.date()
LAST = TODAY + dt.timedelta(days=WINDOW_DAYS - 1)  # the window's last night

AIRBNB_CAL = re.compile(r".*/v2/listings/([^/]+)/calendar$")
AIRBNB_PRICES = re.compile(r".*/v2/listings/([^/]+)/pricing$")
AIRBNB_RESERVATIONS = re.compile(r".*/v2/listings/([^/]+)/reservations.*$")
EQC_AR = re.compile(r".*/eqc/ar$")
GOOGLE_AVAIL = re.compile(r".*/ari/OTA_HotelAvailNotif$")
GOOGLE_RATES = re.compile(r".*/ari/OTA_HotelRateAmountNotif$")
AR_NS = {"ar": "http://www.expediaconnect.com/EQC/AR/2011/06"}

MINOR_UNITS = {"EUR": 2, "JPY": 0, "KWD": 3, "BHD": 3}
# Each platform's longest maximum stay (docs/platforms.md), then the PMS's own (MAX_STAY_NIGHTS).
CEILING = {"airbnb": 1125, "expedia": 28, "google": 365}


class FakePlatforms:
    """What Airbnb, Expedia and Google hold per (platform, listing key, night): each request applied field
    by field as it lands. A field a request leaves out keeps its earlier value (Airbnb ``max_nights``)."""

    def __init__(self):
        self.held: dict[tuple[str, str, dt.date], dict] = {}
        self.requests: list[tuple[str, str]] = []

    def night(self, platform: str, key: str, night: dt.date) -> dict:
        return self.held.get((platform, key, night), {})

    def _put(self, platform, key, night, **values):
        self.held.setdefault((platform, key, night), {}).update(values)

    # --- Airbnb (JSON) ---
    def airbnb_calendar(self, request):
        listing = AIRBNB_CAL.match(request.url).group(1)
        body = json.loads(request.body)
        self.requests.append(("airbnb", "calendar"))
        for r in body["ranges"]:
            values = {
                "sellable": r["available"],
                "min_stay": r["min_nights"],
                "cta": r["closed_to_arrival"],
                "ctd": r["closed_to_departure"],
            }
            if "max_nights" in r:
                assert 1 <= r["max_nights"] <= 1125, r
                values["max_stay"] = r["max_nights"]
            for night in _nights(r["start_date"], r["end_date"]):
                self._put("airbnb", listing, night, **values)
        return 200, {}, json.dumps({"updated_nights": 1})

    def airbnb_pricing(self, request):
        listing = AIRBNB_PRICES.match(request.url).group(1)
        body = json.loads(request.body)
        self.requests.append(("airbnb", "pricing"))
        for r in body["ranges"]:
            for night in _nights(r["start_date"], r["end_date"]):
                self._put("airbnb", listing, night, price=r["nightly_price"], currency=body["currency"])
        return 200, {}, json.dumps({"updated_nights": 1})

    # --- Expedia (EQC AR) ---
    def expedia_ar(self, request):
        root = etree.fromstring(request.body)
        hotel = root.find("ar:Hotel", AR_NS).get("id")
        self.requests.append(("expedia", "ar"))
        for update in root.iterfind("ar:AvailRateUpdate", AR_NS):
            rng = update.find("ar:DateRange", AR_NS)
            room = update.find("ar:RoomType", AR_NS)
            values: dict = {}
            if room.get("closed") is not None:
                values["room_closed"] = room.get("closed") == "true"
            inventory = room.find("ar:Inventory", AR_NS)
            if inventory is not None:
                values["inventory"] = int(inventory.get("totalInventoryAvailable"))
            for plan in room.iterfind("ar:RatePlan", AR_NS):
                if plan.get("closed") is not None:
                    values["plan_closed"] = plan.get("closed") == "true"
                rate = plan.find("ar:Rate", AR_NS)
                if rate is not None:
                    values["price"] = rate.find("ar:PerDay", AR_NS).get("rate")
                    values["currency"] = rate.get("currency")
                restrictions = plan.find("ar:Restrictions", AR_NS)
                if restrictions is not None:
                    for attr_name, field in (
                        ("minLOS", "min_stay"),
                        ("maxLOS", "max_stay"),
                        ("closedToArrival", "cta"),
                        ("closedToDeparture", "ctd"),
                    ):
                        value = restrictions.get(attr_name)
                        if value is None:
                            continue
                        if field in ("min_stay", "max_stay"):
                            assert 1 <= int(value) <= 28, (attr_name, value)
                            values[field] = int(value)
                        else:
                            values[field] = value == "true"
            key = f"{hotel}/{room.get('id')}"
            for night in _nights(rng.get("from"), rng.get("to")):
                self._put("expedia", key, night, **values)
        return (
            200,
            {},
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<AvailRateUpdateRS xmlns="http://www.expediaconnect.com/EQC/AR/2007/02"><Success/></AvailRateUpdateRS>',
        )

    # --- Google (OTA ARI) ---
    def google_rates(self, request):
        root = etree.fromstring(request.body)
        hotel = root.find("ota:RateAmountMessages", NS).get("HotelCode")
        self.requests.append(("google", "rates"))
        for message in root.iterfind(".//ota:RateAmountMessage", NS):
            sac = message.find("ota:StatusApplicationControl", NS)
            amount = message.find(".//ota:BaseByGuestAmt", NS)
            for night in _nights(sac.get("Start"), sac.get("End")):
                self._put(
                    "google",
                    hotel,
                    night,
                    price=amount.get("AmountAfterTax"),
                    currency=amount.get("CurrencyCode"),
                )
        return 200, {}, _ota_ok("OTA_HotelRateAmountNotifRS")

    def google_availability(self, request):
        root = etree.fromstring(request.body)
        hotel = root.find("ota:AvailStatusMessages", NS).get("HotelCode")
        self.requests.append(("google", "avail"))
        for message in root.iterfind(".//ota:AvailStatusMessage", NS):
            sac = message.find("ota:StatusApplicationControl", NS)
            values: dict = {}
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
                self._put("google", hotel, night, **values)
        return 200, {}, _ota_ok("OTA_HotelAvailNotifRS")


@pytest.fixture
def platforms():
    fake = FakePlatforms()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.PUT, AIRBNB_CAL, callback=fake.airbnb_calendar)
        http.add_callback(responses.PUT, AIRBNB_PRICES, callback=fake.airbnb_pricing)
        http.add(responses.GET, AIRBNB_RESERVATIONS, json={"reservations": [], "next_cursor": None})
        http.add_callback(responses.POST, EQC_AR, callback=fake.expedia_ar, content_type="text/xml")
        http.add_callback(responses.POST, GOOGLE_AVAIL, callback=fake.google_availability, content_type="text/xml")
        http.add_callback(responses.POST, GOOGLE_RATES, callback=fake.google_rates, content_type="text/xml")
        yield fake


def _connection(unit, platform, **extra) -> ChannelConnection:
    base = {
        "airbnb": {"platform_listing_id": "AB-1", "access_token": "tok-airbnb"},
        "expedia": {"platform_listing_id": "9101", "username": "sandbox-expedia", "password": "sandbox-expedia-pass"},
        "google": {"platform_listing_id": "gvr-1", "access_token": "tok-google"},
    }[platform]
    if platform != "expedia":
        base["token_expires_at"] = NOW + dt.timedelta(days=30)
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type=platform,
        rate_limit=1000,
        rate_window=1.0,
        **{**base, **extra},
    )


KEY = {"airbnb": "AB-1", "expedia": "9101/9101", "google": "gvr-1"}


@pytest.fixture
def three(unit):
    return {p: _connection(unit, p) for p in ("airbnb", "expedia", "google")}


def settle(connections, clock, rounds: int = 3) -> None:
    for _ in range(rounds):
        for event_id in (
            OutboxEvent.objects.filter(consumed_at__isnull=True).order_by("pk").values_list("pk", flat=True)
        ):
            consume_outbox_event.fn(event_id)
        window_edges_mark()
        push_sweep(older_than_seconds=0)
        for connection in connections:
            for kind in (AVAILABILITY, PRICING):
                push_connection(connection_id=connection.pk, kind=kind)  # a failure is a finding: raise
        clock.shift(dt.timedelta(minutes=11))


# --- the independent expectation -------------------------------------------------------------------


def expected_price(base: Decimal, currency: str, percent=0, amount=0, rounding="none") -> str:
    """The platform price of a PMS price, written with the currency's decimals (re-implemented)."""
    percent, amount = Decimal(str(percent)), Decimal(str(amount))
    q = Decimal(1).scaleb(-MINOR_UNITS[currency])
    p = base
    if percent or amount or rounding != "none":
        p = base * (1 + percent / 100) + amount
        if rounding == "whole":
            p = p.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        elif rounding == "x9":
            n = p.to_integral_value(rounding=ROUND_CEILING)
            while n % 10 != 9:
                n += 1
            p = n
        elif rounding == "x99":
            if q >= 1:
                n = p.to_integral_value(rounding=ROUND_CEILING)
                while n % 100 != 99:
                    n += 1
                p = n
            else:
                n = (p - Decimal("0.99")).to_integral_value(rounding=ROUND_CEILING)
                p = n + Decimal("0.99")
        else:
            p = p.quantize(q, rounding=ROUND_HALF_UP)
        if not (0 < p <= base * 100):
            p = base
    return str(p.quantize(q))


def expected(platform: str, night, currency: str, rule=None) -> dict:
    longest = min(night.max_stay or django_settings.MAX_STAY_NIGHTS, django_settings.MAX_STAY_NIGHTS)
    max_stay = min(longest, CEILING[platform])
    price = expected_price(night.price, currency, **(rule or {}))
    common = {
        "min_stay": night.min_stay,
        "max_stay": max_stay,
        "cta": night.closed_to_arrival,
        "ctd": night.closed_to_departure,
        "price": price,
        "currency": currency,
    }
    if platform == "airbnb":
        return {**common, "sellable": night.available and not night.stop_sell}
    if platform == "google":
        return {**common, "booking_limit": 1 if night.available else 0, "stop_sell": night.stop_sell}
    # Expedia. (A minimum stay over EQC's 28 is not expected here: see the last test.)
    assert night.min_stay <= 28, "min stays over 28 have their own test"
    return {**common, "inventory": 1 if night.available else 0, "room_closed": night.stop_sell}


def differences(unit, platforms, connections, rules=None, start=TODAY, end=LAST + dt.timedelta(days=1)):
    """Every (platform, night, field, held, PMS-expected) that differs over [start, end)."""
    currency = Property.objects.get(pk=unit.property_id).currency
    found = []
    for night in calendar_nights(unit=unit, start=start, end=end):
        for platform in connections:
            want = expected(platform, night, currency, (rules or {}).get(platform))
            held = platforms.night(platform, KEY[platform], night.date)
            for field, value in want.items():
                if held.get(field) != value:
                    found.append((platform, night.date.isoformat(), field, held.get(field), value))
    return found


def d(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


# --- pins: what reaches the three platforms ---------------------------------------------------------


def test_baseline_window_reaches_all_three(unit, three, platforms, clock):
    settle(three.values(), clock)
    assert differences(unit, platforms, three) == []


def test_a_restriction_changing_mid_range_and_single_nights(unit, three, platforms, clock):
    """A min stay that changes in the middle of a priced run, a single-night CTA, a single-night
    stop-sell, the window's first and last night each with a value of their own."""
    settle(three.values(), clock)
    calendar_set_prices(unit=unit, start=d(2), end=d(12), price=Decimal("180.00"))
    calendar_set_restrictions(unit=unit, start=d(5), end=d(8), min_stay=4)
    calendar_set_restrictions(unit=unit, start=d(6), end=d(7), closed_to_arrival=True)
    calendar_set_restrictions(unit=unit, start=d(9), end=d(10), stop_sell=True)
    calendar_set_restrictions(unit=unit, start=TODAY, end=d(1), closed_to_departure=True, min_stay=3)
    calendar_set_restrictions(unit=unit, start=LAST, end=LAST + dt.timedelta(days=1), max_stay=7, min_stay=5)
    calendar_set_prices(unit=unit, start=LAST, end=LAST + dt.timedelta(days=1), price=Decimal("199.99"))
    calendar_set_prices(unit=unit, start=TODAY, end=d(1), price=Decimal("99.50"))
    settle(three.values(), clock)
    assert differences(unit, platforms, three) == []


def test_max_stay_unset_vs_over_each_ceiling(unit, three, platforms, clock):
    """Unset -> each platform's ceiling, capped at the PMS's 365 (Airbnb 365, Expedia 28, Google 365);
    30 -> Expedia 28, others 30; 400 is refused by the PMS or capped; 10 -> 10 everywhere."""
    calendar_set_restrictions(unit=unit, start=d(3), end=d(5), max_stay=30)
    calendar_set_restrictions(unit=unit, start=d(5), end=d(6), max_stay=10)
    calendar_set_restrictions(unit=unit, start=d(6), end=d(7), max_stay=365)
    settle(three.values(), clock)
    assert platforms.night("airbnb", "AB-1", d(1))["max_stay"] == 365
    assert platforms.night("expedia", "9101/9101", d(3))["max_stay"] == 28
    assert platforms.night("google", "gvr-1", d(3))["max_stay"] == 30
    # then unset again: the ceiling replaces the earlier maximum
    calendar_set_restrictions(unit=unit, start=d(3), end=d(7), max_stay=None)
    settle(three.values(), clock)
    assert differences(unit, platforms, three) == []


def test_a_stay_closes_its_nights_while_neighbours_keep_cta_ctd(unit, three, platforms, clock):
    """CTA on the night before a stay and on its check-out night, CTD on its last night's neighbours,
    min stay on the stay's nights: the stay's nights go out closed, every restriction kept."""
    calendar_set_restrictions(unit=unit, start=d(3), end=d(4), closed_to_arrival=True, closed_to_departure=True)
    calendar_set_restrictions(unit=unit, start=d(4), end=d(7), min_stay=3, max_stay=14)
    calendar_set_restrictions(unit=unit, start=d(7), end=d(8), closed_to_arrival=True)
    calendar_set_restrictions(unit=unit, start=d(8), end=d(9), closed_to_departure=True, stop_sell=True)
    settle(three.values(), clock)
    booking_create(unit=unit, check_in=d(4), check_out=d(7), guest_name="Guest")
    settle(three.values(), clock)
    assert differences(unit, platforms, three) == []
    for n in (4, 5, 6):
        assert platforms.night("airbnb", "AB-1", d(n))["sellable"] is False
        assert platforms.night("expedia", "9101/9101", d(n))["inventory"] == 0
        assert platforms.night("google", "gvr-1", d(n))["booking_limit"] == 0


def test_a_cancellation_reopens_nights_with_their_restrictions(unit, three, platforms, clock):
    calendar_set_restrictions(unit=unit, start=d(4), end=d(6), min_stay=3, closed_to_arrival=True)
    calendar_set_restrictions(unit=unit, start=d(6), end=d(7), closed_to_departure=True, max_stay=20)
    booking = booking_create(unit=unit, check_in=d(4), check_out=d(8), guest_name="Guest")
    settle(three.values(), clock)
    assert platforms.night("google", "gvr-1", d(5))["booking_limit"] == 0
    booking_cancel(booking=Booking.objects.get(pk=booking.pk))
    settle(three.values(), clock)
    assert differences(unit, platforms, three) == []
    assert platforms.night("airbnb", "AB-1", d(5))["sellable"] is True
    assert platforms.night("expedia", "9101/9101", d(6))["ctd"] is True


def test_a_stay_on_the_windows_first_and_last_nights(unit, three, platforms, clock):
    booking_create(unit=unit, check_in=TODAY, check_out=d(1), guest_name="First")
    booking_create(unit=unit, check_in=LAST, check_out=LAST + dt.timedelta(days=2), guest_name="Last")
    settle(three.values(), clock)
    assert differences(unit, platforms, three) == []


@pytest.mark.parametrize(
    ("currency", "base", "rule"),
    [
        ("JPY", Decimal("12345"), {"percent": "12.5"}),
        ("JPY", Decimal("12345"), {"percent": "-7", "amount": "500", "rounding": "x99"}),
        ("JPY", Decimal("12001"), {"percent": "3", "rounding": "x9"}),
        ("JPY", Decimal("9999"), {"amount": "333", "rounding": "whole"}),
        ("KWD", Decimal("45.125"), {"percent": "12.5"}),
        ("KWD", Decimal("45.125"), {"percent": "10", "amount": "0.005", "rounding": "x99"}),
        ("KWD", Decimal("45.125"), {"percent": "3", "rounding": "whole"}),
        ("KWD", Decimal("45.125"), {"amount": "-0.001", "rounding": "x9"}),
    ],
)
def test_price_rule_in_zero_and_three_decimal_currencies(unit, three, platforms, clock, currency, base, rule):
    prop = Property.objects.get(pk=unit.property_id)
    prop.currency = currency
    prop.save(update_fields=["currency"])
    unit.base_price = base
    unit.save(update_fields=["base_price"])
    unit.refresh_from_db()
    rule_fields = {
        "price_rule_percent": Decimal(rule["percent"]) if "percent" in rule else None,
        "price_rule_amount": Decimal(rule["amount"]) if "amount" in rule else None,
        "price_rule_rounding": rule.get("rounding", "none"),
    }
    for connection in three.values():
        connection_update(connection=ChannelConnection.objects.get(pk=connection.pk), **rule_fields)
    odd = base + (Decimal("7") if currency == "JPY" else Decimal("0.007"))
    calendar_set_prices(unit=unit, start=d(3), end=d(4), price=odd)
    settle(three.values(), clock)
    assert differences(unit, platforms, three, rules={p: rule for p in three}) == []


def test_a_year_of_nights_each_different_reaches_all_three(unit, three, platforms, clock, settings):
    """365 nights, every night a different combination (min stay 1..28, max stay unset/10/30/400, CTA, CTD,
    stop-sell, price, stays every ~9 nights): more ranges than Airbnb's 100 and EQC's 200 per request,
    and more OTA messages than 1000 per request on Google."""
    settings.SYNC_WINDOW_DAYS = 365
    settle(three.values(), clock, rounds=1)
    today = dt.datetime.now(dt.UTC).date()
    for n in range(365):
        night = today + dt.timedelta(days=n)
        calendar_set_restrictions(
            unit=unit,
            start=night,
            end=night + dt.timedelta(days=1),
            min_stay=1 + (n * 7) % 28,
            max_stay=[None, 50, 60, 400][n % 4],
            closed_to_arrival=n % 3 == 0,
            closed_to_departure=n % 5 == 0,
            stop_sell=n % 11 == 0,
        )
    calendar_set_prices(unit=unit, start=today, end=today + dt.timedelta(days=365), price=Decimal("120.00"))
    for n in range(0, 365, 2):
        night = today + dt.timedelta(days=n)
        calendar_set_prices(unit=unit, start=night, end=night + dt.timedelta(days=1), price=Decimal(100 + n))
    for n in range(3, 360, 9):
        booking_create(unit=unit, check_in=today + dt.timedelta(days=n), check_out=today + dt.timedelta(days=n + 2))
    settle(three.values(), clock, rounds=1)
    found = differences(unit, platforms, three, start=today, end=today + dt.timedelta(days=365))
    assert found == [], found[:20]


def test_an_overbooked_import_keeps_its_nights_closed_when_the_first_stay_is_cancelled(unit, three, platforms, clock):
    """A direct stay d4-d8, then Google sells d6-d10 (imported overbooked), and staff block d10-d12 with a
    CTA on d12: the direct stay is cancelled. d4-d5 reopen everywhere (restrictions kept), d6-d11 stay
    closed on every platform (Google's own nights: not pushed to Google, which holds its booking)."""
    calendar_set_restrictions(unit=unit, start=d(4), end=d(13), min_stay=2, closed_to_arrival=False)
    calendar_set_restrictions(unit=unit, start=d(12), end=d(13), closed_to_arrival=True)
    direct = booking_create(unit=unit, check_in=d(4), check_out=d(8), guest_name="Direct")
    settle(three.values(), clock)
    booking_create(
        unit=unit,
        check_in=d(6),
        check_out=d(10),
        guest_name="Google guest",
        source="google",
        channel_booking_id="G-1",
        overbook_on_clash=True,
    )
    booking_create(unit=unit, check_in=d(10), check_out=d(12), kind=Booking.Kind.BLOCK)
    settle(three.values(), clock)
    booking_cancel(booking=Booking.objects.get(pk=direct.pk))
    settle(three.values(), clock)
    found = [
        f
        for f in differences(unit, platforms, three)
        if not (f[0] == "google" and d(6).isoformat() <= f[1] < d(10).isoformat())
    ]
    assert found == []
    for n in range(6, 12):
        assert platforms.night("airbnb", "AB-1", d(n))["sellable"] is False
        assert platforms.night("expedia", "9101/9101", d(n))["inventory"] == 0


def test_expedia_min_stay_over_28_closes_the_night_to_stays_passing_through(unit, three, platforms, clock):
    """Used to fail: a minimum stay over EQC's 28 (a monthly let's 30 on d10) was sent to Expedia as a closed
    room type (``RoomType closed="true"``, stop-sell) on that night, so Expedia held d10 closed while the PMS
    holds it open, not stop-sold, with min stay 30 only for stays *arriving* on d10 (min/max stay are by
    arrival night, as OTA LOS and Airbnb/Google take them). A guest arriving d9 for 3 nights (min stay 2
    there) passes through d10: every other platform sells that stay, Expedia refuses it. Lost sales on a
    night the PMS sells, and a stop-sell staff never set. No stay arriving on d10 can be sold on Expedia
    anyway (its maxLOS is at most 28 < 30), so the exact translation is closed to arrival on d10 with the
    room left open (adapters/expedia/eqc.py ``availability_updates``)."""
    calendar_set_restrictions(unit=unit, start=d(10), end=d(11), min_stay=30)
    settle(three.values(), clock)
    night = calendar_nights(unit=unit, start=d(10), end=d(11))[0]
    assert (night.available, night.stop_sell, night.min_stay) == (True, False, 30)  # the PMS sells through-stays
    assert platforms.night("airbnb", "AB-1", d(10))["sellable"] is True
    assert platforms.night("google", "gvr-1", d(10))["stop_sell"] is False
    held = platforms.night("expedia", "9101/9101", d(10))
    # Through-stays stay sellable: the room type is not closed; arrivals on d10 are (no Expedia stay meets 30).
    assert (held.get("room_closed"), held.get("inventory"), held.get("cta")) == (False, 1, True), held
