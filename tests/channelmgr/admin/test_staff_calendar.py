"""The staff calendar in the admin: bookings by source, blocks, overbooked clashes, each connection's
sync status, and a night explained per platform. Alice (staff of her organization) sees her property;
charlie (staff of another) gets 404."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from adapters import registry
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.staff_home.status import local_time
from pms_core.models import Booking
from pms_core.services import booking_create, calendar_block, calendar_set_restrictions


def _make_staff(user, *, can_view=True):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    if can_view:
        user.user_permissions.add(Permission.objects.get(codename="view_property"))
    return user


@pytest.fixture
def staff_alice(alice):
    return _make_staff(alice)


@pytest.fixture
def staff_charlie(charlie):
    return _make_staff(charlie)


@pytest.fixture
def pushed_at():
    return timezone.now() - dt.timedelta(minutes=5)


@pytest.fixture
def connections(unit, pushed_at):
    org = unit.property.organization
    airbnb = ChannelConnection.objects.create(
        organization=org, unit=unit, platform_type="airbnb", platform_listing_id="ab-1", healthy=True,
        last_push_at=pushed_at,
    )  # fmt: skip
    booking_com = ChannelConnection.objects.create(
        organization=org, unit=unit, platform_type="booking_com", platform_listing_id="bdc-1", healthy=False,
        last_error="HTTP 503 from Booking.com: " + "x" * 200,
    )  # fmt: skip
    return airbnb, booking_com


@pytest.fixture
def booked(unit, day, connections):
    """Nights 1-3 airbnb, 5-6 direct, 8-9 a block, 12 stop-sell, 14-15 restricted; 2 overbooked by expedia."""
    airbnb = booking_create(
        unit=unit, check_in=day(1), check_out=day(4), guest_name="Ada Lovelace", source="airbnb",
        channel_booking_id="HM123",
    )  # fmt: skip
    direct = booking_create(unit=unit, check_in=day(5), check_out=day(7), guest_name="Grace Hopper")
    block = calendar_block(unit=unit, start=day(8), end=day(10), note="Painting the kitchen")
    clash = booking_create(
        unit=unit, check_in=day(2), check_out=day(3), guest_name="Late Guest", source="expedia",
        channel_booking_id="EX9", overbook_on_clash=True,
    )  # fmt: skip
    calendar_set_restrictions(unit=unit, start=day(12), end=day(13), stop_sell=True)
    calendar_set_restrictions(
        unit=unit, start=day(14), end=day(16), min_stay=3, closed_to_arrival=True, closed_to_departure=True
    )
    DirtyRange.objects.all().delete()  # as if every platform had been told ...
    DirtyRange.objects.create(connection=connections[0], kind="availability", start=day(14), end=day(16))  # ... but
    return {"airbnb": airbnb, "direct": direct, "block": block, "clash": clash}


def _calendar(client, prop, start):
    return client.get(reverse("admin:pms_core_property_calendar", args=[prop.pk]), {"start": start.isoformat()})


def _night(client, unit, date, **params):
    url = reverse("admin:pms_core_property_calendar_night", args=[unit.property_id, unit.pk, date.isoformat()])
    return client.get(url, params)


def _cell_classes(html: str, date: dt.date) -> str:
    match = re.search(rf'<td class="night ([^"]*)" data-date="{date.isoformat()}"', html)
    assert match, f"no cell for {date}"
    return match.group(1)


@pytest.mark.django_db
def test_it_colours_bookings_by_source_and_shows_blocks_and_overbooked_clashes(client, staff_alice, unit, day, booked):
    client.force_login(staff_alice)
    html = _calendar(client, unit.property, day(1)).content.decode()

    assert "src-airbnb" in _cell_classes(html, day(1)).split()
    assert "overbooked" in _cell_classes(html, day(2)).split()
    assert "overbooked" not in _cell_classes(html, day(1)).split()
    assert "src-direct" in _cell_classes(html, day(5)).split()
    assert _cell_classes(html, day(8)).split() == ["night-block"]
    assert _cell_classes(html, day(4)).split() == ["night-open"]
    assert "night-stop_sell" in _cell_classes(html, day(12)).split()
    assert "restricted" in _cell_classes(html, day(14)).split()
    assert "Ada Lovelace" in html and "Painting the kitchen" in html
    for label in ["Direct", *(cls.display_name for cls in registry.adapters().values())]:
        assert f"</span>{label}</li>" in html, label  # the legend


@pytest.mark.django_db
def test_it_shows_each_connections_sync_status_and_last_push(client, staff_alice, unit, day, connections, pushed_at):
    client.force_login(staff_alice)
    html = _calendar(client, unit.property, day(1)).content.decode()

    # In the property's zone, the zone named (Villa Sonnenschein is in Europe/Berlin).
    assert local_time(pushed_at, "Europe/Berlin") in html and "(Europe/Berlin)" in html
    assert "badge-ok" in html and "badge-bad" in html
    assert "HTTP 503 from Booking.com" in html and "x" * 100 not in html  # the error is shortened
    assert "never" in html  # booking_com was never pushed


@pytest.mark.django_db
def test_it_navigates_by_start_and_defaults_to_today(client, staff_alice, unit, day):
    client.force_login(staff_alice)
    html = _calendar(client, unit.property, day(1)).content.decode()
    assert f'data-date="{day(1).isoformat()}"' in html and f'data-date="{day(30).isoformat()}"' in html
    assert f'data-date="{day(31).isoformat()}"' not in html
    assert f"?start={day(31).isoformat()}" in html  # later
    default = client.get(reverse("admin:pms_core_property_calendar", args=[unit.property_id])).content.decode()
    today = timezone.now().astimezone(ZoneInfo(unit.property.timezone)).date()  # the property's today
    assert re.search(rf'<td class="night [^"]*" data-date="{today.isoformat()}"', default)
    assert f'data-date="{(today + dt.timedelta(days=29)).isoformat()}"' in default


@pytest.mark.django_db
def test_the_explanation_names_the_platform_that_booked_the_night(client, staff_alice, unit, day, booked):
    client.force_login(staff_alice)
    text = _night(client, unit, day(1), fragment="1").content.decode()

    airbnb = booked["airbnb"]
    assert f"booked by Airbnb: booking #{airbnb.pk} (HM123), guest Ada Lovelace" in text
    assert "taken on this platform" in text  # on airbnb's own row
    assert "badge-closed" in text and "<html" not in text  # a fragment for the panel


@pytest.mark.django_db
def test_the_explanation_shows_overbooked_clashes(client, staff_alice, unit, day, booked):
    client.force_login(staff_alice)
    text = _night(client, unit, day(2), fragment="1").content.decode()
    assert (
        f"OVERBOOKED: booking #{booked['clash'].pk} from Expedia (Late Guest) clashes with #{booked['airbnb'].pk}"
        in (text)
    )


@pytest.mark.django_db
def test_the_explanation_of_a_block_gives_its_note(client, staff_alice, unit, day, booked):
    client.force_login(staff_alice)
    text = _night(client, unit, day(8), fragment="1").content.decode()
    assert f"blocked (Painting the kitchen; source Direct; block #{booked['block'].pk})" in text


@pytest.mark.django_db
def test_the_explanation_of_a_direct_booking(client, staff_alice, unit, day, booked):
    client.force_login(staff_alice)
    text = _night(client, unit, day(5), fragment="1").content.decode()
    assert f"booked by Direct: booking #{booked['direct'].pk}, guest Grace Hopper" in text


@pytest.mark.django_db
def test_the_explanation_of_stop_sell_and_restrictions(client, staff_alice, unit, day, booked, pushed_at):
    client.force_login(staff_alice)
    assert "stop-sell" in _night(client, unit, day(12), fragment="1").content.decode()

    text = _night(client, unit, day(14), fragment="1").content.decode()
    assert "min stay 3 nights" in text
    assert "closed to arrival" in text and "closed to departure" in text
    assert "badge-open" in text  # restricted, not closed
    assert "availability not yet pushed" in text  # airbnb's dirty range
    assert f"last push {local_time(pushed_at, unit.property.timezone)}" in text


@pytest.mark.django_db
def test_an_open_night_has_nothing_against_it(client, staff_alice, unit, day, booked):
    client.force_login(staff_alice)
    text = _night(client, unit, day(4), fragment="1").content.decode()
    # min stay 2 is the unit's default; nothing closes the night
    assert "badge-open" in text and "badge-closed" not in text
    assert "not yet pushed" not in text


@pytest.mark.django_db
def test_the_explanation_also_works_as_a_page_of_its_own(client, staff_alice, unit, day, booked):
    client.force_login(staff_alice)
    answer = _night(client, unit, day(1))
    assert answer.status_code == 200
    assert "<html" in answer.content.decode() and "booked by Airbnb" in answer.content.decode()


@pytest.mark.django_db
def test_another_organizations_staff_gets_404(client, staff_charlie, unit, day, booked):
    client.force_login(staff_charlie)
    assert _calendar(client, unit.property, day(1)).status_code == 404
    assert _night(client, unit, day(1)).status_code == 404


@pytest.mark.django_db
def test_a_unit_of_another_property_is_404(client, staff_alice, unit, other_unit, day):
    client.force_login(staff_alice)
    url = reverse("admin:pms_core_property_calendar_night", args=[unit.property_id, other_unit.pk, "2027-07-01"])
    assert client.get(url).status_code == 404
    assert _night(client, unit, day(1)).status_code == 200
    bad = reverse("admin:pms_core_property_calendar_night", args=[unit.property_id, unit.pk, "not-a-date"])
    assert client.get(bad).status_code == 404


@pytest.mark.django_db
def test_a_superuser_sees_every_organizations_calendar(client, admin_user, unit, day):
    client.force_login(admin_user)
    assert _calendar(client, unit.property, day(1)).status_code == 200


@pytest.mark.django_db
def test_staff_without_the_view_permission_on_properties_are_refused(client, bob, unit, day):
    client.force_login(_make_staff(bob, can_view=False))
    assert _calendar(client, unit.property, day(1)).status_code == 403
    assert _night(client, unit, day(1)).status_code == 403


@pytest.mark.django_db
def test_non_staff_are_sent_to_the_login(client, alice, unit, day):
    client.force_login(alice)
    answer = _calendar(client, unit.property, day(1))
    assert answer.status_code == 302 and reverse("admin:login") in answer["Location"]


@pytest.mark.django_db
def test_the_property_admin_links_to_the_calendar(client, admin_user, unit):
    client.force_login(admin_user)
    url = reverse("admin:pms_core_property_calendar", args=[unit.property_id])
    assert url in client.get(reverse("admin:pms_core_property_changelist")).content.decode()
    assert url in client.get(reverse("admin:pms_core_property_change", args=[unit.property_id])).content.decode()


@pytest.mark.django_db
def test_an_overbooked_stay_is_kept_out_of_the_timeline_colours_but_marked(client, staff_alice, unit, day, booked):
    client.force_login(staff_alice)
    html = _calendar(client, unit.property, day(1)).content.decode()
    assert Booking.objects.get(pk=booked["clash"].pk).status == Booking.Status.OVERBOOKED
    assert "src-expedia" not in _cell_classes(html, day(2)).split()  # the night belongs to the airbnb stay


@pytest.mark.django_db
@pytest.mark.parametrize("days", [1, 30, 31, 92])
def test_the_header_names_the_last_night_shown_and_no_other(client, staff_alice, unit, days):
    client.force_login(staff_alice)
    start = dt.date(2026, 12, 1)
    html = client.get(
        reverse("admin:pms_core_property_calendar", args=[unit.property.pk]), {"start": start.isoformat(), "days": days}
    ).content.decode()
    last = start + dt.timedelta(days=days - 1)
    assert f'data-last="{last.isoformat()}"' in html and f"{days} nights" in html
    assert _cell_classes(html, last)  # the named day has its cell ...
    assert f'data-date="{(last + dt.timedelta(days=1)).isoformat()}"' not in html  # ... and nothing after it


@pytest.mark.django_db
def test_a_platform_block_is_labelled_by_its_platform_with_its_full_summary_in_the_tooltip(
    client, staff_alice, unit, day
):
    calendar_block(
        unit=unit, start=day(3), end=day(5), note="Airbnb (Not available)", source="ical", channel_booking_id="f1"
    )
    calendar_block(unit=unit, start=day(7), end=day(8), note="Reserved", source="ical", channel_booking_id="f2")
    client.force_login(staff_alice)
    html = _calendar(client, unit.property, day(1)).content.decode()
    assert '<span class="stay-label">Airbnb blocked</span>' in html and "Not ava…" not in html
    assert "block: Airbnb (Not available)" in html  # the tooltip keeps the feed's own words
    assert '<span class="stay-label">iCal feed blocked</span>' in html
