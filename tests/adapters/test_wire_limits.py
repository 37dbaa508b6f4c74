"""Wire limits: every value the PMS accepts either reaches each platform in a form that platform takes and that
means the same thing, or is refused by the PMS up front with a clear message.

What the PMS takes is built through its own services (``calendar_set``, ``property_update``,
``connection_create``), turned into what a push sends by the push engine's own ``push_items``, and sent by
the adapters to the live sandbox (which validates every request against the platforms' published schemas
in ``../shared/reference``) or to ``responses`` with the reference XSD.

The tests under "Findings" were found in review (2026-12-04); each failed before its fix, and their
docstrings say what used to happen. The others pin a limit that was checked and holds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import itertools
import random
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.exceptions import ValidationError

from adapters.base import (
    AvailabilityRange,
    AvailabilityUpdate,
    Credentials,
    DayRange,
    PlatformAccount,
    PlatformAPIError,
    PriceRange,
    PricingUpdate,
)
from adapters.registry import adapter_class

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"
PUSH_SLUGS = ["airbnb", "booking_com", "expedia", "fewo_direkt", "google"]
SANDBOX_LOGIN = {
    "airbnb": (Credentials(), "sandbox-airbnb-client", "sandbox-airbnb-secret"),
    "fewo_direkt": (Credentials(api_key="sandbox-fewo-key"), "", ""),
    "booking_com": (Credentials(username="sandbox-booking", password="sandbox-booking-pass"), "", ""),
    "expedia": (Credentials(username="sandbox-expedia", password="sandbox-expedia-pass"), "", ""),
    "google": (Credentials(), "sandbox-google-client", "sandbox-google-secret"),
}
# Numeric (Expedia's Hotel@id is xs:int) and at most 16 characters (OTA HotelCode).
_listing_numbers = itertools.count(random.randint(10_000, 90_000) * 1000)


# --- helpers ------------------------------------------------------------------------------------


def sandbox_adapter(sandbox: str, slug: str):
    """(adapter, listing id) for a new listing of ``slug`` in the live sandbox, OAuth done as a person would."""
    listing = str(next(_listing_numbers))
    created = requests.post(f"{sandbox}/_control/{slug}/listings", json={"listing_id": listing}, timeout=10)
    assert created.status_code in (200, 201), created.text
    credentials, client_id, client_secret = SANDBOX_LOGIN[slug]
    account = PlatformAccount(
        listing_id=listing,
        credentials=credentials,
        base_url=f"{sandbox}/{slug}",
        oauth_client_id=client_id,
        oauth_client_secret=client_secret,
        allow_private_network=True,
    )
    cls = adapter_class(slug)
    if client_id:
        url = cls.authorize_url(base_url=account.base_url, client_id=client_id, redirect_uri=REDIRECT_URI, state="r")
        answer = requests.get(url, allow_redirects=False, timeout=10)
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        tokens = cls(account).exchange_code(code=code, redirect_uri=REDIRECT_URI)
        account = dataclasses.replace(
            account,
            credentials=dataclasses.replace(
                credentials,
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                access_token_expires_at=tokens.expires_at,
            ),
        )
    return cls(account), listing


def sandbox_calendar(sandbox: str, slug: str, listing: str, start: dt.date, end: dt.date) -> list[dict]:
    answer = requests.get(
        f"{sandbox}/_state/{slug}/listings/{listing}/calendar",
        params={"start": start.isoformat(), "end": end.isoformat()},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["days"]


def connect(org, unit, slug: str, listing: str, **price_rule):
    from channelmgr.services.connections import connection_create

    login = SANDBOX_LOGIN[slug][0]
    credentials = {"username": login.username, "password": login.password} if login.username else None
    return connection_create(
        organization=org,
        unit=unit,
        platform_type=slug,
        platform_listing_id=listing,
        credentials=credentials,
        **price_rule,
    )


def pushed(connection, kind: str, start: dt.date, end: dt.date) -> list:
    """What a push of ``kind`` sends to ``connection`` for ``[start, end)``: the push engine's own items."""
    from channelmgr.sync.push import push_items

    return push_items(connection, kind, [(start, end)])


