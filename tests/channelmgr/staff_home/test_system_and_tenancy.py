"""Staff see the business, superusers the machinery; a staff user of one organization reaches nothing of
another: no admin list or change page, not the home page, not its JSON, not its actions."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from rest_framework.authtoken.models import Token

from channelmgr.inbound.acknowledgements import acknowledgement_expect
from channelmgr.models import ChannelConnection, InboundEvent, SyncLog
from channelmgr.services.connections_health import connection_mark_needs_attention
from channelmgr.staff_home.site import SYSTEM_MODELS, SYSTEM_SECTION
from pms_core.models import Booking, CalendarDay, OutboxEvent, User
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db
MARK = "charlie"  # every row of the other tenant carries it (lower-cased: the page is searched that way)


@pytest.fixture
def alice_staff(org_a, unit):
    """Staff of Alice's organization with every permission a staff user can be given."""
    user = User.objects.create_user("alice-staff", password="pw-alice-staff-1", organization=org_a, is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    return user


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", password="pw-root-123456")


@pytest.fixture
def charlies(org_b, other_unit, charlie, day):
    """One row of every kind the other tenant has: what Alice's staff must never reach."""
    prop = other_unit.property
    prop.name = "Charlie Cabin"
    prop.save()
    first = booking_create(
        unit=other_unit, check_in=day(1), check_out=day(3), guest_name="Charlie Guest", source="airbnb",
        channel_booking_id="charlie-1",
    )  # fmt: skip
    clash = booking_create(
        unit=other_unit, check_in=day(2), check_out=day(4), guest_name="Charlie Clash", source="expedia",
        channel_booking_id="charlie-2", overbook_on_clash=True,
    )  # fmt: skip
    connection = ChannelConnection.objects.create(
        organization=org_b, unit=other_unit, platform_type="expedia", platform_listing_id="charlie-listing"
    )
    connection_mark_needs_attention(connection_id=connection.pk, error="401 charlie credentials refused")
    acknowledgement_expect(connection=connection, booking_id=clash.pk)
    sync_log = SyncLog.objects.create(connection=connection, direction="outbound", kind="pricing", error="charlie")
    event = InboundEvent.objects.create(platform="expedia", event_key="charlie-event", connection=connection)
    day_row = CalendarDay.objects.create(unit=other_unit, date=day(9), stop_sell=True)
    return {
        Booking: [first, clash],
        ChannelConnection: [connection],
        SyncLog: [sync_log],
        InboundEvent: [event],
        CalendarDay: [day_row],
        OutboxEvent: list(OutboxEvent.objects.filter(unit=other_unit)),
        type(prop): [prop],
        type(other_unit): [other_unit],
        type(org_b): [org_b],
        User: [charlie],
    }


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_a_staff_user_sees_no_system_section_and_cannot_open_its_pages(client, alice_staff):
    Group.objects.create(name="ops")
    Token.objects.create(user=alice_staff)
    client.force_login(alice_staff)
    page = client.get("/admin/").content.decode()
    assert SYSTEM_SECTION not in page and "Outbox events" not in page and "Calendar days" not in page
    system = [m for m in admin.site._registry if m._meta.label_lower in SYSTEM_MODELS]
    assert len(system) >= 5, system  # outbox events, calendar days, tasks, tokens, groups
    for model in system:
        assert client.get(_changelist(model)).status_code == 403, model


def test_a_superuser_finds_the_machinery_under_system(client, root):
    client.force_login(root)
    page = client.get("/admin/").content.decode()
    section = page.split(f">{SYSTEM_SECTION}<", 1)[1]
    for name in ("Outbox events", "Calendar days", "Groups", "Tasks"):
        assert name in section, name
    assert client.get(_changelist(OutboxEvent)).status_code == 200


def test_staff_of_one_organization_reach_nothing_of_another(client, alice_staff, charlies, unit, day):
    booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Alice Guest")
    client.force_login(alice_staff)
    for model in admin.site._registry:
        answer = client.get(_changelist(model))
        assert answer.status_code in (200, 403), (model, answer.status_code)
        assert MARK not in answer.content.decode().lower(), f"{model._meta.label} lists the other tenant"
    for model, rows in charlies.items():
        for row in rows:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[row.pk])
            answer = client.get(url, follow=True)
            assert MARK not in answer.content.decode().lower().replace("alice-staff", ""), (model, row.pk)
    for url in ("/admin/", "/admin/home.json"):
        answer = client.get(url)
        assert answer.status_code == 200 and MARK not in answer.content.decode().lower(), url
    clash = charlies[Booking][1]
    connection = charlies[ChannelConnection][0]
    assert client.post(f"/admin/home/overbookings/{clash.pk}/resolve/", {"resolution": "cancel"}).status_code == 404
    for action in ("test", "resume", "reconnect"):
        assert client.post(f"/admin/home/connections/{connection.pk}/{action}/").status_code == 404
    clash.refresh_from_db()
    connection.refresh_from_db()
    assert clash.status == Booking.Status.OVERBOOKED and connection.status == ChannelConnection.Status.NEEDS_ATTENTION


def test_a_staff_user_without_an_organization_sees_nothing(client, charlies):
    loner = User.objects.create_user("loner", password="pw-loner-12345", is_staff=True)
    loner.user_permissions.set(Permission.objects.all())
    client.force_login(loner)
    body = client.get("/admin/home.json").json()
    assert body["counts"] == {"overbookings": 0, "connections_to_fix": 0, "unacknowledged": 0, "drift": 0, "notices": 0}
    assert MARK not in body["html"].lower()
