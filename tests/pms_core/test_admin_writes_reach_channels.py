"""Every write staff can make in the admin either goes through the service that tells the platforms, or
is refused: a night is closed on every platform exactly when an active stay or block holds it, and
prices and restrictions on every platform equal what the PMS holds (through each connection's rule).
The admin also refuses what the API refuses, and never answers bad input with a server error.

Found in review (admin write paths, 2026-12-04). A test that pinned a hole tells what happened before
its fix, then what happens now; the others pin what already held (bookings and calendar days are
read-only; the writes offered go through services).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from channelmgr.models import ChannelConnection, DirtyRange, SyncLog
from channelmgr.services.connections import connection_create
from pms_core.models import Booking, CalendarDay, OutboxEvent, Property, Unit, User
from pms_core.services import booking_create, calendar_block, calendar_set_restrictions
from tests.channelmgr.admin.test_connection_form import INLINE as SYNC_LOGS_INLINE

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, org_a):
    """A superuser of Alice's organization, logged into the admin; a server error is a 500 answer, not
    an exception, so a test can say "not a 500"."""
    client.force_login(User.objects.create_superuser("staff", password="staff-pass-123", organization=org_a))
    client.raise_request_exception = False
    return client


@pytest.fixture
def connection(unit):
    """A live Airbnb listing of the unit, connected through the service (as the admin and the API do) a
    moment ago: the first sync has not run yet, so it has no sync log."""
    return connection_create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="AB-ADMIN-1"
    )


def _unit_form(unit, **values):
    return {
        "property": unit.property_id,
        "name": unit.name,
        "base_price": str(unit.base_price),
        "default_min_stay": str(unit.default_min_stay),
        "default_max_stay": "" if unit.default_max_stay is None else str(unit.default_max_stay),
        "max_guests": str(unit.max_guests),
        **values,
    }


def _property_form(prop, **values):
    return {
        "organization": prop.organization_id,
        "name": prop.name,
        "timezone": prop.timezone,
        "currency": prop.currency,
        **values,
    }


def _connection_form(connection, **values):
    return {
        "platform_listing_id": connection.platform_listing_id,
        "platform_metadata": "{}",
        "price_rule_percent": "",
        "price_rule_amount": "",
        "price_rule_rounding": "none",
        "rate_limit": "",
        "rate_window": "",
        **SYNC_LOGS_INLINE,
        **values,
    }


# --- deleting a connection, a unit, a property -----------------------------------------------
#
# Deleting a connection is the API's soft delete; a unit or property is not deleted while a live
# connection serves it, and "Delete selected" is not offered for them. Before, these deletes were refused
# only by accident (Django refuses a cascade reaching a row whose admin is read-only: a SyncLog, an
# OutboxEvent, a CalendarDay); a connection before its first sync, or a unit whose calendar was never
# changed, had none of those, and went.


def test_the_admin_delete_of_a_connection_is_the_apis_soft_delete(staff_client, connection):
    """Staff add an Airbnb connection, then (before its first sync) open it and press "Delete" and
    confirm. What happened before the fix: Django's delete view ran ``ChannelConnection.delete()``: the
    row, its dirty ranges and acknowledgements were gone (hard delete). What happens now: what
    DELETE /connections/{id} does, ``connection_delete``: the row kept with status "deleted"."""
    answer = staff_client.post(
        reverse("admin:channelmgr_channelconnection_delete", args=[connection.pk]), {"post": "yes"}
    )
    assert answer.status_code in (302, 403), answer.status_code
    assert ChannelConnection.objects.filter(pk=connection.pk).exists(), "hard-deleted (the API soft-deletes)"


def test_delete_selected_does_not_hard_delete_connections(staff_client, connection):
    """Same through Django's "Delete selected" action on the connection list
    (``queryset.delete()``). What happens now: it goes through
    ``connection_delete``."""
    staff_client.post(
        reverse("admin:channelmgr_channelconnection_changelist"),
        {"action": "delete_selected", "_selected_action": [connection.pk], "post": "yes"},
    )
    assert ChannelConnection.objects.filter(pk=connection.pk).exists(), "delete_selected hard-deleted it"


def test_the_admin_refuses_to_delete_a_unit_a_live_connection_serves(staff_client, unit, connection):
    """The unit (no bookings, calendar never changed) was just listed on Airbnb; staff delete
    the unit on its admin page. What happened before the fix: the unit and its live connection are deleted (cascade):
    no event, no dirty range, the Airbnb listing stays on sale for a unit that no longer exists, and its
    bookings have nowhere to land. What happens now: refused while a live connection serves it (the API
    offers no unit delete), or a service that disconnects it first."""
    staff_client.post(reverse("admin:pms_core_unit_delete", args=[unit.pk]), {"post": "yes"})
    assert Unit.objects.filter(pk=unit.pk).exists(), "the unit was deleted under a live listing"
    assert ChannelConnection.objects.filter(pk=connection.pk).exists()


def test_delete_selected_refuses_units_a_live_connection_serves(staff_client, unit, connection):
    """Same through "Delete selected units" on the unit list (``queryset.delete()``)."""
    staff_client.post(
        reverse("admin:pms_core_unit_changelist"),
        {"action": "delete_selected", "_selected_action": [unit.pk], "post": "yes"},
    )
    assert Unit.objects.filter(pk=unit.pk).exists(), "delete_selected deleted a unit under a live listing"
    assert ChannelConnection.objects.filter(pk=connection.pk).exists()


def test_the_admin_refuses_to_delete_a_property_whose_unit_a_live_connection_serves(staff_client, villa, connection):
    """Staff delete the property on its admin page: its unit and the unit's live Airbnb
    connection go with it (cascade); the listing stays on sale. What happens now: refused (the API
    offers no property delete) while a live connection serves one of its units."""
    staff_client.post(reverse("admin:pms_core_property_delete", args=[villa.pk]), {"post": "yes"})
    assert Property.objects.filter(pk=villa.pk).exists(), "the property was deleted under a live listing"
    assert ChannelConnection.objects.filter(pk=connection.pk).exists()


def test_the_admin_refuses_to_delete_an_organization_a_live_connection_serves(staff_client):
    """A superuser deletes an organization with no users left (users protect theirs): refused while a live
    connection serves one of its units (the cascade would take the connection and leave its listing on
    sale), and not offered in bulk. (It was refused before only by accident: the cascade reached a row
    whose admin is read-only.)"""
    from decimal import Decimal

    from pms_core.models import Organization

    gone = Organization.objects.create(name="Left us")
    prop = Property.objects.create(organization=gone, name="Old villa", timezone="Europe/Berlin", currency="EUR")
    unit = Unit.objects.create(property=prop, name="Whole house", base_price=Decimal("100.00"))
    live = connection_create(organization=gone, unit=unit, platform_type="airbnb", platform_listing_id="AB-GONE")

    staff_client.post(reverse("admin:pms_core_organization_delete", args=[gone.pk]), {"post": "yes"})
    staff_client.post(
        reverse("admin:pms_core_organization_changelist"),
        {"action": "delete_selected", "_selected_action": [gone.pk], "post": "yes"},
    )
    assert ChannelConnection.objects.filter(pk=live.pk, status="active").exists()


def test_delete_selected_refuses_properties_whose_unit_a_live_connection_serves(staff_client, villa, connection):
    """Same through "Delete selected properties" (``queryset.delete()``)."""
    staff_client.post(
        reverse("admin:pms_core_property_changelist"),
        {"action": "delete_selected", "_selected_action": [villa.pk], "post": "yes"},
    )
    assert Property.objects.filter(pk=villa.pk).exists(), "delete_selected deleted a property under a live listing"
    assert ChannelConnection.objects.filter(pk=connection.pk).exists()


def test_a_connection_with_sync_logs_is_soft_deleted_and_its_unit_kept(staff_client, unit, connection, day):
    """Once the connection has a sync log and the unit a calendar change, deleting the connection in the
    admin still soft-deletes it (its logs stay), and the unit it served may not be deleted while it was
    live. (Both deletes used to be refused only by accident: Django refuses a
    cascade reaching a row whose admin is read-only.)"""
    SyncLog.objects.create(connection=connection, direction="outbound", kind="availability", status="success")
    calendar_set_restrictions(unit=unit, start=day(1), end=day(2), stop_sell=True)
    assert staff_client.post(reverse("admin:pms_core_unit_delete", args=[unit.pk]), {"post": "yes"}).status_code == 403

    answer = staff_client.post(
        reverse("admin:channelmgr_channelconnection_delete", args=[connection.pk]), {"post": "yes"}
    )

    assert answer.status_code == 302
    assert ChannelConnection.objects.get(pk=connection.pk).status == ChannelConnection.Status.DELETED
    assert SyncLog.objects.filter(connection=connection).exists()


# --- what the API refuses, the admin refuses too ------------------------------------------------


def test_the_property_form_refuses_a_timezone_the_api_refuses(staff_client, villa):
    """Staff set the property's timezone to "Mars/Olympus_Mons" on its change page. What
    happens: saved (the model field is a free CharField; PUT /properties refuses it: "Unknown time zone.");
    the property's "today" and the sync window then silently fall back to the server's zone, and alert
    mails (``alerts.recording._local``) raise on it. What happens now: a form error on ``timezone``."""
    answer = staff_client.post(
        reverse("admin:pms_core_property_change", args=[villa.pk]), _property_form(villa, timezone="Mars/Olympus_Mons")
    )
    villa.refresh_from_db()
    assert villa.timezone == "Europe/Berlin"
    assert answer.status_code == 200 and "timezone" in answer.context["adminform"].form.errors


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"default_min_stay": "400"}, "default_min_stay"),  # API: at most 365
        ({"default_max_stay": "2000"}, "default_max_stay"),  # API: at most 1125
        ({"max_guests": "0"}, "max_guests"),  # API: 1 to 100
    ],
)
def test_the_unit_form_refuses_values_the_api_refuses(staff_client, unit, values, field):
    """Staff enter a default minimum stay of 400 nights (or a maximum of 2000, or 0 guests)
    on the unit's page. What happened before the fix: saved (and a 400-night minimum is announced to every platform,
    which take at most 365 or 1125); PUT /units refuses each. What happens now: a form error."""
    before = (unit.default_min_stay, unit.default_max_stay, unit.max_guests)
    answer = staff_client.post(reverse("admin:pms_core_unit_change", args=[unit.pk]), _unit_form(unit, **values))
    unit.refresh_from_db()
    assert (unit.default_min_stay, unit.default_max_stay, unit.max_guests) == before
    assert answer.status_code == 200 and field in answer.context["adminform"].form.errors


@pytest.mark.parametrize(
    ("values", "field"), [({"rate_limit": "0"}, "rate_limit"), ({"rate_window": "0"}, "rate_window")]
)
def test_the_connection_form_refuses_a_rate_limit_override_the_api_refuses(staff_client, connection, values, field):
    """Staff set the connection's rate limit override to 0 requests (or a 0 s window). What
    happens: saved (the API refuses: min 1 / 0.001); from then on ``limiter_for`` raises
    ImproperlyConfigured for every call to the platform: no change reaches it again, nights stay open
    or closed as they were. What happens now: a form error on the field."""
    answer = staff_client.post(
        reverse("admin:channelmgr_channelconnection_change", args=[connection.pk]),
        _connection_form(connection, **values),
    )
    connection.refresh_from_db()
    assert (connection.rate_limit, connection.rate_window) == (None, None)
    assert answer.status_code == 200 and field in answer.context["adminform"].form.errors


def test_the_connection_form_refuses_metadata_postgres_cannot_store(staff_client, connection):
    """A NUL character in the mapping's metadata: a form error, as the API's 400 (Postgres' jsonb refuses
    it: on Postgres the save used to be a server error)."""
    answer = staff_client.post(
        reverse("admin:channelmgr_channelconnection_change", args=[connection.pk]),
        _connection_form(connection, platform_metadata='{"note": "a\\u0000b"}'),
    )
    connection.refresh_from_db()
    assert connection.platform_metadata == {}
    assert answer.status_code == 200 and "platform_metadata" in answer.context["adminform"].form.errors


def test_a_unit_moved_to_another_tenants_property_keeps_its_connections_in_its_tenant(
    staff_client, unit, other_unit, connection
):
    """A superuser moves a connected unit to a property of another organization (the API
    refuses ``property`` on PUT /units). What happened before the fix: saved; the unit, its bookings and its nights now
    belong to Charlie, while its Airbnb connection (credentials, pushes, inbound bookings) still belongs
    to Alice. What happens now: refused (a unit stays in its organization): never a unit of one tenant served
    by another tenant's connection."""
    staff_client.post(
        reverse("admin:pms_core_unit_change", args=[unit.pk]), _unit_form(unit, property=other_unit.property_id)
    )
    unit.refresh_from_db()
    for live in unit.connections.exclude(status=ChannelConnection.Status.DELETED):
        assert live.organization_id == unit.property.organization_id