def soon(unit, days: int = 10) -> dt.date:
    from pms_core.services.catalog import property_today

    return property_today(unit.property) + dt.timedelta(days=days)


# =================================================================================================
# Findings (each failed before its fix)
# =================================================================================================


@pytest.mark.django_db
def test_airbnb_is_never_told_a_longer_stay_than_the_pms_can_import(settings, org_a, unit, sandbox):
    """Found in review (this used to happen): The unit's default "no maximum stay" (and any max_stay
    366..1125, which the API and UNIT_BOUNDS take) goes to Airbnb as max_nights=1125, but the PMS holds stays of at most
    MAX_STAY_NIGHTS (365): a 400-night Airbnb stay is refused by the import, its nights stay open on every
    other platform, and they can be sold twice."""
    from channelmgr.inbound.importer import booking_import
    from channelmgr.models import DirtyRange
    from pms_core.models import Booking

    assert unit.default_max_stay is None  # the PMS default: no maximum
    adapter, listing = sandbox_adapter(sandbox, "airbnb")
    connection = connect(org_a, unit, "airbnb", listing)
    start = soon(unit)
    ranges = pushed(connection, DirtyRange.Kind.AVAILABILITY, start, start + dt.timedelta(days=5))
    adapter.update_availability(AvailabilityUpdate(listing, tuple(ranges)))
    told = sandbox_calendar(sandbox, "airbnb", listing, start, start + dt.timedelta(days=1))[0]["max_stay"]

    nights = settings.MAX_STAY_NIGHTS + 35
    booked = requests.post(
        f"{sandbox}/_control/airbnb/reservations",
        json={
            "listing_id": listing,
            "check_in": start.isoformat(),
            "check_out": (start + dt.timedelta(days=nights)).isoformat(),
            "guest_name": "Long Stayer",
            "total": "60000.00",
        },
        timeout=10,
    )
    if booked.status_code == 409:
        return  # Airbnb was told a maximum the PMS can hold: the guest could not book it there
    assert booked.status_code == 201, booked.text
    data = adapter.fetch_booking(booked.json()["id"])
    try:
        booking_import(connection=connection, data=data)
    except ValidationError as exc:
        pytest.fail(
            f"Airbnb was told max_nights={told} and sold a {nights}-night stay, which the PMS refuses to import "
            f"({'; '.join(exc.messages)}): its nights stay open on every other platform"
        )
    assert Booking.objects.filter(unit=unit, check_in=start).active().exists()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["booking_com", "expedia", "google"])
def test_a_currency_with_four_minor_units_reaches_ota_and_eqc(org_a, unit, sandbox, slug):
    """Found in review (this used to happen): The PMS takes CLF (and UYW), whose ISO 4217 minor unit is 4, as a property
    currency; a percentage price rule then makes prices with 4 decimals (10.01 CLF +15% = 11.5115), but
    OTA ``Money`` (ota/2015B/OTA_SimpleTypes.xsd) and EQC ``PerDay@rate`` (expedia/eqc_xsd/
    AvailRateUpdateRQ.xsd) allow at most 3 fraction digits: the platform refuses the push for good, the
    connection needs attention, and its availability pushes (close-outs) stop with it."""
    from channelmgr.models import DirtyRange
    from pms_core.services.catalog import property_update, unit_update

    unit_update(unit=unit, base_price=Decimal("10.01"))
    adapter, listing = sandbox_adapter(sandbox, slug)
    connection = connect(org_a, unit, slug, listing, price_rule_percent=Decimal(15))
    try:
        property_update(prop=unit.property, currency="CLF")
    except ValidationError:
        return  # refused up front: fine
    connection.refresh_from_db()
    start = soon(unit)
    ranges = pushed(connection, DirtyRange.Kind.PRICING, start, start + dt.timedelta(days=3))
    try:
        adapter.update_pricing(PricingUpdate(listing, tuple(ranges)))
    except PlatformAPIError as exc:
        pytest.fail(
            f"the PMS took CLF and the rule, then {slug} refused {[r.price_on_wire() for r in ranges]} "
            f"(permanent={exc.permanent}): {exc}"
        )


