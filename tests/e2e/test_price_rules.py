"""A per-channel price rule, end to end: 15% with x9 rounding on the Booking.com connection, set through
the API; a price changed through the API then reaches Booking.com marked up and every other platform as
it is, and reconcile finds no drift."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from testkit import wait_for
from testkit.stack import PLATFORMS

pytestmark = pytest.mark.e2e

RULED = "booking_com"
NO_RULE = {"price_rule_percent": None, "price_rule_amount": None, "price_rule_rounding": "none"}


def test_a_15_percent_x9_rule_on_booking_com_marks_up_only_its_prices_and_reconcile_finds_no_drift(e2e, nights):
    start, end = nights(8, length=4)
    connection = f"/channel-connections/{e2e.connection_id(RULED)}"
    answer = e2e.api("PATCH", connection, json={"price_rule_percent": "15", "price_rule_rounding": "x9"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["price_rule_percent"], answer.json()["price_rule_rounding"]) == ("15.000", "x9")
    try:
        answer = e2e.api(
            "POST",
            "/calendar",
            json={
                "values": [{"unit": e2e.unit_id, "start": start.isoformat(), "end": end.isoformat(), "price": "150.00"}]
            },
        )
        assert answer.status_code == 200, answer.text

        def prices(slug) -> list[Decimal]:
            return [Decimal(d["price"] or 0) for d in e2e.calendar(slug, start, end)]

        def priced() -> bool:
            # 150.00 * 1.15 = 172.50, up to the nearest whole amount ending in 9: 179.
            return prices(RULED) == [Decimal(179)] * 4 and all(
                prices(slug) == [Decimal("150.00")] * 4 for slug in PLATFORMS if slug != RULED
            )

        assert wait_for(priced, timeout=60, interval=0.5), {slug: prices(slug) for slug in PLATFORMS}
        # The rule changed every night Booking.com holds, not only the new price's: the default 150.00
        # outside the change is 179 there too.
        (after,) = e2e.calendar(RULED, end, end + dt.timedelta(days=1))
        assert Decimal(after["price"]) == Decimal(179), after
        assert wait_for(e2e.idle, timeout=120, interval=0.5), e2e.pending()

        result = e2e.manage("reconcile", "--days", "365", timeout=120, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        lines = [line for line in result.stdout.splitlines() if line.startswith("connection ")]
        assert len(lines) == len(PLATFORMS), result.stdout
        assert all(": drift 0 - in step" in line for line in lines), result.stdout
        assert "total drift: 0" in result.stdout, result.stdout
    finally:
        # Later tests expect every platform at the PMS price again.
        e2e.api("PATCH", connection, json=NO_RULE)
        assert wait_for(e2e.idle, timeout=120, interval=0.5), e2e.pending()