# --- bad input on the staff calendar is no server error -----------------------------------------


@pytest.mark.parametrize("start", ["9999-12-20", "0001-01-01"])
def test_the_staff_calendar_answers_a_far_start_without_a_server_error(staff_client, villa, unit, start):
    """Staff (or a mistyped link) open the calendar at ?start=9999-12-20 (or 0001-01-01).
    What happened before the fix: ``start + timedelta(days)`` (or ``previous_start``) overflows: OverflowError, a 500.
    What happens now: the page shows today, as for a mistyped ?start=."""
    answer = staff_client.get(reverse("admin:pms_core_property_calendar", args=[villa.pk]), {"start": start})
    assert answer.status_code != 500


def test_the_night_view_answers_the_last_date_without_a_server_error(staff_client, villa, unit):
    """The night explanation for 9999-12-31: ``date + timedelta(days=1)`` overflows, a 500.
    What happens now: a 404 (as "not a date" is)."""
    answer = staff_client.get(reverse("admin:pms_core_property_calendar_night", args=[villa.pk, unit.pk, "9999-12-31"]))
    assert answer.status_code != 500


# --- pins: what already holds -------------------------------------------------------------------


def test_bookings_cannot_be_deleted_or_changed_in_the_admin(staff_client, unit, day):
    """Passes. A booking's delete and change views refuse (403) and "Delete selected" is not offered:
    its nights are released only through the services."""
    stay = booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Ada")
    block = calendar_block(unit=unit, start=day(5), end=day(6))
    for booking in (stay, block):
        assert (
            staff_client.post(reverse("admin:pms_core_booking_delete", args=[booking.pk]), {"post": "yes"}).status_code
            == 403
        )
        assert (
            staff_client.post(
                reverse("admin:pms_core_booking_change", args=[booking.pk]), {"status": "cancelled"}
            ).status_code
            == 403
        )
    listing = staff_client.get(reverse("admin:pms_core_booking_changelist"))
    assert "delete_selected" not in listing.content.decode()
    staff_client.post(
        reverse("admin:pms_core_booking_changelist"),
        {"action": "delete_selected", "_selected_action": [stay.pk, block.pk], "post": "yes"},
    )
    assert Booking.objects.filter(pk__in=[stay.pk, block.pk], status=Booking.Status.CONFIRMED).count() == 2
    assert staff_client.get(reverse("admin:pms_core_booking_add")).status_code == 403


