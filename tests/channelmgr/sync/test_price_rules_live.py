"""Per-channel price rules against the live sandbox, across every platform that takes per-night prices:
each platform holds the PMS price through its own connection's rule, to the cent, and no other's.

The platforms come from ``tests/adapters/test_contract.py``'s pinned table (what each platform is
expected to do), not from what an adapter says of itself, so a platform that stopped taking prices
fails here instead of dropping out.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from adapters.base import Capability
from channelmgr.models import ChannelConnection
from channelmgr.price_rules import PriceRule, channel_price, rule_of
from channelmgr.services.connections import connection_update
from pms_core.services import calendar_set_prices
from testkit import push_platforms, wait_for
from tests.adapters.test_contract import EXPECTED_CAPABILITIES

from .conftest import platform_calendar, platform_stats

PRICED = sorted(slug for slug, can in EXPECTED_CAPABILITIES.items() if Capability.PUSH_PRICING in can)
# Every rounding, a discount and a fixed amount appear among the platforms.
RULES = [
    PriceRule(percent=Decimal(15), rounding="x9"),
    PriceRule(percent=Decimal("-7.5"), rounding="x99"),
    PriceRule(amount=Decimal("12.50"), rounding="whole"),
    PriceRule(percent=Decimal("3.333"), amount=Decimal(-4)),
    PriceRule(),
]
PRICES = [Decimal("150.00"), Decimal("99.95"), Decimal("180.40"), Decimal("180.40"), Decimal("61.00")]


def test_every_platform_expected_to_take_prices_is_connected_in_the_live_fixture():
    assert PRICED and set(PRICED) <= set(push_platforms())


@pytest.mark.django_db(transaction=True)
def test_each_platform_receives_the_price_through_its_own_rule(sandbox, connected_unit, worker):
    unit = connected_unit
    rules = dict(zip(PRICED, itertools.cycle(RULES), strict=False))
    for slug, rule in rules.items():
        connection = ChannelConnection.objects.get(unit=unit, platform_type=slug)
        connection_update(
            connection=connection,
            price_rule_percent=rule.percent,
            price_rule_amount=rule.amount,
            price_rule_rounding=rule.rounding,
        )
    start = dt.date.today() + dt.timedelta(days=20)
    for offset, price in enumerate(PRICES):
        night = start + dt.timedelta(days=offset)
        calendar_set_prices(unit=unit, start=night, end=night + dt.timedelta(days=1), price=price)
    end = start + dt.timedelta(days=len(PRICES))
    currency = unit.property.currency
    expected = {
        slug: [channel_price(rule_of(c), price, currency) for price in PRICES]
        for c in ChannelConnection.objects.filter(unit=unit, platform_type__in=PRICED)
        for slug in [c.platform_type]
    }

    def held() -> dict[str, list[Decimal | None]]:
        return {
            c.platform_type: [
                Decimal(d["price"]) if d.get("price") is not None else None
                for d in platform_calendar(sandbox, c.platform_type, c.platform_listing_id, start, end)
            ]
            for c in ChannelConnection.objects.filter(unit=unit, platform_type__in=PRICED)
        }

    assert wait_for(lambda: held() == expected, timeout=40), (held(), expected)
    # 150 EUR at +15% with x9 is 179 on the first platform; the rule-less one holds the PMS price.
    assert expected[PRICED[0]][0] == Decimal(179)
    for slug in PRICED:
        stats = platform_stats(sandbox, slug)
        assert stats["invalid_payloads"] == 0 and stats["rate_limit_violations"] == 0, (slug, stats)


def _reconcile(*args) -> str:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("reconcile", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_reconcile_compares_the_rates_a_platform_holds_with_the_rules_price(sandbox, connected_unit, worker):
    """Expedia answers which rates it holds (PARR): reconcile finds them in step with the rule's price,
    reports the nights that are not, and --fix pushes them again."""
    unit = connected_unit
    expedia = ChannelConnection.objects.get(unit=unit, platform_type="expedia")
    connection_update(connection=expedia, price_rule_percent=Decimal(15), price_rule_rounding="x9")
    start = dt.date.today() + dt.timedelta(days=30)
    end = start + dt.timedelta(days=3)
    calendar_set_prices(unit=unit, start=start, end=end, price=Decimal("150.00"))
    listing = expedia.platform_listing_id

    def held() -> list[str]:
        return [d["price"] for d in platform_calendar(sandbox, "expedia", listing, start, end)]

    assert wait_for(lambda: held() == ["179.00"] * 3, timeout=40), held()
    assert wait_for(lambda: "total drift: 0" in _reconcile("--days", "60"), timeout=30), _reconcile("--days", "60")

    # The rule changes behind the sync engine's back (no push): Expedia still holds 179.
    ChannelConnection.objects.filter(pk=expedia.pk).update(price_rule_rounding="x99")
    report = _reconcile("--days", "60")
    expedia_line = next(line for line in report.splitlines() if f"connection {expedia.pk}" in line)
    # The rule's first change pushed every night of the window, so all 60 compared nights now differ.
    assert "drift 60 - 60 night(s) priced differently" in expedia_line, report
    assert sum(" - in step" in line for line in report.splitlines()) == len(PRICED) - 1, report

    _reconcile("--days", "60", "--fix")
    assert wait_for(lambda: held() == ["172.99"] * 3, timeout=60), held()
    assert wait_for(lambda: "total drift: 0" in _reconcile("--days", "60"), timeout=60), _reconcile("--days", "60")
