"""What a platform told us about a booking shows in the API and the admin, and only an import sets it."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from pms_core.booking_details import PlatformDetails
from pms_core.models import Booking, User
from pms_core.services import booking_create

DETAILS = PlatformDetails(
    taxes_amount=Decimal("148.09"),
    fees_amount=Decimal("0"),
    adults=2,
    children=3,
    infants=0,
    special_requests=("1 king bed", "Non-Smoking"),
    sub_channel="Hotels.com",
    payment_model=Booking.PaymentModel.PROPERTY_COLLECTS,
    platform_status="Commit",
)


@pytest.fixture
def imported(unit, day):
    return booking_create(
        unit=unit,
        check_in=day(1),
        check_out=day(4),
        source="expedia",
        channel_booking_id="13357395",
        platform_details=DETAILS,
    )


def test_the_api_shows_what_the_platform_said(alice_api, imported):
    body = alice_api.get(f"/bookings/{imported.pk}").json()

    assert (Decimal(body["taxes_amount"]), Decimal(body["fees_amount"])) == (Decimal("148.09"), Decimal(0))
    assert (body["adults"], body["children"], body["infants"]) == (2, 3, 0)
    assert body["special_requests"] == ["1 king bed", "Non-Smoking"]
    assert (body["sub_channel"], body["payment_model"], body["platform_status"]) == (
        "Hotels.com",
        "property_collects",
        "Commit",
    )


def test_a_direct_booking_says_nothing_of_the_kind(alice_api, unit, day):
    answer = alice_api.post(
        "/bookings", {"unit": unit.pk, "check_in": str(day(1)), "check_out": str(day(2))}, format="json"
    )

    body = alice_api.get(f"/bookings/{answer.json()['id']}").json()
    assert (body["taxes_amount"], body["adults"], body["special_requests"], body["sub_channel"]) == (None, None, [], "")


@pytest.mark.parametrize(
    "field, value",
    [("sub_channel", "Hotels.com"), ("taxes_amount", "10.00"), ("special_requests", ["x"]), ("payment_model", "x")],
)
def test_a_client_cannot_set_them(alice_api, unit, day, imported, field, value):
    create = alice_api.post(
        "/bookings", {"unit": unit.pk, "check_in": str(day(10)), "check_out": str(day(12)), field: value}, format="json"
    )
    direct = booking_create(unit=unit, check_in=day(20), check_out=day(22))
    modify = alice_api.patch(f"/bookings/{direct.pk}", {field: value}, format="json")

    assert (create.status_code, modify.status_code) == (400, 400)
    assert field in str(create.json()) and field in str(modify.json())
    assert Booking.objects.filter(check_in=day(10)).count() == 0


def test_the_admin_page_shows_them(client, org_a, imported):
    staff = User.objects.create_user("alice-staff", password="pw-alice-staff-1", organization=org_a, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(staff)

    page = client.get(f"/admin/pms_core/booking/{imported.pk}/change/").content.decode()

    assert "What the platform told us" in page
    for shown in ("148.090", "Hotels.com", "1 king bed", "Non-Smoking", "Property Collects", "Commit"):
        assert shown in page, shown
