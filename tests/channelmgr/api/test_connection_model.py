"""The connection model names no platform: its choices are the registry's (a callable, so a new
platform needs no migration), and "one live connection per listing" holds where the platform's listing
ids are unique, read from the adapter's declaration, in the database as well as in the services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from adapters import registry
from adapters.base import BookingIdScope
from channelmgr.api.serializers import REFUSED
from channelmgr.models import ENGINE_FIELDS, ChannelConnection, SyncLog
from channelmgr.services.connections import connection_create, connection_delete
from tests.platforms import sixth

pytestmark = pytest.mark.django_db


def _slug(scope: BookingIdScope) -> str:
    found = [slug for slug, cls in registry.adapters().items() if cls.booking_id_scope == scope]
    if not found:
        pytest.skip(f"no platform scopes its ids by {scope}")
    return found[0]


@pytest.fixture
def second_unit(villa):
    from pms_core.models import Unit

    return Unit.objects.create(property=villa, name="Garden flat", base_price=Decimal("90.00"))


def _make(unit, slug: str, listing: str) -> ChannelConnection:
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type=slug,
        platform_listing_id=listing,
        feed_url="https://feeds.example.test/x.ics",
    )


def test_a_listing_id_unique_on_its_platform_has_one_live_connection_even_past_the_service(unit, second_unit):
    slug = _slug(BookingIdScope.PLATFORM)
    first = _make(unit, slug, "L-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _make(second_unit, slug, "L-1")  # the ORM, not the service: the database refuses it
    connection_delete(connection=first)
    assert _make(second_unit, slug, "L-1").listing_key == "L-1"  # a deleted connection holds nothing


def test_the_service_refuses_a_taken_listing_with_a_field_error(org_a, unit, second_unit):
    slug = _slug(BookingIdScope.PLATFORM)
    _make(unit, slug, "L-2")
    with pytest.raises(ValidationError) as caught:
        connection_create(organization=org_a, unit=second_unit, platform_type=slug, platform_listing_id="L-2")
    assert "platform_listing_id" in caught.value.message_dict


def test_feeds_of_a_connection_scoped_platform_may_share_a_listing_id(org_a, unit, second_unit):
    slug = _slug(BookingIdScope.CONNECTION)
    first = _make(unit, slug, "calendar")
    second = connection_create(
        organization=org_a,
        unit=second_unit,
        platform_type=slug,
        platform_listing_id="calendar",
        credentials={"feed_url": "https://feeds.example.test/y.ics"},
    )
    assert first.listing_key is None and second.listing_key is None


def test_the_listing_key_follows_a_changed_listing_id(unit):
    connection = _make(unit, _slug(BookingIdScope.PLATFORM), "L-3")
    connection.platform_listing_id = "L-4"
    connection.save(update_fields=["platform_listing_id"])
    connection.refresh_from_db()
    assert connection.listing_key == "L-4"


def test_a_platform_added_later_is_a_valid_choice_and_needs_no_migration(tmp_path, org_a, unit):
    with sixth.installed(tmp_path) as cls:
        call_command("makemigrations", "channelmgr", "--check", "--dry-run", verbosity=0)  # SystemExit on a change
        connection = connection_create(organization=org_a, unit=unit, platform_type=cls.slug, platform_listing_id="S-1")
        connection.full_clean()
        assert connection.get_platform_type_display() == cls.display_name


def test_a_platform_added_later_is_accepted_by_the_api(tmp_path, alice_api, unit):
    with sixth.installed(tmp_path) as cls:
        answer = alice_api.post(
            "/channel-connections",
            {"unit": unit.pk, "platform_type": cls.slug, "platform_listing_id": "S-2"},
            format="json",
        )
        assert answer.status_code == 201, answer.json()
        listed = alice_api.get(f"/channel-connections?platform_type={cls.slug}").json()
        assert [c["platform_listing_id"] for c in listed["results"]] == ["S-2"]


def test_the_engine_owned_fields_are_one_list_for_the_admin_and_the_api():
    from django.contrib import admin

    readonly = admin.site._registry[ChannelConnection].readonly_fields
    assert set(ENGINE_FIELDS) <= set(readonly) and set(ENGINE_FIELDS) <= set(REFUSED)
    model_fields = {field.name for field in ChannelConnection._meta.get_fields()}
    assert set(ENGINE_FIELDS) <= model_fields


def test_dead_fields_and_kinds_are_gone():
    assert "push_scheduled_at" not in {field.name for field in ChannelConnection._meta.get_fields()}
    assert "restrictions" not in SyncLog.Kind.values
