"""The unit admin form refuses what the API refuses, on the field: a base price with more decimals than
the property's currency has, and a default max stay below the min stay. Nothing is saved."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from pms_core.models import Property, Unit


def _form(villa, **values):
    return {
        "property": villa.pk,
        "name": "Loft",
        "base_price": "100",
        "default_min_stay": "2",
        "default_max_stay": "",
        "max_guests": "4",
        **values,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("currency", "values", "field"),
    [
        ("JPY", {"base_price": "12000.50"}, "base_price"),
        ("EUR", {"base_price": "99.999"}, "base_price"),
        ("EUR", {"default_max_stay": "1"}, "default_max_stay"),
    ],
)
def test_the_unit_form_refuses_it_on_the_field(admin_client, villa, currency, values, field):
    Property.objects.filter(pk=villa.pk).update(currency=currency)
    answer = admin_client.post(reverse("admin:pms_core_unit_add"), _form(villa, **values))
    assert answer.status_code == 200  # the form again, with the error
    assert field in answer.context["adminform"].form.errors
    assert not Unit.objects.filter(name="Loft").exists()


@pytest.mark.django_db
def test_the_unit_form_saves_a_yen_price_and_a_max_stay(admin_client, villa):
    Property.objects.filter(pk=villa.pk).update(currency="JPY")
    answer = admin_client.post(
        reverse("admin:pms_core_unit_add"), _form(villa, base_price="12000", default_max_stay="14")
    )
    assert answer.status_code == 302, answer.content
    unit = Unit.objects.get(name="Loft")
    assert (unit.base_price, unit.default_max_stay) == (Decimal("12000"), 14)
