"""Staff who belong to an organization see only its rows in the admin; superusers see every tenant."""

import pytest
from django.contrib.auth.models import Permission

from channelmgr.models import ChannelConnection
from pms_core.models import User
from pms_core.services import booking_create


@pytest.fixture
def staff_of_a(org_a):
    user = User.objects.create_user("alice-staff", password="pw-alice-staff-1", organization=org_a, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.fixture
def both_tenants(unit, other_unit, day):
    mine = booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Guest Of Alice")
    theirs = booking_create(unit=other_unit, check_in=day(1), check_out=day(3), guest_name="Guest Of Charlie")
    conn_a = ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="LIST-ALICE"
    )
    conn_b = ChannelConnection.objects.create(
        organization=other_unit.property.organization,
        unit=other_unit,
        platform_type="airbnb",
        platform_listing_id="LIST-CHARLIE",
    )
    return mine, theirs, conn_a, conn_b


@pytest.mark.parametrize(
    "url,mine,theirs",
    [
        ("/admin/pms_core/booking/", "Guest Of Alice", "Guest Of Charlie"),
        ("/admin/channelmgr/channelconnection/", "LIST-ALICE", "LIST-CHARLIE"),
        ("/admin/pms_core/property/", "Villa Sonnenschein", "Charlie&#x27;s Cabin"),
    ],
)
def test_staff_lists_show_only_their_organization(client, staff_of_a, both_tenants, url, mine, theirs):
    client.force_login(staff_of_a)
    page = client.get(url).content.decode()
    assert mine in page and theirs not in page


def test_another_tenants_object_is_not_shown(client, staff_of_a, both_tenants):
    _mine, theirs, _conn_a, conn_b = both_tenants
    client.force_login(staff_of_a)
    for url in (
        f"/admin/pms_core/booking/{theirs.pk}/change/",
        f"/admin/channelmgr/channelconnection/{conn_b.pk}/change/",
    ):
        answer = client.get(url)
        assert answer.status_code == 302 and "Charlie" not in answer.content.decode()


def test_a_superuser_sees_every_tenant(client, both_tenants, db):
    admin = User.objects.create_superuser("root", password="pw-root-123456")
    client.force_login(admin)
    page = client.get("/admin/pms_core/booking/").content.decode()
    assert "Guest Of Alice" in page and "Guest Of Charlie" in page
