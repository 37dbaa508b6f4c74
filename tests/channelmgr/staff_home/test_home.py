"""The staff home: what needs a decision, with the action that settles it, for the user's organization."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channelmgr.inbound.acknowledgements import acknowledgement_expect
from channelmgr.models import ChannelConnection, SyncLog
from channelmgr.services.connections_health import connection_mark_needs_attention
from channelmgr.staff_home.selectors import percentile, sync_lag
from channelmgr.staff_home.status import HEALTHY, NEVER_CHECKED, UNHEALTHY, connection_health, local_time
from pms_core.models import Booking, OutboxEvent, User
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_staff(org_a):
    user = User.objects.create_user("alice-staff", password="pw-alice-staff-1", organization=org_a, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.fixture
def deciding_staff(alice_staff):
    """Alice's staff allowed to change bookings and connections, as the home's actions require."""
    alice_staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_booking", "change_channelconnection"])
    )
    return alice_staff


@pytest.fixture
def airbnb(unit):
    return ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="AIR-1"
    )


@pytest.fixture
def overbooked(unit, day):
    first = booking_create(unit=unit, check_in=day(1), check_out=day(4), source="airbnb", channel_booking_id="HM1")
    second = booking_create(
        unit=unit, check_in=day(2), check_out=day(6), source="fewo_direkt", channel_booking_id="FW1",
        guest_name="Olga Overbooked", overbook_on_clash=True,
    )  # fmt: skip
    assert second.status == Booking.Status.OVERBOOKED
    return first, second


def test_the_bare_address_and_view_site_lead_to_the_staff_home(client, alice_staff):
    client.force_login(alice_staff)
    assert client.get("/").headers["Location"] == "/admin/"
    page = client.get("/admin/").content.decode()
    assert 'id="staff-home"' in page and 'href="/admin/">View site' in page


def test_the_home_shows_an_overbooking_and_resolving_it_frees_its_nights(client, deciding_staff, overbooked):
    first, second = overbooked
    client.force_login(deciding_staff)
    page = client.get("/admin/").content.decode()
    assert f'data-booking="{second.pk}"' in page and "Olga Overbooked" in page and 'value="cancel"' in page
    shown = dict(re.findall(r'<input type="hidden" name="(updated_at|clashes_with|unit)" value="([^"]*)"', page))
    assert set(shown) >= {"updated_at", "clashes_with"}  # the decision carries what the page showed
    answer = client.post(f"/admin/home/overbookings/{second.pk}/resolve/", {**shown, "resolution": "cancel"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/"
    second.refresh_from_db()
    assert second.status == Booking.Status.CANCELLED
    assert client.get("/admin/home.json").json()["counts"]["overbookings"] == 0


def test_a_bad_resolution_is_refused_with_a_reason_and_changes_nothing(client, deciding_staff, overbooked):
    _first, second = overbooked
    client.force_login(deciding_staff)
    answer = client.post(f"/admin/home/overbookings/{second.pk}/resolve/", {"resolution": "shrug"})
    assert answer.status_code == 400 and b"resolution must be one of" in answer.content
    answer = client.post(f"/admin/home/overbookings/{second.pk}/resolve/", {"resolution": "cancel"})
    assert answer.status_code == 400 and b"reload the page" in answer.content  # not what it was made on
    assert client.get(f"/admin/home/overbookings/{second.pk}/resolve/").status_code == 405
    second.refresh_from_db()
    assert second.status == Booking.Status.OVERBOOKED


def test_a_connection_needing_attention_shows_its_error_in_words_and_its_fixes(client, deciding_staff, airbnb):
    connection_mark_needs_attention(connection_id=airbnb.pk, error="401 invalid_token: the access token expired")
    client.force_login(deciding_staff)
    body = client.get("/admin/home.json").json()
    assert body["counts"]["connections_to_fix"] == 1
    html = body["html"]
    assert "the platform refused our credentials" in html
    assert f"/admin/home/connections/{airbnb.pk}/reconnect/" in html  # Airbnb signs in by OAuth
    assert (
        f"/admin/home/connections/{airbnb.pk}/test/" in html and f"/admin/home/connections/{airbnb.pk}/resume/" in html
    )


def test_resuming_from_the_home_puts_the_connection_back_to_work(client, deciding_staff, airbnb):
    connection_mark_needs_attention(connection_id=airbnb.pk, error="403 forbidden")
    client.force_login(deciding_staff)
    assert client.post(f"/admin/home/connections/{airbnb.pk}/resume/").status_code == 302
    airbnb.refresh_from_db()
    assert airbnb.status == ChannelConnection.Status.ACTIVE
    assert client.post(f"/admin/home/connections/{airbnb.pk}/dance/").status_code == 404


def test_an_unacknowledged_booking_is_listed_until_the_platform_takes_the_acknowledgement(
    client, alice_staff, unit, day
):
    expedia = ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="expedia", platform_listing_id="3546"
    )
    booking = booking_create(unit=unit, check_in=day(10), check_out=day(12), source="expedia", channel_booking_id="E1")
    acknowledgement_expect(connection=expedia, booking_id=booking.pk)
    client.force_login(alice_staff)
    body = client.get("/admin/home.json").json()
    assert (
        body["counts"]["unacknowledged"] == 1 and f'class="unacknowledged" data-booking="{booking.pk}"' in body["html"]
    )
    assert "Booking.com and Expedia" in body["html"]  # both fall back to e-mail; the page named only one


def test_health_is_never_checked_then_healthy_after_a_success_and_unhealthy_with_why(airbnb):
    assert connection_health(airbnb).state == NEVER_CHECKED
    ChannelConnection.objects.filter(pk=airbnb.pk).update(healthy=True)
    airbnb.refresh_from_db()
    assert connection_health(airbnb).state == HEALTHY
    ChannelConnection.objects.filter(pk=airbnb.pk).update(healthy=False, last_error="503 Service Unavailable")
    airbnb.refresh_from_db()
    health = connection_health(airbnb)
    assert health.state == UNHEALTHY and "did not answer" in health.why


def test_times_are_shown_in_the_property_zone_with_the_zone_named():
    moment = dt.datetime(2027, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert local_time(moment, "Europe/Berlin") == "2027-07-01 14:00 CEST (Europe/Berlin)"
    assert local_time(moment, "Not/AZone") == "2027-07-01 12:00 UTC"
    assert local_time(None, "Europe/Berlin") == "never"


def test_sync_lag_per_platform_is_read_from_the_pushes_and_the_changes_they_carried(airbnb, unit, day):
    now = timezone.now()
    for n, seconds in enumerate([1, 2, 3, 4, 40]):
        cid = f"change{n}"
        event = OutboxEvent.objects.create(
            event_type="availability.updated", unit=unit, start=day(1), end=day(2), correlation_id=cid
        )
        OutboxEvent.objects.filter(pk=event.pk).update(created_at=now - dt.timedelta(seconds=seconds))
        SyncLog.objects.create(
            connection=airbnb, direction="outbound", kind="availability", status="success", finished_at=now,
            details={"correlation_ids": [cid]},
        )  # fmt: skip
    # A requested sync carries no change, and an old push is out of the hour: neither counts.
    SyncLog.objects.create(connection=airbnb, direction="outbound", kind="pricing", status="success", finished_at=now)
    [lag] = sync_lag(unit.property.organization_id, now=now)
    assert (lag.platform, lag.pushes, lag.p50, lag.p95) == ("airbnb", 5, 3.0, 40.0)
    assert sync_lag(unit.property.organization_id, now=now + dt.timedelta(hours=2)) == []


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200))
@settings(max_examples=200, deadline=None)
def test_a_percentile_is_one_of_the_values_and_p50_never_exceeds_p95(values):
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    assert p50 in values and p95 in values and min(values) <= p50 <= p95 <= max(values)
    assert sum(v <= p95 for v in values) >= 0.95 * len(values)


def test_the_last_reconcile_is_kept_per_connection_and_its_drift_shown(client, alice_staff, airbnb, monkeypatch):
    from adapters.base import BookingData, BookingStatus
    from channelmgr.sync import reconcile

    start = dt.date.today() + dt.timedelta(days=5)
    missing = BookingData(
        platform="airbnb", channel_booking_id="HM-GONE", listing_id="AIR-1", check_in=start,
        check_out=start + dt.timedelta(days=2), status=BookingStatus.CONFIRMED,
    )  # fmt: skip
    monkeypatch.setattr(reconcile, "_platform_bookings", lambda connection: ([missing], []))
    drift = reconcile.reconcile_connection(connection=airbnb, days=30, fix=False)
    airbnb.refresh_from_db()
    assert drift.total == 1 and airbnb.last_reconcile["total"] == 1 and airbnb.last_reconcile_at
    client.force_login(alice_staff)
    body = client.get("/admin/home.json").json()
    assert body["counts"]["drift"] == 1 and "1 booking(s) missing in the PMS: HM-GONE" in body["html"]

    monkeypatch.setattr(reconcile, "_platform_bookings", lambda connection: ([], []))
    reconcile.reconcile_connection(connection=airbnb, days=30, fix=False)
    assert client.get("/admin/home.json").json()["counts"]["drift"] == 0  # the last one is what counts


def test_the_connection_list_reads_health_in_words_and_times_in_the_property_zone(client, alice_staff, airbnb):
    synced = dt.datetime(2027, 1, 15, 9, 30, tzinfo=dt.UTC)
    ChannelConnection.objects.filter(pk=airbnb.pk).update(healthy=True, last_sync_at=synced)
    client.force_login(alice_staff)
    page = client.get("/admin/channelmgr/channelconnection/").content.decode()
    assert ">healthy</span>" in page and "unknown" not in page
    assert "2027-01-15 10:30 CET (Europe/Berlin)" in page  # Villa Sonnenschein's clock, not UTC


@given(
    resolution=st.text(max_size=20),
    action=st.text(
        alphabet=st.characters(blacklist_characters="/?#%", blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=12
    ),
    method=st.sampled_from(["get", "post"]),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_input_to_the_home_actions_is_refused_with_a_4xx_or_done_never_a_5xx(
    client, deciding_staff, overbooked, airbnb, resolution, action, method
):
    _first, second = overbooked
    client.force_login(deciding_staff)
    call = getattr(client, method)
    answer = call(f"/admin/home/overbookings/{second.pk}/resolve/", {"resolution": resolution})
    assert answer.status_code in (400, 405) or (resolution in ("cancel", "cancel_other", "move", "accept"))
    assert call(f"/admin/home/connections/{airbnb.pk}/{action}/").status_code < 500
    assert client.get("/admin/home.json").status_code == 200


def test_a_staff_user_who_may_only_view_cannot_resolve_test_resume_or_reconnect(
    client, alice_staff, overbooked, airbnb
):
    _first, second = overbooked
    connection_mark_needs_attention(connection_id=airbnb.pk, error="403 forbidden")
    client.force_login(alice_staff)  # view_* permissions only
    html = client.get("/admin/home.json").json()["html"]
    assert f'data-booking="{second.pk}"' in html  # she sees the overbooking and the connection ...
    assert 'value="cancel"' not in html and "/resume/" not in html and "/reconnect/" not in html  # ... no buttons
    for resolution in ("cancel", "cancel_other", "accept"):
        answer = client.post(f"/admin/home/overbookings/{second.pk}/resolve/", {"resolution": resolution})
        assert answer.status_code == 403, resolution
    for action in ("test", "resume", "reconnect"):
        assert client.post(f"/admin/home/connections/{airbnb.pk}/{action}/").status_code == 403, action
    assert client.get(f"/admin/home/connections/{airbnb.pk}/reconnect/").status_code == 403
    second.refresh_from_db()
    airbnb.refresh_from_db()
    assert second.status == Booking.Status.OVERBOOKED and second.overbooking_accepted_at is None
    assert airbnb.status == ChannelConnection.Status.NEEDS_ATTENTION


def test_the_home_actions_refuse_a_post_without_the_csrf_token(overbooked, airbnb, deciding_staff):
    from django.test import Client

    _first, second = overbooked
    connection_mark_needs_attention(connection_id=airbnb.pk, error="403 forbidden")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(deciding_staff)
    assert browser.post(f"/admin/home/overbookings/{second.pk}/resolve/", {"resolution": "cancel"}).status_code == 403
    assert browser.post(f"/admin/home/connections/{airbnb.pk}/resume/").status_code == 403
    second.refresh_from_db()
    airbnb.refresh_from_db()
    assert second.status == Booking.Status.OVERBOOKED
    assert airbnb.status == ChannelConnection.Status.NEEDS_ATTENTION


def test_the_admin_list_actions_that_change_things_are_not_offered_to_a_staff_user_who_may_only_view(
    client, alice_staff, overbooked, airbnb
):
    _first, second = overbooked
    connection_mark_needs_attention(connection_id=airbnb.pk, error="403 forbidden")
    client.force_login(alice_staff)  # view_* permissions only
    for action in ("resolve_cancel", "resolve_accept", "resolve_cancel_other", "resolve_move"):
        client.post(
            "/admin/pms_core/booking/", {"action": action, "_selected_action": [second.pk], "index": 0}, follow=True
        )
    for action in ("resume", "test_connections", "pause", "sync_now"):
        client.post(
            "/admin/channelmgr/channelconnection/",
            {"action": action, "_selected_action": [airbnb.pk], "index": 0},
            follow=True,
        )
    second.refresh_from_db()
    airbnb.refresh_from_db()
    assert second.status == Booking.Status.OVERBOOKED and second.overbooking_accepted_at is None
    assert airbnb.status == ChannelConnection.Status.NEEDS_ATTENTION
    page = client.get("/admin/pms_core/booking/").content.decode()
    assert "resolve_cancel" not in page


def test_a_notice_names_the_zone_of_its_time(client, alice_staff, monkeypatch):
    from channelmgr.staff_home import notices

    at = dt.datetime(2027, 1, 15, 9, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(notices, "_providers", {"test": lambda organization_id: [notices.Notice("Told", "why", at=at)]})
    client.force_login(alice_staff)
    assert "2027-01-15 09:30 UTC" in client.get("/admin/home.json").json()["html"]


def test_a_staff_user_without_view_permissions_is_shown_none_of_what_they_may_not_view(
    client, org_a, overbooked, airbnb, unit, day
):
    """The home shows what the admin would: bookings to who may view bookings, connections to who may view
    connections, calendars to who may view properties (as the calendar page itself requires)."""
    connection_mark_needs_attention(connection_id=airbnb.pk, error="403 forbidden")
    expedia = ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="expedia", platform_listing_id="3546"
    )
    booking = booking_create(unit=unit, check_in=day(10), check_out=day(12), source="expedia", channel_booking_id="E1")
    acknowledgement_expect(connection=expedia, booking_id=booking.pk)
    nobody = User.objects.create_user("no-perms", password="pw-no-perms-1", organization=org_a, is_staff=True)
    client.force_login(nobody)
    body = client.get("/admin/home.json").json()
    assert body["counts"] == {"overbookings": 0, "connections_to_fix": 0, "unacknowledged": 0, "drift": 0, "notices": 0}
    assert "Olga Overbooked" not in body["html"] and "AIR-1" not in body["html"] and "calendar-link" not in body["html"]
    assert "Olga Overbooked" not in client.get("/admin/").content.decode()

    nobody.user_permissions.set(Permission.objects.filter(codename__in=["view_booking", "view_channelconnection"]))
    nobody = User.objects.get(pk=nobody.pk)  # permissions are cached on the instance
    client.force_login(nobody)
    counts = client.get("/admin/home.json").json()["counts"]
    assert (counts["overbookings"], counts["connections_to_fix"], counts["unacknowledged"]) == (1, 1, 1)
