"""The price rule on the connection API and the admin form: readable, writable, refused with a 400 naming
the field (nothing saved) when it would give zero, negative or absurd prices, and a change pushes the
window's prices again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.price_rules import channel_price, rule_apply, rule_of
from pms_core.services import calendar_set_prices

pytestmark = pytest.mark.django_db


def _url(connection) -> str:
    return f"/channel-connections/{connection.pk}"


def test_a_new_connection_has_no_rule(alice_api, connection):
    body = alice_api.get(_url(connection)).json()
    assert (body["price_rule_percent"], body["price_rule_amount"], body["price_rule_rounding"]) == (None, None, "none")


def test_the_rule_is_written_and_read_back_and_its_change_marks_prices_dirty(alice_api, connection):
    DirtyRange.objects.all().delete()
    answer = alice_api.patch(
        _url(connection),
        {"price_rule_percent": "15", "price_rule_amount": "-2.50", "price_rule_rounding": "x9"},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["price_rule_percent"], body["price_rule_amount"], body["price_rule_rounding"]) == (
        "15.000",
        "-2.500",
        "x9",
    )
    stored = ChannelConnection.objects.get(pk=connection.pk)
    assert (stored.price_rule_percent, stored.price_rule_amount) == (Decimal(15), Decimal("-2.5"))
    dirty = DirtyRange.objects.filter(connection=connection)
    assert [row.kind for row in dirty] == [DirtyRange.Kind.PRICING]

    # The same rule again changes nothing, so nothing is pushed again.
    dirty.delete()
    assert alice_api.patch(_url(connection), {"price_rule_percent": "15.0"}, format="json").status_code == 200
    assert not DirtyRange.objects.exists()


def test_a_rule_is_set_when_the_connection_is_created(alice_api, villa):
    from pms_core.models import Unit

    other = Unit.objects.create(property=villa, name="Studio", base_price=Decimal("80.00"))
    answer = alice_api.post(
        "/channel-connections",
        {
            "unit": other.pk,
            "platform_type": "fewo_direkt",
            "platform_listing_id": "FW-9",
            "price_rule_percent": "12.5",
            "price_rule_rounding": "whole",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert (answer.json()["price_rule_percent"], answer.json()["price_rule_rounding"]) == ("12.500", "whole")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_rule_percent": "-100"}, "price_rule_percent"),
        ({"price_rule_percent": "10001"}, "price_rule_percent"),
        ({"price_rule_percent": "9901"}, "price_rule_percent"),  # 150 -> 15,001.50: above 100x
        ({"price_rule_amount": "-150"}, "price_rule_amount"),  # 150 -> 0
        ({"price_rule_amount": "-200"}, "price_rule_amount"),
        ({"price_rule_amount": "0.001"}, "price_rule_amount"),  # EUR has cents
        ({"price_rule_amount": "NaN"}, "price_rule_amount"),
        ({"price_rule_rounding": "x7"}, "price_rule_rounding"),
        ({"price_rule_percent": "1e400"}, "price_rule_percent"),
    ],
)
def test_a_rule_giving_zero_negative_or_absurd_prices_is_a_400_naming_the_field(alice_api, connection, body, field):
    before = ChannelConnection.objects.filter(pk=connection.pk).values().get()
    answer = alice_api.patch(_url(connection), body, format="json")
    assert answer.status_code == 400, answer.json()
    assert set(answer.json()["fields"]) == {field}
    assert ChannelConnection.objects.filter(pk=connection.pk).values().get() == before


def test_a_rule_is_checked_against_every_price_the_unit_has_from_today(alice_api, connection, unit):
    """The default is 150, one night costs 55: a 60 discount would price that night at -5."""
    import datetime as dt

    start = dt.date.today() + dt.timedelta(days=5)
    calendar_set_prices(unit=unit, start=start, end=start + dt.timedelta(days=1), price=Decimal(55))
    answer = alice_api.patch(_url(connection), {"price_rule_amount": "-60"}, format="json")
    assert answer.status_code == 400
    assert "55" in answer.json()["fields"]["price_rule_amount"][0]
    assert alice_api.patch(_url(connection), {"price_rule_amount": "-50"}, format="json").status_code == 200


def test_the_openapi_schema_documents_the_rule(alice_api):
    schema = alice_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for name in ("ConnectionOutput", "ConnectionCreateInputRequest", "PatchedConnectionUpdateInputRequest"):
        properties = schema["components"]["schemas"][name]["properties"]
        assert {"price_rule_percent", "price_rule_amount", "price_rule_rounding"} <= set(properties), name


# --- admin ---------------------------------------------------------------------------------------

INLINE = {
    "sync_logs-TOTAL_FORMS": "0",
    "sync_logs-INITIAL_FORMS": "0",
    "sync_logs-MIN_NUM_FORMS": "0",
    "sync_logs-MAX_NUM_FORMS": "0",
}


@pytest.fixture
def staff_client(client, org_a):
    from pms_core.models import User

    client.force_login(User.objects.create_superuser("staff", password="staff-pass-123", organization=org_a))
    return client


def _change(staff_client, connection, **rule):
    form = {"platform_listing_id": connection.platform_listing_id, "platform_metadata": "{}", **rule}
    return staff_client.post(f"/admin/channelmgr/channelconnection/{connection.pk}/change/", {**form, **INLINE})


def test_the_admin_form_sets_a_rule(staff_client, connection):
    answer = _change(staff_client, connection, price_rule_percent="15", price_rule_rounding="x9")
    assert answer.status_code == 302, answer.content.decode()[:3000]
    stored = ChannelConnection.objects.get(pk=connection.pk)
    assert (stored.price_rule_percent, stored.price_rule_rounding) == (Decimal(15), "x9")


def test_the_admin_form_refuses_an_absurd_rule_on_its_field(staff_client, connection):
    answer = _change(staff_client, connection, price_rule_amount="-150", price_rule_rounding="none")
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "zero or less" in page and "errorlist" in page
    assert ChannelConnection.objects.get(pk=connection.pk).price_rule_amount is None


# --- fuzzed through the API ------------------------------------------------------------------------

RULE_FIELDS = ("price_rule_percent", "price_rule_amount", "price_rule_rounding")
numbers = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-20_000, max_value=20_000).map(str),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["", "abc", "1e3", "-0", "NaN", "Infinity", "0.0001", "99999999999"]),
    st.none(),
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "price_rule_percent": numbers,
        "price_rule_amount": numbers,
        "price_rule_rounding": st.sampled_from(["none", "whole", "x9", "x99", "x7", "", None]),
    },
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_rule_sent_is_stored_exactly_and_sane_or_refused_naming_its_field_with_nothing_saved(
    alice_api, connection, body
):
    before = ChannelConnection.objects.filter(pk=connection.pk).values(*RULE_FIELDS).get()
    answer = alice_api.patch(_url(connection), body, format="json")
    after = ChannelConnection.objects.get(pk=connection.pk)
    assert answer.status_code in (200, 400), answer.content
    event(f"HTTP {answer.status_code}")
    if answer.status_code == 400:
        assert set(answer.json()["fields"]) <= set(body), answer.json()
        assert ChannelConnection.objects.filter(pk=connection.pk).values(*RULE_FIELDS).get() == before
        return
    for name in ("price_rule_percent", "price_rule_amount"):
        if name in body:
            sent = body[name]
            assert getattr(after, name) == (None if sent in (None, "") else Decimal(sent))  # "": cleared
    price = channel_price(rule_of(after), after.unit.base_price, "EUR")
    assert Decimal(0) < price <= after.unit.base_price * 100
    assert rule_apply(rule_of(after), after.unit.base_price, "EUR") == price  # the rule itself, not the fallback
