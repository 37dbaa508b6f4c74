"""A mapping that the platform's schema would refuse is refused when the connection is saved.

Every limit an adapter declares (``mapping_rules``) is tried at, above and below its boundary, through
the connection API and through the admin form: a value inside the limit is saved; one outside is a 400
(or a form error) naming the field and the limit, and nothing is saved. A pinned table ties the
declarations to the numbers the platforms publish, and the OTA and EQC schemas in ``../shared/reference``
are read to confirm them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from adapters import registry
from adapters.base import MappingRule
from channelmgr.models import ChannelConnection
from channelmgr.services.mapping import settings_ignored
from tests.conftest import need_service

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
INLINE = {
    "sync_logs-TOTAL_FORMS": "0",
    "sync_logs-INITIAL_FORMS": "0",
    "sync_logs-MIN_NUM_FORMS": "0",
    "sync_logs-MAX_NUM_FORMS": "0",
}
# What each platform publishes (the numbers): (field, min length, max length, largest value).
PUBLISHED = {
    "booking_com": {("platform_listing_id", 1, 16, None), ("room_id", 1, 16, None), ("rate_plan_id", 1, 64, None)},
    "google": {("platform_listing_id", 1, 16, None), ("room_id", 1, 16, None), ("rate_plan_id", 1, 64, None)},
    "expedia": {
        ("platform_listing_id", 0, None, 2**31 - 1),
        ("room_id", 1, 50, None),
        ("rate_plan_id", 1, 50, None),
        ("username", 4, 30, None),
        ("password", 6, 30, None),
    },
    "airbnb": set(),
    "fewo_direkt": set(),
    "ical": set(),
}
# A mapping each platform accepts; a case changes one value of it.
VALID = {
    "booking_com": {"platform_listing_id": "BDC-HOTEL-1", "username": "bdc-user", "password": "bdc-password"},
    "google": {"platform_listing_id": "GVR-1"},
    "expedia": {"platform_listing_id": "3546", "username": "sandbox-expedia", "password": "sandbox-expedia-pass"},
}


@dataclass(frozen=True)
class Case:
    platform: str
    rule: MappingRule
    value: str
    accepted: bool
    limit: str  # what a refusal must name (a regular expression)

    @property
    def id(self) -> str:
        return (
            f"{self.platform}-{self.rule.field}-{len(self.value)}:{self.value[:12]}-{'ok' if self.accepted else 'no'}"
        )


def cases_of(platform: str, rule: MappingRule) -> list[Case]:
    def case(value, accepted, limit=""):
        return Case(platform, rule, value, accepted, limit)

    found = []
    if rule.max_length is not None:
        found += [case("A" * rule.max_length, True), case("A" * (rule.max_length + 1), False, str(rule.max_length))]
        found += [case("A" * (rule.max_length - 1), True)]
    if rule.min_length:
        found += [case("A" * rule.min_length, True)]
        # One short; an empty value is "required", "must not be empty" or (DRF's) "may not be blank".
        short = "A" * (rule.min_length - 1)
        found += [case(short, False, str(rule.min_length) if short else "required|empty|blank")]
    if rule.max_value is not None:
        found += [case(str(rule.max_value), True), case(str(rule.max_value + 1), False, str(rule.max_value))]
        found += [case(str(rule.max_value - 1), True), case("0", True)]
    if rule.pattern:
        found += [case("12a", False, rule.pattern)]
    return found


CASES = [
    case
    for platform in sorted(VALID)
    for rule in registry.adapter_class(platform).mapping_rules
    for case in cases_of(platform, rule)
]


def body_of(case: Case, unit) -> dict:
    body = {"unit": unit.pk, "platform_type": case.platform, "platform_metadata": {}, **VALID[case.platform]}
    if case.rule.in_metadata:
        body["platform_metadata"] = {case.rule.field: case.value}
    else:
        body[case.rule.field] = case.value
    return body


def error_field(case: Case) -> str:
    return "platform_metadata" if case.rule.in_metadata else case.rule.field


@pytest.fixture
def api(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=alice)[0].key}")
    return client


@pytest.fixture
def staff(client, org_a):
    from pms_core.models import User

    client.force_login(User.objects.create_superuser("staff", password="staff-pass-123", organization=org_a))
    return client


def test_the_declarations_match_what_the_platforms_publish():
    for platform, published in PUBLISHED.items():
        declared = {
            (r.field, r.min_length, r.max_length, r.max_value) for r in registry.adapter_class(platform).mapping_rules
        }
        assert declared == published, platform


def test_every_limit_has_cases_on_both_sides():
    for platform in VALID:
        for rule in registry.adapter_class(platform).mapping_rules:
            outcomes = {case.accepted for case in cases_of(platform, rule)}
            assert outcomes == {True, False}, (platform, rule.field)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_api_saves_a_value_inside_the_limit_and_refuses_one_outside(api, unit, case):
    answer = api.post("/channel-connections", body_of(case, unit), format="json")

    if case.accepted:
        assert answer.status_code == 201, answer.json()
        saved = ChannelConnection.objects.get()
        stored = saved.platform_metadata.get(case.rule.field) if case.rule.in_metadata else None
        assert stored == case.value if case.rule.in_metadata else getattr(saved, case.rule.field) == case.value
        return
    assert answer.status_code == 400, answer.json()
    messages = " ".join(answer.json()["fields"][error_field(case)])
    assert re.search(case.limit, messages), messages
    assert case.rule.field in messages or not case.rule.in_metadata, messages  # a metadata key is named
    assert not ChannelConnection.objects.exists()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_admin_form_saves_a_value_inside_the_limit_and_refuses_one_outside(staff, unit, case):
    body = body_of(case, unit)
    form = {name: value for name, value in body.items() if name in ("unit", "platform_type", "platform_listing_id")}
    form["platform_metadata"] = json.dumps(body["platform_metadata"])
    form.update({f"new_{name}": body[name] for name in ("username", "password") if name in body})

    answer = staff.post("/admin/channelmgr/channelconnection/add/", {**form, **INLINE})

    if case.accepted:
        assert answer.status_code == 302, _errors(answer)
        assert ChannelConnection.objects.count() == 1
        return
    assert answer.status_code == 200
    errors = _errors(answer)
    field = error_field(case)
    assert field in errors or f"new_{field}" in errors, errors
    shown = " ".join(errors.get(field) or errors[f"new_{field}"])
    assert re.search(case.limit, shown) and (case.rule.field in shown or not case.rule.in_metadata), shown
    assert not ChannelConnection.objects.exists()


def _errors(answer) -> dict:
    form = answer.context["adminform"].form if answer.context and "adminform" in answer.context else None
    return {name: list(errors) for name, errors in form.errors.items()} if form is not None else {}


def test_an_update_is_checked_the_same_way(api, unit):
    created = api.post(
        "/channel-connections", {"unit": unit.pk, "platform_type": "booking_com", **VALID["booking_com"]}, format="json"
    )
    pk = created.json()["id"]

    answer = api.patch(f"/channel-connections/{pk}", {"platform_metadata": {"room_id": "R" * 17}}, format="json")

    assert answer.status_code == 400
    assert "16" in str(answer.json()) and "room_id" in str(answer.json())
    assert ChannelConnection.objects.get(pk=pk).platform_metadata == {}


def test_a_required_credential_cannot_be_cleared(api, unit):
    created = api.post(
        "/channel-connections", {"unit": unit.pk, "platform_type": "expedia", **VALID["expedia"]}, format="json"
    )
    pk = created.json()["id"]

    answer = api.patch(f"/channel-connections/{pk}", {"password": ""}, format="json")

    assert answer.status_code == 400 and "password" in answer.json()["fields"]
    assert ChannelConnection.objects.get(pk=pk).password == "sandbox-expedia-pass"


def test_a_metadata_code_of_the_wrong_type_is_refused(api, unit):
    body = {
        "unit": unit.pk,
        "platform_type": "booking_com",
        **VALID["booking_com"],
        "platform_metadata": {"room_id": ["x"]},
    }

    answer = api.post("/channel-connections", body, format="json")

    assert answer.status_code == 400 and "room_id" in str(answer.json())
    assert not ChannelConnection.objects.exists()


# --- the published schemas say the same ----------------------------------------------------------


@pytest.fixture
def reference() -> Path:
    path = Path(os.environ.get("SHARED_REFERENCE_DIR") or ROOT.parent / "shared" / "reference")
    if not path.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"reference material missing under CI=true: {path}")
        need_service(f"reference material not found at {path}")
    return path


def test_the_ota_limits_are_the_schemas_string_lengths(reference):
    """``StringLength1toN`` in OTA_SimpleTypes is a string of N characters at most."""
    simple = (reference / "ota" / "2015B" / "OTA_SimpleTypes.xsd").read_text()
    for rule in registry.adapter_class("booking_com").mapping_rules:
        type_name = re.search(r"StringLength1to\d+", rule.source).group(0)
        definition = simple[simple.index(f'name="{type_name}"') :][:1500]
        assert f'<xs:maxLength value="{rule.max_length}"/>' in definition, rule
        assert f'<xs:minLength value="{rule.min_length}"/>' in definition, rule


def test_the_expedia_limits_are_the_eqc_schemas(reference):
    """EQC's AvailRateUpdateRQ: Authentication username/password lengths and the RoomType/RatePlan ids."""
    from lxml import etree

    schema = etree.parse(str(reference / "expedia" / "eqc_xsd" / "AvailRateUpdateRQ.xsd"))
    xs = {"xs": "http://www.w3.org/2001/XMLSchema"}

    def limits(xpath: str) -> tuple[int, int]:
        (attribute,) = schema.xpath(xpath, namespaces=xs)
        low = attribute.xpath(".//xs:minLength/@value", namespaces=xs)
        return int(low[0]) if low else 0, int(attribute.xpath(".//xs:maxLength/@value", namespaces=xs)[0])

    rules = {rule.field: rule for rule in registry.adapter_class("expedia").mapping_rules}
    for field in ("username", "password"):
        assert limits(f"//xs:attribute[@name='{field}']") == (rules[field].min_length, rules[field].max_length)
    room = "//xs:complexType[@name='RoomTypeType']/xs:attribute[@name='id']"
    assert limits(room) == (rules["room_id"].min_length, rules["room_id"].max_length)
    rate = "//xs:complexType[@name='RatePlanType']/xs:attribute[@name='id']"
    assert limits(rate) == (rules["rate_plan_id"].min_length, rules["rate_plan_id"].max_length)