@pytest.mark.django_db
def test_a_currency_change_does_not_silently_round_a_price_rule_amount(org_a, unit):
    """Found in review (this used to happen): A rule of +5.50 per night is refused for a JPY unit when it is saved
    ("JPY has 0 decimals", price_rule_check), and property_update refuses a new currency that a unit's
    price does not fit; but it takes EUR -> JPY while a connection's rule adds 5.50, and the push then
    rounds it silently: 150 + 5.50 goes out as 156 JPY."""
    from channelmgr.models import DirtyRange
    from pms_core.services.catalog import property_update

    connection = connect(org_a, unit, "airbnb", "ab-review-1", price_rule_amount=Decimal("5.50"))
    try:
        property_update(prop=unit.property, currency="JPY")
    except ValidationError:
        return  # refused up front, as for a base price that does not fit: fine
    connection.refresh_from_db()
    start = soon(unit)
    sent = [r.price_on_wire() for r in pushed(connection, DirtyRange.Kind.PRICING, start, start + dt.timedelta(days=1))]
    pytest.fail(
        f"EUR -> JPY was accepted with a +{connection.price_rule_amount} rule the PMS would refuse for JPY; "
        f"the platform now receives {sent} JPY for a base of {unit.base_price} (the amount rounded behind "
        "everyone's back)"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("price", ["123456789", "123456789012"])
def test_the_calendar_service_refuses_a_price_the_calendar_cannot_hold(unit, org_a, price):
    """Found in review (this used to happen): ``calendar_set`` checks a price's decimals and sign but not its size: the
    column holds 8 digits before the point (the API's AmountField does refuse more). On SQLite (embedded
    mode) the value is stored, and every later read of that unit's nights fails with InvalidOperation,
    so no availability push (close-out) can be built for the unit on any platform; on Postgres the write
    fails with a database error instead of a ValidationError naming the field."""
    from channelmgr.models import DirtyRange
    from pms_core.services import calendar_set

    connection = connect(org_a, unit, "airbnb", "ab-review-2")
    start = soon(unit)
    try:
        calendar_set(unit=unit, start=start, end=start + dt.timedelta(days=1), price=Decimal(price))
    except ValidationError:
        return  # refused up front with a message naming the field: fine
    except Exception as exc:  # noqa: BLE001 - a database error is no clear refusal
        pytest.fail(f"price {price} was not refused with a ValidationError but failed with {exc!r}")
    try:
        pushed(connection, DirtyRange.Kind.AVAILABILITY, start, start + dt.timedelta(days=2))
    except decimal.InvalidOperation as exc:
        pytest.fail(
            f"calendar_set accepted price {price}; now the unit's availability push cannot even be built "
            f"({exc!r}): bookings made elsewhere no longer close its nights anywhere"
        )
    pytest.fail(f"calendar_set accepted price {price}, more digits than the calendar holds")


@pytest.mark.django_db
@pytest.mark.parametrize("min_stay", [366, 2000])
def test_the_calendar_service_bounds_min_stay_as_the_api_does(unit, min_stay):
    """Found in review (this used to happen): The API takes a night's min_stay of 1..365 and UNIT_BOUNDS the default of
    1..365 ("as the platforms take them"), but ``calendar_set`` takes any integer >= 1: 2000 reaches
    Airbnb as min_nights=2000 with max_nights=1125 and FeWo-direkt as minStay=2000 with maxStay=365 (a
    minimum above the maximum); above 32767 Postgres' smallint column fails the write with a database
    error."""
    from pms_core.services import calendar_set

    start = soon(unit)
    with pytest.raises(ValidationError) as refused:
        calendar_set(unit=unit, start=start, end=start + dt.timedelta(days=1), min_stay=min_stay)
    assert "min_stay" in refused.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("slug", PUSH_SLUGS)
def test_a_whole_sync_window_reaches_the_platforms_however_long_the_window(settings, org_a, unit, sandbox, slug):
    """The push sends a run of equal nights as one range, and every platform takes at most 1100 nights per
    range (docs/platforms.md "JSON writes"; the sandbox applies it to OTA and EQC ranges too). The longest
    window the settings take (1100 days; a longer one stops start-up, ``tests/config/test_settings.py``)
    goes out whole. (SYNC_WINDOW_DAYS used to take any number: at 1200 a plain calendar went out as one
    1200-night range, refused for good by every platform.)"""
    from channelmgr.accounts import sync_window
    from channelmgr.models import DirtyRange

    settings.SYNC_WINDOW_DAYS = 1100
    adapter, listing = sandbox_adapter(sandbox, slug)
    connection = connect(org_a, unit, slug, listing)
    start, end = sync_window(connection)
    ranges = pushed(connection, DirtyRange.Kind.AVAILABILITY, start, end)
    try:
        adapter.update_availability(AvailabilityUpdate(listing, tuple(ranges)))
    except PlatformAPIError as exc:
        longest = max(r.range.nights for r in ranges)
        pytest.fail(f"a {longest}-night range was refused by {slug} (permanent={exc.permanent}): {exc}")


# =================================================================================================
# Pinned limits (checked, and held before the review too)
# =================================================================================================


@pytest.mark.parametrize("slug", PUSH_SLUGS)
@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        # The largest price the API takes (8 digits before the point), times a price rule's MAX_FACTOR (100).
        ("9999999999.900", "KWD"),
        ("9999999900", "JPY"),
        ("9999999999.90", "EUR"),
        ("0.001", "KWD"),
        ("1", "JPY"),
    ],
)
def test_pinned_the_largest_and_smallest_prices_the_pms_can_send_are_taken(sandbox, slug, amount, currency):
    """PASSES. Ten digits before the point fit every platform (sandbox ``\\d{1,10}``, EQC totalDigits 16)."""
    adapter, listing = sandbox_adapter(sandbox, slug)
    start = dt.date.today() + dt.timedelta(days=10)
    adapter.update_pricing(
        PricingUpdate(listing, (PriceRange(DayRange(start, start + dt.timedelta(days=2)), Decimal(amount), currency),))
    )
    held = sandbox_calendar(sandbox, slug, listing, start, start + dt.timedelta(days=1))[0]
    assert (Decimal(held["price"]), held["currency"]) == (Decimal(amount), currency)


