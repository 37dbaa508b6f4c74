"""The quirky fixture feeds, served over HTTP by the live sandbox (``/_control/ical/feeds/<name>``)."""

import datetime as dt

import pytest
import requests

from adapters.base import Credentials, PlatformAccount, PlatformAPIError
from adapters.ical.adapter import IcalAdapter

from .conftest import FIXTURES


def served(sandbox, fixture_name, *, allow_private_network=True):
    name = fixture_name.removesuffix(".ics").replace("_", "-")
    body = (FIXTURES / fixture_name).read_bytes()
    response = requests.post(f"{sandbox}/_control/ical/feeds/{name}", data=body, timeout=10)
    assert response.status_code in (200, 201), response.text
    account = PlatformAccount(
        listing_id="unit-1",
        credentials=Credentials(feed_url=f"{sandbox}/ical/custom/{name}.ics"),
        base_url=f"{sandbox}/ical",
        allow_private_network=allow_private_network,
    )
    return IcalAdapter(account)


@pytest.mark.parametrize("fixture_name", ["folded_crlf.ics", "missing_dtend_lf.ics"])
def test_it_imports_a_quirky_feed_served_over_http(sandbox, fixture_name):
    page = served(sandbox, fixture_name).fetch_bookings()
    assert page.is_snapshot
    assert page.bookings
    assert all(b.kind == "block" and b.check_out > b.check_in for b in page.bookings)


def test_a_feed_missing_dtend_closes_one_night_over_http(sandbox):
    page = served(sandbox, "missing_dtend_lf.ics").fetch_bookings()
    by_uid = {b.channel_booking_id: b for b in page.bookings}
    assert (by_uid["no-dtend@tiny.test"].check_in, by_uid["no-dtend@tiny.test"].check_out) == (
        dt.date(2027, 3, 1),
        dt.date(2027, 3, 2),
    )
    assert "cancelled@tiny.test" not in by_uid


def test_the_sandbox_on_loopback_is_refused_without_the_private_network_switch(sandbox):
    adapter = served(sandbox, "folded_crlf.ics", allow_private_network=False)
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_bookings()
    assert caught.value.code == "refused_url"