# --- fuzzing the create API ----------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    platform=st.sampled_from([*sorted(VALID), "airbnb"]),
    listing=st.one_of(TEXT, st.integers(min_value=0, max_value=2**40).map(str)),
    metadata=st.dictionaries(
        st.sampled_from(["room_id", "rate_plan_id", "other"]),
        st.one_of(TEXT, st.integers(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)),
        max_size=3,
    ),
    credentials=st.dictionaries(st.sampled_from(["username", "password", "api_key"]), TEXT, max_size=3),
)
def test_the_create_api_answers_201_only_when_every_declared_limit_holds(
    api, unit, platform, listing, metadata, credentials
):
    ChannelConnection.objects.all().delete()
    body = {
        "unit": unit.pk,
        "platform_type": platform,
        "platform_listing_id": listing,
        "platform_metadata": metadata,
        **credentials,
    }

    answer = api.post("/channel-connections", body, format="json")

    assert answer.status_code in (201, 400), answer.content
    broken = _broken_limits(platform, listing, metadata, credentials)
    if answer.status_code == 201:
        assert not broken, broken
    else:
        assert answer.json()["fields"], answer.json()  # a 400 names a field
        assert not ChannelConnection.objects.exists()


def _broken_limits(platform, listing, metadata, credentials) -> list[str]:
    """The declared limits this mapping breaks, judged here without the service's code."""
    broken = []
    for rule in registry.adapter_class(platform).mapping_rules:
        if rule.field == "platform_listing_id":
            value, present = listing, True
        elif rule.in_metadata:
            value, present = metadata.get(rule.field), rule.field in metadata
        else:
            value, present = credentials.get(rule.field), rule.field in credentials or rule.required
        if not present:
            continue
        if value in (None, "") or isinstance(value, (bool, list)):
            if rule.required or rule.in_metadata or rule.field == "platform_listing_id" or value is not None:
                broken.append(rule.field)
            continue
        text = str(value) if rule.field == "password" else str(value).strip()  # DRF trims the others
        too_long = rule.max_length is not None and len(text) > rule.max_length
        too_big = rule.max_value is not None and (not text.isdigit() or int(text) > rule.max_value)
        mismatched = rule.pattern and not re.fullmatch(rule.pattern, text)
        if len(text) < rule.min_length or too_long or too_big or mismatched:
            broken.append(rule.field)
    return broken


