"""The staff calendar marks a night with a maximum stay of its own as restricted, and its "why" panel
says the maximum, what each platform receives of it, and prices with the currency's decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from channelmgr.models import ChannelConnection
from pms_core.models import Property, Unit
from pms_core.services import calendar_set_prices, calendar_set_restrictions
from tests.channelmgr.admin.test_staff_calendar import _calendar, _cell_classes, _night, staff_alice  # noqa: F401


@pytest.fixture
def on_platforms(unit):
    org = unit.property.organization
    for slug, listing in (("airbnb", "ab-1"), ("expedia", "4711")):
        ChannelConnection.objects.create(organization=org, unit=unit, platform_type=slug, platform_listing_id=listing)


@pytest.mark.django_db
def test_a_night_with_its_own_max_stay_is_restricted_and_explained(client, staff_alice, unit, day, on_platforms):  # noqa: F811
    calendar_set_restrictions(unit=unit, start=day(3), end=day(4), max_stay=40)
    client.force_login(staff_alice)
    html = _calendar(client, unit.property, day(1)).content.decode()
    assert "restricted" in _cell_classes(html, day(3)) and "restricted" not in _cell_classes(html, day(2))
    text = _night(client, unit, day(3), fragment="1").content.decode()
    assert "max stay 40 nights" in text
    assert "max stay sent as 28 nights, its longest" in text  # Expedia's EQC ceiling
    assert "badge-open" in text


@pytest.mark.django_db
def test_the_why_panel_writes_yen_without_decimals(client, staff_alice, unit, day, on_platforms):  # noqa: F811
    Property.objects.filter(pk=unit.property_id).update(currency="JPY")
    Unit.objects.filter(pk=unit.pk).update(base_price=Decimal("15000"))
    calendar_set_prices(unit=Unit.objects.get(pk=unit.pk), start=day(3), end=day(4), price=Decimal("12000"))
    client.force_login(staff_alice)
    text = _night(client, unit, day(3), fragment="1").content.decode()
    assert "Price 12000 JPY" in text and "12000.000" not in text and "12000.00" not in text
