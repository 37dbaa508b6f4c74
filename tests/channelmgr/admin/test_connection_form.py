"""The admin's connection form writes through connection_create / connection_update, so staff get the
API's checks and the API's bookkeeping; the unit and platform of an existing connection are fixed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters import registry
from adapters.base import BookingIdScope, Capability
from channelmgr import admin as connection_admin
from channelmgr.models import ChannelConnection
from channelmgr.services.connections import connection_create

pytestmark = pytest.mark.django_db

INLINE = {
    "sync_logs-TOTAL_FORMS": "0",
    "sync_logs-INITIAL_FORMS": "0",
    "sync_logs-MIN_NUM_FORMS": "0",
    "sync_logs-MAX_NUM_FORMS": "0",
}


def _slug(*, feed: bool) -> str:
    for slug, cls in registry.adapters().items():
        is_feed = Capability.SNAPSHOT_FEED in cls.capabilities
        if is_feed == feed and (feed or cls.booking_id_scope == BookingIdScope.PLATFORM):
            return slug
    pytest.skip(f"no platform with feed={feed}")


@pytest.fixture
def staff_client(client, org_a):
    from pms_core.models import User

    client.force_login(User.objects.create_superuser("staff", password="staff-pass-123", organization=org_a))
    return client


@pytest.fixture
def calls(monkeypatch):
    """Records each service call the admin makes (and still runs the service)."""
    seen = []
    for name in ("connection_create", "connection_update"):
        real = getattr(connection_admin, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            seen.append((_name, kwargs))
            return _real(*args, **kwargs)

        monkeypatch.setattr(connection_admin, name, spy)
    return seen


def _add(staff_client, unit, slug, listing, **extra):
    form = {"unit": unit.pk, "platform_type": slug, "platform_listing_id": listing, "platform_metadata": "{}"}
    return staff_client.post("/admin/channelmgr/channelconnection/add/", {**form, **INLINE, **extra})


def test_adding_a_connection_goes_through_connection_create(staff_client, unit, calls):
    slug = _slug(feed=False)
    answer = _add(staff_client, unit, slug, "ADM-1", new_api_key="k-12345", _continue="1")
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert [name for name, _ in calls] == ["connection_create"]
    assert calls[0][1]["credentials"] == {"api_key": "k-12345"}
    created = ChannelConnection.objects.get(platform_listing_id="ADM-1")
    assert created.organization_id == unit.property.organization_id and created.listing_key == "ADM-1"
    assert created.api_key == "k-12345"
    # The admin goes on with the row the service created: "save and continue" opens it.
    assert answer["Location"].endswith(f"/admin/channelmgr/channelconnection/{created.pk}/change/")


def test_the_admin_refuses_what_the_api_refuses_on_the_field(staff_client, unit, calls):
    answer = _add(staff_client, unit, _slug(feed=True), "feed-1")  # a feed without its feed_url
    assert answer.status_code == 200
    assert "needs an http(s) feed_url" in answer.content.decode()
    assert not calls and not ChannelConnection.objects.exists()


def test_a_taken_listing_is_a_form_error_not_a_server_error(staff_client, unit, villa, org_a, calls):
    from pms_core.models import Unit

    slug = _slug(feed=False)
    connection_create(organization=org_a, unit=unit, platform_type=slug, platform_listing_id="ADM-2")
    second = Unit.objects.create(property=villa, name="Annex", base_price=Decimal("80.00"))
    answer = _add(staff_client, second, slug, "ADM-2")
    assert answer.status_code == 200
    assert "this listing is already connected" in answer.content.decode()
    assert not calls


def test_changing_a_connection_goes_through_connection_update_and_keeps_unit_and_platform(
    staff_client, unit, villa, org_a, calls
):
    from pms_core.models import Unit

    slug, other_slug = _slug(feed=False), next(s for s in registry.slugs() if s != _slug(feed=False))
    connection = connection_create(
        organization=org_a,
        unit=unit,
        platform_type=slug,
        platform_listing_id="ADM-3",
        credentials={"api_key": "old-key-1", "webhook_secret": "old-secret-1"},
    )
    elsewhere = Unit.objects.create(property=villa, name="Elsewhere", base_price=Decimal("80.00"))
    page = staff_client.get(f"/admin/channelmgr/channelconnection/{connection.pk}/change/").content.decode()
    assert 'name="platform_type"' not in page and 'name="unit"' not in page  # shown, not editable

    answer = staff_client.post(
        f"/admin/channelmgr/channelconnection/{connection.pk}/change/",
        {
            "unit": elsewhere.pk,  # ignored: read-only on the change page
            "platform_type": other_slug,
            "platform_listing_id": "ADM-4",
            "platform_metadata": "{}",
            "new_api_key": "new-key-2",
            "clear_webhook_secret": "on",
            **INLINE,
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert [name for name, _ in calls] == ["connection_update"]
    assert calls[0][1]["credentials"] == {"api_key": "new-key-2", "webhook_secret": ""}
    connection.refresh_from_db()
    assert (connection.unit_id, connection.platform_type) == (unit.pk, slug)
    assert (connection.platform_listing_id, connection.listing_key) == ("ADM-4", "ADM-4")
    assert (connection.api_key, connection.webhook_secret) == ("new-key-2", "")


def test_the_confirm_feed_action_leaves_connections_that_are_not_feeds_alone(staff_client, unit, org_a, monkeypatch):
    connection = connection_create(
        organization=org_a, unit=unit, platform_type=_slug(feed=False), platform_listing_id="ADM-5"
    )
    confirmed = []
    monkeypatch.setattr(connection_admin, "ical_feed_change_confirm", lambda **kw: confirmed.append(kw) or 0)
    staff_client.post(
        "/admin/channelmgr/channelconnection/",
        {"action": "confirm_ical_feed_change", "_selected_action": [connection.pk]},
    )
    assert not confirmed
