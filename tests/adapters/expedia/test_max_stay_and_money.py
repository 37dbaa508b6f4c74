"""Expedia EQC: the maximum stay goes out as Restrictions@maxLOS up to EQC's 28 and prices with exactly
their currency's decimals, in AR messages that validate against the official EQC schema."""

import pytest
from lxml import etree

from adapters.base import AvailabilityUpdate, PlatformAPIError, PricingUpdate
from tests.adapters.booking_com.shapes import avail, price
from tests.adapters.expedia.conftest import AR_SUCCESS, BASE

AR = f"{BASE}/eqc/ar"
NS = {"a": "http://www.expediaconnect.com/EQC/AR/2011/06"}


def test_max_stay_goes_out_as_max_los_capped_at_28_and_validates(adapter, http, schema):
    http.post(AR, body=AR_SUCCESS)
    asked = [1, 28, 30, None]
    adapter.update_availability(
        AvailabilityUpdate("3546", tuple(avail(2 * i, 2 * i + 2, max_stay=stay) for i, stay in enumerate(asked)))
    )
    doc = etree.fromstring(http.calls[0].request.body)
    xsd = schema("eqc_xsd/AvailRateUpdateRQ.xsd")
    assert xsd.validate(doc), xsd.error_log
    assert doc.xpath("//a:Restrictions/@maxLOS", namespaces=NS) == ["1", "28", "28", "28"]


@pytest.mark.parametrize(
    ("amount", "currency", "wire"), [("12000", "JPY", "12000"), ("99.5", "EUR", "99.50"), ("12.345", "KWD", "12.345")]
)
def test_prices_go_out_with_exactly_their_currencys_decimals_and_validate(
    adapter, http, schema, amount, currency, wire
):
    http.post(AR, body=AR_SUCCESS)
    adapter.update_pricing(PricingUpdate("3546", (price(0, 2, amount, currency),)))
    doc = etree.fromstring(http.calls[0].request.body)
    xsd = schema("eqc_xsd/AvailRateUpdateRQ.xsd")
    assert xsd.validate(doc), xsd.error_log
    assert doc.xpath("//a:PerDay/@rate", namespaces=NS) == [wire]


def test_yen_with_a_fraction_is_refused_before_any_request(adapter, http):
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_pricing(PricingUpdate("3546", (price(0, 2, "12000.50", "JPY"),)))
    assert caught.value.permanent and "JPY" in str(caught.value)
    assert len(http.calls) == 0