# --- what each channel ignores -------------------------------------------------------------------


def test_the_api_and_the_page_show_which_pms_settings_a_channel_ignores(api, staff, unit, monkeypatch):
    from adapters.base import Capability

    cls = registry.adapter_class("fewo_direkt")
    monkeypatch.setattr(cls, "capabilities", cls.capabilities - {Capability.CLOSED_TO_ARRIVAL_DEPARTURE})
    body = {"unit": unit.pk, "platform_type": "fewo_direkt", "platform_listing_id": "FW-1"}
    created = api.post("/channel-connections", body, format="json")

    page = staff.get(f"/admin/channelmgr/channelconnection/{created.json()['id']}/change/").content.decode()

    assert created.json()["ignored_settings"] == ["closed_to_arrival", "closed_to_departure"]
    assert "PMS settings this channel ignores" in page
    assert "closed to arrival, closed to departure" in page


def test_a_channel_that_carries_everything_says_so(api, staff, unit):
    body = {"unit": unit.pk, "platform_type": "booking_com", **VALID["booking_com"]}
    created = api.post("/channel-connections", body, format="json")

    page = staff.get(f"/admin/channelmgr/channelconnection/{created.json()['id']}/change/").content.decode()

    assert created.json()["ignored_settings"] == []
    assert "none: it carries every PMS setting" in page