@pytest.mark.parametrize("slug", PUSH_SLUGS)
def test_pinned_the_longest_min_stay_the_api_takes_never_fails_a_push(sandbox, slug):
    """PASSES. min_stay 365 with no maximum: Expedia closes the nights to arrival (minLOS 28), Booking.com
    sends SetMaxLOS 90 (both known), nobody refuses the request."""
    adapter, listing = sandbox_adapter(sandbox, slug)
    start = dt.date.today() + dt.timedelta(days=10)
    item = AvailabilityRange(DayRange(start, start + dt.timedelta(days=3)), available=True, min_stay=365)
    adapter.update_availability(AvailabilityUpdate(listing, (item,)))
    held = sandbox_calendar(sandbox, slug, listing, start, start + dt.timedelta(days=1))[0]
    assert held["min_stay"] == 365 or (slug == "expedia" and held["closed_to_arrival"] and not held["stop_sell"])


@pytest.mark.django_db
def test_pinned_a_price_rule_never_gives_more_decimals_than_the_currency_for_two_and_three_digit_currencies(
    org_a, unit
):
    """PASSES. With EUR (2) and KWD (3) a rule's result is rounded to the currency's minor unit before it
    is sent, so the wire never carries more than OTA/EQC's 3 fraction digits."""
    from channelmgr.models import DirtyRange
    from pms_core.services.catalog import property_update, unit_update

    unit_update(unit=unit, base_price=Decimal("10.01"))
    connection = connect(org_a, unit, "booking_com", "4711", price_rule_percent=Decimal("15.333"))
    start = soon(unit)
    for currency in ("EUR", "KWD"):
        property_update(prop=unit.property, currency=currency)
        connection.refresh_from_db()
        wire = [r.price_on_wire() for r in pushed(connection, DirtyRange.Kind.PRICING, start, start + dt.timedelta(1))]
        assert all(len(w.partition(".")[2]) <= 3 for w in wire), wire
