"""Maximum stay and money per currency through the whole outbound path against the live sandbox: set
through the API, pushed by the worker, held by every platform that carries them, enforced on a guest's
booking, and reconciled to zero drift. The iCal export carries no amounts at all."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from adapters.base import Capability
from adapters.registry import adapter_class
from channelmgr.models import ChannelConnection
from channelmgr.services.ical_export import ical_export_for
from pms_core.models import Booking, CalendarDay, Property, User
from testkit import push_platforms

from .conftest import platform_calendar, wait_for

MAX_STAY_PLATFORMS = [slug for slug in push_platforms() if Capability.PUSH_MAX_STAY in adapter_class(slug).capabilities]
PRICE_PLATFORMS = [slug for slug in push_platforms() if Capability.PUSH_PRICING in adapter_class(slug).capabilities]


def _start():
    return dt.date.today() + dt.timedelta(days=12)


def _api(unit) -> APIClient:
    user = User.objects.filter(username="owner").first() or User.objects.create_user(
        "owner", password="owner-pass-123", organization=unit.property.organization
    )
    client = APIClient()
    client.force_authenticate(user)
    return client


def _calendars(sandbox, unit, slugs, start, end):
    return {
        c.platform_type: platform_calendar(sandbox, c.platform_type, c.platform_listing_id, start, end)
        for c in ChannelConnection.objects.filter(unit=unit, platform_type__in=slugs)
    }


def _reconcile() -> str:
    out = StringIO()
    call_command("reconcile", "--days", "60", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_every_push_platform_declares_whether_it_carries_a_maximum_stay():
    # Pinned per platform in tests/adapters/test_contract.py; here: none of the pushing platforms lacks it.
    assert set(MAX_STAY_PLATFORMS) == {"airbnb", "booking_com", "expedia", "fewo_direkt", "google"}


@pytest.mark.django_db(transaction=True)
def test_a_max_stay_set_through_the_api_reaches_every_platform_and_bounds_a_guests_stay(
    sandbox, connected_unit, worker
):
    unit, start = connected_unit, _start()
    end = start + dt.timedelta(days=4)
    body = {"values": [{"unit": unit.pk, "start": str(start), "end": str(end), "min_stay": 2, "max_stay": 30}]}
    assert _api(unit).post("/calendar", body, format="json").status_code == 200
    expected = {slug: min(30, adapter_class(slug).max_stay_ceiling) for slug in MAX_STAY_PLATFORMS}

    def held_everywhere():
        calendars = _calendars(sandbox, unit, MAX_STAY_PLATFORMS, start, end)
        return all(days and all(d["max_stay"] == expected[slug] for d in days) for slug, days in calendars.items())

    assert wait_for(held_everywhere, timeout=30)
    assert wait_for(lambda: "total drift: 0" in _reconcile(), timeout=30)

    body = {"values": [{"unit": unit.pk, "start": str(start), "end": str(end), "max_stay": 3}]}
    assert _api(unit).post("/calendar", body, format="json").status_code == 200
    assert wait_for(
        lambda: all(
            days and all(d["max_stay"] == 3 for d in days)
            for days in _calendars(sandbox, unit, MAX_STAY_PLATFORMS, start, end).values()
        ),
        timeout=30,
    )
    # A guest on the platform cannot book past it; within it they can.
    airbnb = ChannelConnection.objects.get(unit=unit, platform_type="airbnb")
    stay = {"listing_id": airbnb.platform_listing_id, "guest_name": "Long Stayer", "total": "600.00"}
    too_long = {**stay, "check_in": str(start), "check_out": str(start + dt.timedelta(days=4))}
    refused = requests.post(f"{sandbox}/_control/airbnb/reservations", json=too_long, timeout=5)
    assert refused.status_code == 409 and "at most 3 nights" in refused.text
    fits = {**stay, "check_in": str(start), "check_out": str(start + dt.timedelta(days=3))}
    assert requests.post(f"{sandbox}/_control/airbnb/reservations", json=fits, timeout=5).status_code == 201


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("currency", "price", "wire"), [("JPY", "12000", "12000"), ("KWD", "12.345", "12.345")])
def test_prices_go_out_with_exactly_their_currencys_decimals(sandbox, connected_unit, worker, currency, price, wire):
    unit, start = connected_unit, _start()
    end = start + dt.timedelta(days=3)
    Property.objects.filter(pk=unit.property_id).update(currency=currency)
    api = _api(unit)
    refused = api.post(
        "/calendar",
        {"values": [{"unit": unit.pk, "start": str(start), "end": str(end), "price": "12000.0005"}]},
        format="json",
    )
    assert refused.status_code == 400 and "price" in refused.json()["fields"]["values"]["0"]
    if currency == "JPY":
        refused = api.post(
            "/calendar",
            {"values": [{"unit": unit.pk, "start": str(start), "end": str(end), "price": "12000.50"}]},
            format="json",
        )
        assert refused.status_code == 400 and "JPY" in str(refused.json()["fields"]["values"]["0"]["price"])
    assert not CalendarDay.objects.filter(unit=unit).exists()

    body = {"values": [{"unit": unit.pk, "start": str(start), "end": str(end), "price": price}]}
    assert api.post("/calendar", body, format="json").status_code == 200

    def priced_everywhere():
        calendars = _calendars(sandbox, unit, PRICE_PLATFORMS, start, end)
        return len(calendars) == len(PRICE_PLATFORMS) and all(
            days and all((d["price"], d["currency"]) == (wire, currency) for d in days) for days in calendars.values()
        )

    # The sandbox takes a price only with its currency's decimals, so "12000.00" would have been refused.
    assert wait_for(priced_everywhere, timeout=30)
    assert wait_for(lambda: "total drift: 0" in _reconcile(), timeout=30)


@pytest.mark.django_db(transaction=True)
def test_the_ical_export_carries_no_amounts(sandbox, connected_unit):
    unit, start = connected_unit, _start()
    Property.objects.filter(pk=unit.property_id).update(currency="JPY")
    Booking.objects.create(
        unit=unit, check_in=start, check_out=start + dt.timedelta(days=2), total_amount=Decimal("24000"), currency="JPY"
    )
    export = ical_export_for(unit)
    feed = Client().get(reverse("ical-export", kwargs={"token": export.token})).content.decode()
    assert "BEGIN:VEVENT" in feed
    assert "24000" not in feed and "JPY" not in feed  # neither the stay's total nor any currency


@pytest.mark.django_db(transaction=True)
def test_reconcile_reports_a_maximum_stay_changed_on_the_platform(sandbox, connected_unit, worker):
    """Expedia answers which maxLOS it holds (PARR): one changed there behind our back is drift."""
    from adapters.base import AvailabilityRange, AvailabilityUpdate, DayRange
    from channelmgr.accounts import account_for

    unit, start = connected_unit, _start()
    end = start + dt.timedelta(days=3)
    body = {"values": [{"unit": unit.pk, "start": str(start), "end": str(end), "max_stay": 7}]}
    assert _api(unit).post("/calendar", body, format="json").status_code == 200
    expedia = ChannelConnection.objects.get(unit=unit, platform_type="expedia")

    def held_on_expedia():
        days = _calendars(sandbox, unit, ["expedia"], start, end)["expedia"]
        return days and all(d["max_stay"] == 7 for d in days)

    assert wait_for(held_on_expedia, timeout=30)
    assert wait_for(lambda: "total drift: 0" in _reconcile(), timeout=30)

    # Someone sets another maximum on the extranet for one night.
    adapter = adapter_class("expedia")(account_for(expedia))
    night = DayRange(start + dt.timedelta(days=1), start + dt.timedelta(days=2))
    adapter.update_availability(
        AvailabilityUpdate(expedia.platform_listing_id, (AvailabilityRange(night, True, 2, max_stay=12),))
    )
    report = _reconcile()
    assert "1 night(s) with another maximum stay" in report and night.start.isoformat() in report