def test_a_feed_ignores_every_pms_setting():
    assert {s.name for s in settings_ignored("ical")} >= {"price", "min_stay", "closed_to_arrival", "stop_sell"}


def test_a_platform_without_arrival_restrictions_ignores_them(monkeypatch):
    from adapters.base import Capability

    cls = registry.adapter_class("airbnb")
    monkeypatch.setattr(cls, "capabilities", cls.capabilities - {Capability.CLOSED_TO_ARRIVAL_DEPARTURE})

    names = {s.name for s in settings_ignored("airbnb")}

    assert {"closed_to_arrival", "closed_to_departure"} <= names and "min_stay" not in names


def test_the_admin_change_form_refuses_a_code_past_its_limit(staff, unit):
    from channelmgr.services.connections import connection_create

    connection = connection_create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="expedia",
        platform_listing_id="3546",
        credentials={"username": "sandbox-expedia", "password": "sandbox-expedia-pass"},
    )
    form = {"platform_listing_id": "3546", "platform_metadata": json.dumps({"rate_plan_id": "R" * 51})}

    answer = staff.post(f"/admin/channelmgr/channelconnection/{connection.pk}/change/", {**form, **INLINE})

    assert answer.status_code == 200
    shown = " ".join(_errors(answer)["platform_metadata"])
    assert "rate_plan_id" in shown and "50" in shown, shown
    connection.refresh_from_db()
    assert connection.platform_metadata == {}
