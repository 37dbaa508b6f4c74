from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from pms_core.models import OutboxEvent, Property, Unit
from pms_core.services.catalog import unit_update


def test_alice_creates_a_property_and_a_unit_in_her_organization(alice_api, org_a):
    prop = alice_api.post("/properties", {"name": "Haus am See", "timezone": "Europe/Vienna"}, format="json")
    assert prop.status_code == 201
    assert Property.objects.get(pk=prop.json()["id"]).organization == org_a
    unit = alice_api.post(
        "/units", {"property": prop.json()["id"], "name": "Ground floor", "base_price": "99.50"}, format="json"
    )
    assert unit.status_code == 201
    assert unit.json()["currency"] == "EUR" and unit.json()["base_price"] == "99.50"


def test_a_bad_timezone_or_currency_is_a_400_naming_the_field(alice_api):
    answer = alice_api.post("/properties", {"name": "X", "timezone": "Mars/Olympus", "currency": "eur"}, format="json")
    assert answer.status_code == 400
    assert {"timezone", "currency"} <= set(answer.json()["fields"])
    assert not Property.objects.exists()


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posix/Europe/Berlin", "right/UTC"])
def test_a_zone_that_is_not_a_place_is_a_400(alice_api, zone):
    """Found in review (2026-12-06): "localtime" was accepted, a zone whose meaning is the server's own."""
    answer = alice_api.post("/properties", {"name": "X", "timezone": zone, "currency": "EUR"}, format="json")
    assert answer.status_code == 400 and "timezone" in answer.json()["fields"], answer.content
    assert not Property.objects.exists()


def test_units_are_listed_and_filtered_by_property(alice_api, unit, villa):
    assert alice_api.get("/units").json()["count"] == 1
    assert alice_api.get(f"/units?property={villa.pk}").json()["count"] == 1
    assert alice_api.get("/units?property=999999").json()["count"] == 0
    assert alice_api.get("/units?property=abc").status_code == 400


def test_a_new_base_price_is_announced_to_the_channels(alice_api, unit):
    answer = alice_api.patch(f"/units/{unit.pk}", {"base_price": "175.00"}, format="json")
    assert answer.status_code == 200
    assert Unit.objects.get(pk=unit.pk).base_price == Decimal("175.00")
    assert OutboxEvent.objects.filter(unit=unit, event_type="pricing.updated").exists()


def test_a_zero_base_price_is_refused(alice_api, unit):
    answer = alice_api.patch(f"/units/{unit.pk}", {"base_price": "0"}, format="json")
    assert answer.status_code == 400
    assert "more than 0" in str(answer.json()["fields"]["base_price"])
    with pytest.raises(ValidationError, match="more than 0"):
        unit_update(unit=unit, base_price=Decimal("0"))


def test_a_negative_price_or_zero_min_stay_is_refused(alice_api, unit):
    answer = alice_api.patch(f"/units/{unit.pk}", {"base_price": "-1", "default_min_stay": 0}, format="json")
    assert answer.status_code == 400
    assert {"base_price", "default_min_stay"} <= set(answer.json()["fields"])