def test_calendar_days_cannot_be_written_in_the_admin(staff_client, unit, day):
    """Passes. Calendar days: no add, change or delete view, no "Delete selected"."""
    calendar_set_restrictions(unit=unit, start=day(1), end=day(2), stop_sell=True)
    night = CalendarDay.objects.get(unit=unit, date=day(1))
    assert (
        staff_client.post(reverse("admin:pms_core_calendarday_delete", args=[night.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert staff_client.get(reverse("admin:pms_core_calendarday_add")).status_code == 403
    staff_client.post(
        reverse("admin:pms_core_calendarday_changelist"),
        {"action": "delete_selected", "_selected_action": [night.pk], "post": "yes"},
    )
    assert CalendarDay.objects.filter(pk=night.pk, stop_sell=True).exists()


def test_cancelling_a_direct_block_in_the_admin_announces_it(staff_client, unit, day):
    """Passes. The "Cancel selected direct bookings and blocks" action goes through ``booking_cancel``."""
    block = calendar_block(unit=unit, start=day(5), end=day(6))
    staff_client.post(
        reverse("admin:pms_core_booking_changelist"),
        {"action": "cancel_direct_bookings", "_selected_action": [block.pk]},
    )
    block.refresh_from_db()
    assert block.status == Booking.Status.CANCELLED
    assert OutboxEvent.objects.filter(booking=block, event_type=OutboxEvent.Type.BOOKING_CANCELLED).exists()


def test_a_new_min_stay_in_the_unit_admin_is_announced(staff_client, unit):
    """Passes. A new default min stay saved on the unit's page records the availability event."""
    OutboxEvent.objects.all().delete()
    answer = staff_client.post(
        reverse("admin:pms_core_unit_change", args=[unit.pk]), _unit_form(unit, default_min_stay="3")
    )
    assert answer.status_code == 302
    assert OutboxEvent.objects.filter(unit=unit, event_type=OutboxEvent.Type.AVAILABILITY_UPDATED).exists()


@pytest.mark.parametrize(
    ("values", "kinds"),
    [
        ({"price_rule_percent": "10"}, {DirtyRange.Kind.PRICING}),
        ({"platform_listing_id": "AB-ADMIN-2"}, {DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING}),
    ],
)
def test_a_new_price_rule_or_listing_saved_in_the_connection_admin_reaches_the_platform(
    staff_client, connection, values, kinds
):
    """Staff give the Airbnb connection a +10 % price rule (or map it to another listing) on
    its change page. What happened before the fix: saved, but nothing is marked to push: the ModelForm already wrote the
    new values onto ``form.instance`` (``_post_clean``), and ``ConnectionFormBase.save`` hands that same
    instance to ``connection_update``, which compares the rule/mapping "before" with itself and sees no
    change. Airbnb keeps the old prices (the new listing gets nothing, its nights stay open). What should
    happen: what PATCH /connections/{id} does: the window marked dirty (pricing; both kinds for a new
    listing), as ``connection_update`` does when given the stored row."""
    DirtyRange.objects.all().delete()
    answer = staff_client.post(
        reverse("admin:channelmgr_channelconnection_change", args=[connection.pk]),
        _connection_form(connection, **values),
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    connection.refresh_from_db()
    assert connection.platform_listing_id == values.get("platform_listing_id", "AB-ADMIN-1")  # it was saved
    marked = set(DirtyRange.objects.filter(connection=connection).values_list("kind", flat=True))
    assert marked == kinds, f"saved, but marked {marked or 'nothing'} to push"


def test_a_new_currency_is_announced_for_every_unit(staff_client, villa, unit):
    """A new currency saved on the property's page records a pricing event."""
    OutboxEvent.objects.all().delete()
    answer = staff_client.post(
        reverse("admin:pms_core_property_change", args=[villa.pk]), _property_form(villa, currency="USD")
    )
    assert answer.status_code == 302
    assert OutboxEvent.objects.filter(unit=unit, event_type=OutboxEvent.Type.PRICING_UPDATED).exists()
