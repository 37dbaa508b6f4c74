"""The staff calendar's "why" panel shows, per platform, the night's base price, the connection's price
rule and what the platform receives."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from channelmgr.models import ChannelConnection
from channelmgr.staff_calendar.selectors import night_explanation
from pms_core.services import calendar_set_prices

from .test_staff_calendar import staff_alice  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced(unit, day):
    org = unit.property.organization
    calendar_set_prices(unit=unit, start=day(1), end=day(2), price=Decimal("150.00"))
    for slug, listing, rule in [
        ("booking_com", "bdc-1", {"price_rule_percent": Decimal(15), "price_rule_rounding": "x9"}),
        ("airbnb", "ab-1", {}),
        ("ical", "feed-1", {}),
    ]:
        ChannelConnection.objects.create(
            organization=org, unit=unit, platform_type=slug, platform_listing_id=listing, **rule
        )
    return day(1)


def test_each_platform_shows_what_it_receives_through_its_rule(unit, priced):
    explained = {p.connection.platform: p for p in night_explanation(unit=unit, date=priced).platforms}
    assert explained["booking_com"].price == Decimal(179)
    assert explained["booking_com"].price_rule == "+15%, up to a whole amount ending in 9"
    assert (explained["airbnb"].price, explained["airbnb"].price_rule) == (Decimal("150.00"), "none")
    assert explained["ical"].price is None  # a feed gets no prices


def test_the_panel_shows_base_rule_and_price_there(client, staff_alice, unit, priced):  # noqa: F811
    client.force_login(staff_alice)
    url = reverse("admin:pms_core_property_calendar_night", args=[unit.property_id, unit.pk, priced.isoformat()])
    html = client.get(url, {"fragment": "1"}).content.decode()
    row = re.search(r'data-platform="booking_com">(.*?)</tr>', html, re.S).group(1)
    cell = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", re.search(r'class="channel-price">(.*?)</td>', row, re.S).group(1))
    )
    there, base, rule = re.fullmatch(r"([\d.]+) EUR base ([\d.]+), rule (.+)", cell.strip()).groups()
    assert (Decimal(there), Decimal(base)) == (Decimal(179), Decimal(150))
    assert rule == "+15%, up to a whole amount ending in 9"
