"""Stale writes (lost updates) between a staff member or integrator and a platform import.

A staff member or an integrator reads a booking, block, unit or property (the staff home, an admin
change form, a GET), a platform import or another writer changes that row meanwhile, and the save or
decision that follows acts on what was read: a change that committed in between is silently undone, or a
decision meant for one stay lands on another.

Each test whose docstring starts "Used to fail" failed before its fix (found in review, 2026-12-06); its
docstring gives the sequence, what went wrong, where, and the fix it suggested. ``Safe:`` tests pin
sequences checked and found safe.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from adapters.base import BookingData, BookingStatus, Guest
from channelmgr.inbound.importer import booking_import
from channelmgr.models import ChannelConnection
from pms_core.models import Booking, Unit, User
from pms_core.services import booking_create, calendar_block

pytestmark = pytest.mark.django_db

SYNC_LOGS_INLINE = {
    "sync_logs-TOTAL_FORMS": "0",
    "sync_logs-INITIAL_FORMS": "0",
    "sync_logs-MIN_NUM_FORMS": "0",
    "sync_logs-MAX_NUM_FORMS": "0",
}


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def staff(org_a):
    """A superuser of Alice's organization: sees the staff home's resolve buttons and every admin form."""
    return User.objects.create_superuser("stale-staff", password="stale-staff-pass-1", organization=org_a)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    client.raise_request_exception = False
    return client


@pytest.fixture
def api(alice):
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=alice)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def airbnb(unit):
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="airbnb",
        platform_listing_id="AIR-STALE-1",
        access_token="airbnb-access-1",
        refresh_token="airbnb-refresh-1",
    )


def airbnb_copy(check_in, check_out, *, version: int, status=BookingStatus.CONFIRMED) -> BookingData:
    """Airbnb's reservation HMSTALE as the platform holds it at ``version`` (what its webhook carries)."""
    return BookingData(
        platform="airbnb",
        channel_booking_id="HMSTALE",
        listing_id="AIR-STALE-1",
        status=status,
        check_in=check_in,
        check_out=check_out,
        guest=Guest(name="Otto Overbooked"),
        guests_count=2,
        total_amount=Decimal("600.00"),
        currency="EUR",
        version=f"{version:010d}",
        raw_status="accepted",
    )


@pytest.fixture
def overbooking(unit, airbnb, day):
    """Anna's direct stay holds days 1-4; Airbnb then sold Otto days 2-6 (overbooked, clashing with Anna).
    Carl's direct stay holds days 10-13, far away: nothing to do with the overbooking staff look at."""
    anna = booking_create(unit=unit, check_in=day(1), check_out=day(4), guest_name="Anna Direct")
    carl = booking_create(unit=unit, check_in=day(10), check_out=day(13), guest_name="Carl Direct")
    otto, _ = booking_import(connection=airbnb, data=airbnb_copy(day(2), day(6), version=1))
    assert otto.status == Booking.Status.OVERBOOKED and otto.clashes_with_id == anna.pk
    return anna, otto, carl


def platform_moves_otto_onto_carls_nights(airbnb, day) -> Booking:
    """The Airbnb webhook "reservation altered": the guest moved to days 10-13 (Carl's nights). The PMS
    keeps Otto as overbooked, now clashing with Carl."""
    otto, _ = booking_import(connection=airbnb, data=airbnb_copy(day(10), day(13), version=2))
    return otto


def _unit_form(unit, **values) -> dict:
    return {
        "property": unit.property_id,
        "name": unit.name,
        "base_price": str(unit.base_price),
        "default_min_stay": str(unit.default_min_stay),
        "default_max_stay": "" if unit.default_max_stay is None else str(unit.default_max_stay),
        "max_guests": str(unit.max_guests),
        **values,
    }


def _property_form(prop, **values) -> dict:
    return {
        "organization": prop.organization_id,
        "name": prop.name,
        "timezone": prop.timezone,
        "currency": prop.currency,
        **values,
    }


def _connection_form(connection, **values) -> dict:
    def text(value):
        return "" if value is None else str(value)

    return {
        "platform_listing_id": connection.platform_listing_id,
        "platform_metadata": "{}",
        "price_rule_percent": text(connection.price_rule_percent),
        "price_rule_amount": text(connection.price_rule_amount),
        "price_rule_rounding": connection.price_rule_rounding or "none",
        "rate_limit": text(connection.rate_limit),
        "rate_window": text(connection.rate_window),
        **SYNC_LOGS_INLINE,
        **values,
    }


def _decide(staff_client, page: str, booking: Booking, resolution: str):
    """Press a decision button of ``booking``'s row as the staff home ``page`` drew it: its form's hidden
    fields (what the page showed) go with it."""
    row = re.search(rf'<tr class="overbooking" data-booking="{booking.pk}">(.*?)</tr>', page, re.S).group(1)
    shown = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', row))
    shown.pop("csrfmiddlewaretoken", None)
    return staff_client.post(
        reverse("admin:staff_home_resolve", args=[booking.pk]), {**shown, "resolution": resolution}
    )


def _shown(staff_client, url: str, values: dict) -> dict:
    """The change page's form as the browser posts it: ``values`` and the hidden copies of what the page
    showed (``initial-<field>``), read from the page itself."""
    page = staff_client.get(url)
    assert page.status_code == 200
    hidden = re.findall(r'<input type="hidden" name="(initial-[\w]+)" value="([^"]*)"', page.content.decode())
    assert hidden, "the page carries what it showed"
    return {**{name: html.unescape(value) for name, value in hidden}, **values}


# --- deciding on an overbooking that changed since it was shown ----------------------------------


def test_staff_home_cancel_the_other_cancels_a_guest_staff_never_saw(staff_client, overbooking, airbnb, day):
    """Used to fail. staff open the staff home: "#Otto (Airbnb) days 2-6 clashes with #Anna Direct", and decide
    to press "Cancel the other" (cancel Anna, whom they can rebook). Meanwhile Airbnb's webhook moves
    Otto to days 10-13, onto Carl's nights: Otto is still overbooked, now clashing with Carl. The button's
    POST carries only the resolution, so ``cancel_other`` cancels whatever Otto clashes with *now*: Carl,
    a guest staff never saw on that row, loses his confirmed stay (and Otto is promoted onto his nights),
    while Anna, whom staff chose, keeps hers.

    Cause: channelmgr/staff_home/views.py:overbooking_resolve_view posts no expectation, and
    pms_core/services/overbookings.py:overbooking_resolve cancels ``current.clashes_with`` unchecked.
    Fix: the form sends the clash it showed (hidden ``clashes_with`` = Anna's id, or the booking's
    ``updated_at``); ``overbooking_resolve(expected_clash_id=...)`` raises ``NotOverbooked``/a conflict
    ("it changed since you looked: reload") when ``current.clashes_with_id`` differs."""
    anna, otto, carl = overbooking
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert f'data-booking="{otto.pk}"' in page and "Anna Direct" in page  # what staff decide on

    otto = platform_moves_otto_onto_carls_nights(airbnb, day)
    assert otto.status == Booking.Status.OVERBOOKED and otto.clashes_with_id == carl.pk

    _decide(staff_client, page, otto, "cancel_other")

    carl.refresh_from_db()
    anna.refresh_from_db()
    assert carl.status == Booking.Status.CONFIRMED, (
        f"staff pressed 'Cancel the other' next to Anna (#{anna.pk}); the PMS cancelled Carl (#{carl.pk}), "
        f"whom the page never showed, because the overbooking changed after the page was drawn "
        f"(Anna is {anna.status})"
    )


def test_api_resolve_cancel_other_cancels_the_stay_the_booking_clashes_with_now(api, overbooking, airbnb, day):
    """Used to fail. an integrator GETs /bookings/{otto}: ``clashes_with`` = Anna; its user decides "cancel the
    other". Meanwhile Airbnb moves Otto onto Carl's nights (webhook imported). The integrator POSTs
    /bookings/{otto}/resolve {"action": "cancel_other"}: the PMS cancels Carl, a stay the integrator
    never read as part of this overbooking, and answers 200.

    Cause: pms_core/api/bookings.py:BookingResolveApi.post takes no expectation (no If-Match, no
    ``clashes_with`` in the body), and pms_core/services/overbookings.py:overbooking_resolve cancels
    ``current.clashes_with`` as it is under the lock. Fix: accept ``clashes_with`` (or an If-Match on
    the booking's ``updated_at``/ETag) and answer 409 when it no longer matches."""
    anna, otto, carl = overbooking
    read = api.get(f"/bookings/{otto.pk}").json()
    assert read["clashes_with"] == anna.pk and read["status"] == "overbooked"

    platform_moves_otto_onto_carls_nights(airbnb, day)

    answer = api.post(
        f"/bookings/{otto.pk}/resolve", {"action": "cancel_other", "clashes_with": read["clashes_with"]}, format="json"
    )
    assert answer.status_code == 409 and "changed since" in answer.json()["detail"], answer.content
    assert api.post(f"/bookings/{otto.pk}/resolve", {"action": "cancel_other"}, format="json").status_code == 400
    carl.refresh_from_db()
    assert carl.status == Booking.Status.CONFIRMED, (
        f"the integrator read 'clashes with #{anna.pk}' and asked to cancel the other; the API answered "
        f"{answer.status_code} and cancelled #{carl.pk} (Carl) instead"
    )


def test_staff_home_accept_covers_a_new_clash_staff_never_saw(staff_client, overbooking, airbnb, day):
    """Used to fail. staff see "#Otto days 2-6 clashes with Anna" and press "Accept" (they will sort Anna out by
    phone). Meanwhile Airbnb moves Otto onto Carl's nights. The accept applies to the new clash: Otto is
    marked accepted and leaves "Overbookings waiting for a decision", so nobody is ever told that Otto
    and Carl now hold the same nights (two guests arrive at one house on day 10).
    ``booking_modify`` itself drops an acceptance when the dates move ("what staff accepted was another
    clash"); the accept that arrives after the move undoes that protection.

    Cause: channelmgr/staff_home/views.py:overbooking_resolve_view and
    pms_core/services/overbookings.py:overbooking_resolve (the ACCEPT branch) accept whatever clash the
    booking has at POST time. Fix: post the clash/``updated_at`` the page showed and refuse ("changed
    since you looked") when it differs."""
    anna, otto, carl = overbooking
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert f'data-booking="{otto.pk}"' in page and "Anna Direct" in page

    platform_moves_otto_onto_carls_nights(airbnb, day)

    _decide(staff_client, page, otto, "accept")

    otto.refresh_from_db()
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert otto.overbooking_accepted_at is None and f'data-booking="{otto.pk}"' in page, (
        f"staff accepted Otto's clash with Anna (#{anna.pk}); the acceptance was stored for his new clash with "
        f"Carl (#{carl.pk}, days 10-13), and the overbooking vanished from the staff home"
    )


def test_staff_home_move_goes_to_another_unit_than_the_button_named(staff_client, overbooking, airbnb, unit, day):
    """Used to fail. the staff home offers "Move to Apartment A" for Otto (days 2-6; Apartment A is free then) and
    staff press it. Meanwhile Airbnb moves Otto to days 10-13, where Apartment A is taken (an owner
    block) but Apartment B is free. The POST re-picks a free unit (``free_unit_for``) and moves Otto to
    Apartment B, a unit staff never chose; the guest is told the wrong apartment, and staff's click was
    for other dates altogether.

    Cause: channelmgr/staff_home/views.py:overbooking_resolve_view recomputes the target unit at POST
    time; the form does not carry the unit (nor the stay's dates/``updated_at``) it showed. Fix: put the
    unit id in the button (``name="unit"``) and the booking's ``updated_at``; refuse with "changed since
    you looked" when either no longer holds."""
    apartment_a = Unit.objects.create(property=unit.property, name="Apartment A", base_price=Decimal("100.00"))
    apartment_b = Unit.objects.create(property=unit.property, name="Apartment B", base_price=Decimal("100.00"))
    _anna, otto, _carl = overbooking
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert "Move to Apartment A" in page

    calendar_block(unit=apartment_a, start=day(9), end=day(14), note="owner stay")
    platform_moves_otto_onto_carls_nights(airbnb, day)

    _decide(staff_client, page, otto, "move")

    otto.refresh_from_db()
    assert otto.unit_id != apartment_b.pk, (
        f"staff pressed 'Move to Apartment A' for days 2-6; Otto was moved to Apartment B for days "
        f"{otto.check_in}..{otto.check_out}"
    )


def test_safe_cancel_this_stay_after_the_platform_freed_its_nights(staff_client, overbooking, unit, day):
    """Safe: staff see Otto overbooked and press "Cancel this stay"; meanwhile Anna is cancelled (her nights
    free) and Otto is promoted to confirmed. ``overbooking_resolve`` re-reads the booking under the lock
    and refuses (``NotOverbooked``): Otto keeps his confirmed stay, staff get an error message."""
    anna, otto, _carl = overbooking
    staff_client.get(reverse("admin:index"))
    from pms_core.services import booking_cancel

    booking_cancel(booking=anna, actor="staff-2")
    otto.refresh_from_db()
    assert otto.status == Booking.Status.CONFIRMED

    staff_client.post(reverse("admin:staff_home_resolve", args=[otto.pk]), {"resolution": "cancel"})
    otto.refresh_from_db()
    assert otto.status == Booking.Status.CONFIRMED


# --- bookings through the API and the read-only booking admin ------------------------------------


def test_safe_an_integrator_cannot_write_back_a_platform_booking(api, airbnb, day):
    """Safe: an integrator GETs an Airbnb booking (days 2-6); Airbnb then moves it to days 10-13; the
    integrator PATCHes what it read. Platform bookings are read-only in the API (409), so the platform's
    dates stay."""
    otto, _ = booking_import(connection=airbnb, data=airbnb_copy(day(2), day(6), version=1))
    read = api.get(f"/bookings/{otto.pk}").json()
    booking_import(connection=airbnb, data=airbnb_copy(day(10), day(13), version=2))

    answer = api.patch(
        f"/bookings/{otto.pk}", {"check_in": read["check_in"], "check_out": read["check_out"]}, format="json"
    )
    otto.refresh_from_db()
    assert answer.status_code == 409
    assert (otto.check_in, otto.check_out) == (day(10), day(13))


def test_safe_a_booking_patch_writes_only_the_fields_it_sends(api, unit, day):
    """Safe: an integrator GETs a direct block (days 1-10), staff then reopen days 1-3 (the block now
    starts on day 3), and the integrator PATCHes only the note. ``booking_modify`` re-reads the row under
    the lock and sets only the fields given: the block keeps its new dates, no night is closed again."""
    block = calendar_block(unit=unit, start=day(1), end=day(10), note="painting")
    api.get(f"/bookings/{block.pk}")
    from pms_core.services import calendar_unblock

    calendar_unblock(unit=unit, start=day(1), end=day(3), actor="staff")
    answer = api.patch(f"/bookings/{block.pk}", {"note": "painting, 2nd coat"}, format="json")
    block.refresh_from_db()
    assert answer.status_code == 200
    assert (block.check_in, block.check_out, block.note) == (day(3), day(10), "painting, 2nd coat")


def test_safe_the_booking_change_form_cannot_write_back(staff_client, airbnb, day):
    """Safe: staff open an Airbnb booking's admin page, Airbnb moves it, staff submit the page. The
    booking admin is read-only (no change permission), so the POST writes nothing."""
    otto, _ = booking_import(connection=airbnb, data=airbnb_copy(day(2), day(6), version=1))
    url = reverse("admin:pms_core_booking_change", args=[otto.pk])
    assert staff_client.get(url).status_code == 200
    booking_import(connection=airbnb, data=airbnb_copy(day(10), day(13), version=2))

    staff_client.post(url, {"check_in": day(2).isoformat(), "check_out": day(6).isoformat(), "status": "confirmed"})
    otto.refresh_from_db()
    assert (otto.check_in, otto.check_out) == (day(10), day(13))


def test_safe_cancel_selected_skips_a_platform_booking_selected_from_a_stale_list(staff_client, airbnb, day):
    """Safe: staff tick an Airbnb booking on the booking list and run "Cancel selected direct bookings";
    the action skips platform bookings whatever the list showed, so it cannot cancel what Airbnb holds."""
    otto, _ = booking_import(connection=airbnb, data=airbnb_copy(day(2), day(6), version=1))
    staff_client.post(
        reverse("admin:pms_core_booking_changelist"),
        {"action": "cancel_direct_bookings", "_selected_action": [otto.pk]},
    )
    otto.refresh_from_db()
    assert otto.status == Booking.Status.CONFIRMED


def test_safe_a_calendar_write_sets_only_the_values_it_sends(api, unit, day):
    """Safe: an integrator GETs the unit's calendar (min stay 2 everywhere), staff then set min stay 5 on
    days 1-7, and the integrator POSTs only a price for those nights. ``calendar_set`` writes only the
    values given, under the unit's lock: staff's min stay stays."""
    api.get(f"/units/{unit.pk}/calendar", {"start": day(1).isoformat(), "end": day(8).isoformat()})
    from pms_core.services import calendar_set_restrictions

    calendar_set_restrictions(unit=unit, start=day(1), end=day(8), min_stay=5)
    answer = api.post(
        "/calendar",
        {"values": [{"unit": unit.pk, "start": day(1).isoformat(), "end": day(8).isoformat(), "price": "199.00"}]},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    nights = api.get(f"/units/{unit.pk}/calendar", {"start": day(1).isoformat(), "end": day(8).isoformat()})
    assert {(n["min_stay"], n["price"]) for n in nights.json()["nights"]} == {(5, "199.00")}


# --- units, properties, connections: a form or PUT written back whole ----------------------------


def test_unit_admin_form_reverts_a_base_price_changed_since_it_was_opened(staff_client, api, unit):
    """Used to fail. staff open the unit's admin page (base price 150.00). Meanwhile the integrator (revenue
    tool) PATCHes /units/{id} base_price 180.00, which is pushed to every platform. Staff change only
    "max guests" to 6 and save: the page's untouched base price 150.00 goes back too, and the PMS pushes
    150.00 to every channel again: the rate the property manager set through their tool is silently lost.

    Cause: Django's admin computes ``form.changed_data`` against the row as it is at POST time, not as
    the page showed it, so a field another writer changed looks "changed" by staff;
    pms_core/admin.py:UnitAdmin.save_model hands those to ``unit_update``. Fix: compare with what the
    page showed (``show_hidden_initial=True`` on the form's fields, or a hidden version/``updated_at``
    field on Unit) and refuse with a form error "changed by someone else since you opened it: reload"."""
    url = reverse("admin:pms_core_unit_change", args=[unit.pk])
    shown = _shown(staff_client, url, _unit_form(unit))

    assert api.patch(f"/units/{unit.pk}", {"base_price": "180.00"}, format="json").status_code == 200

    answer = staff_client.post(url, {**shown, "max_guests": "6"})
    assert answer.status_code == 302, "the admin refused the save (no stale write to show)"
    unit.refresh_from_db()
    assert unit.max_guests == 6
    assert unit.base_price == Decimal("180.00"), (
        f"staff changed only max guests; the stale page wrote back base price {unit.base_price} over the "
        "180.00 the integrator set meanwhile"
    )


def test_property_admin_form_reverts_a_currency_changed_since_it_was_opened(staff_client, api, villa, unit):
    """Used to fail. staff open the property's admin page (currency EUR). Meanwhile the integrator PUTs the
    property with currency CHF (every price now announced in CHF to the platforms). Staff rename the
    property and save: the page's stale "EUR" goes back, and every unit's nights are re-announced in EUR
    with the CHF amounts: wrong prices on every platform.

    Cause: as for units: ``form.changed_data`` is computed against the row at POST time;
    pms_core/admin.py:PropertyAdmin.save_model passes it to ``property_update``. Fix: compare with what
    the page showed (hidden initial or a version field) and refuse the stale save."""
    url = reverse("admin:pms_core_property_change", args=[villa.pk])
    shown = _shown(staff_client, url, _property_form(villa))

    answer = api.patch(f"/properties/{villa.pk}", {"currency": "CHF"}, format="json")
    assert answer.status_code == 200, answer.content

    saved = staff_client.post(url, {**shown, "name": "Villa Sonnenschein (renovated)"})
    assert saved.status_code == 302, "the admin refused the save (no stale write to show)"
    villa.refresh_from_db()
    assert villa.name == "Villa Sonnenschein (renovated)"
    assert villa.currency == "CHF", (
        f"staff only renamed the property; the stale page wrote currency {villa.currency} back over the "
        "CHF the integrator set meanwhile"
    )


def test_unit_update_writes_every_column_and_reverts_a_concurrent_change(api, unit, monkeypatch):
    """Used to fail. two integrator calls on one unit at once: a revenue tool PATCHes base_price 180.00, the
    housekeeping tool PATCHes default_min_stay 3. Each request reads the unit, validates, then saves:
    the save writes every column of its copy, so whichever commits last puts back the other's old value
    (staged here: the min-stay PATCH commits while the price PATCH is validating). The min stay of 3 is
    lost and the platforms get min stay 2 again.

    Cause: pms_core/services/catalog.py:unit_update calls ``unit.save()`` (all columns) on a row read
    without a lock (the same holds for ``property_update``). Fix: as ``connection_update``: lock the row
    (``select_for_update``) and ``save(update_fields=[...the fields given...])``."""
    from pms_core.services import catalog

    real_validate = catalog.unit_validate
    staged = []

    def validate_while_another_patch_commits(*, unit):
        if not staged:
            staged.append(True)
            other = Unit.objects.get(pk=unit.pk)
            catalog.unit_update(unit=other, default_min_stay=3)
        return real_validate(unit=unit)

    monkeypatch.setattr(catalog, "unit_validate", validate_while_another_patch_commits)
    answer = api.patch(f"/units/{unit.pk}", {"base_price": "180.00"}, format="json")
    assert answer.status_code == 200 and staged

    unit.refresh_from_db()
    assert unit.base_price == Decimal("180.00")
    assert unit.default_min_stay == 3, (
        f"the min stay PATCH committed 3 while the price PATCH ran; the price PATCH's full-row save wrote "
        f"default_min_stay {unit.default_min_stay} back"
    )


def test_connection_admin_form_reverts_a_price_rule_changed_since_it_was_opened(staff_client, api, airbnb):
    """Used to fail. staff open the Airbnb connection's admin page (no price rule). Meanwhile the integrator
    PATCHes /channel-connections/{id} price_rule_percent 15 (Airbnb gets +15% on every night). Staff set
    a rate-limit override and save: the page's empty price rule is written back, and Airbnb is pushed the
    PMS prices without the 15% markup. ``connection_update`` writes only what differs from the stored
    row, but the admin form hands it every field as the page showed it.

    Cause: channelmgr/admin.py:ConnectionFormBase.save passes all ``UPDATABLE_FIELDS`` from
    ``cleaned_data`` (the stale page's values), not ``changed_data`` against what the page showed. Fix:
    pass only the fields staff changed relative to the page (hidden initial), or refuse a stale page
    through a version/``updated_at`` field."""
    url = reverse("admin:channelmgr_channelconnection_change", args=[airbnb.pk])
    shown = _shown(staff_client, url, _connection_form(airbnb))

    answer = api.patch(f"/channel-connections/{airbnb.pk}", {"price_rule_percent": "15"}, format="json")
    assert answer.status_code == 200, answer.content

    saved = staff_client.post(url, {**shown, "rate_limit": "5", "rate_window": "60"})
    assert saved.status_code == 302, "the admin refused the save (no stale write to show)"
    airbnb.refresh_from_db()
    assert airbnb.rate_limit == 5
    assert airbnb.price_rule_percent == Decimal("15"), (
        f"staff only set a rate limit; the stale page wrote the price rule back to {airbnb.price_rule_percent}"
    )


# --- an iCal feed's held removal, confirmed from a stale page ------------------------------------


def _feed_page(*numbers: int):
    from adapters.base import BookingPage

    blocks = tuple(
        BookingData(
            platform="ical",
            channel_booking_id=f"ev{n}@airbnb.com",
            listing_id="",
            status=BookingStatus.CONFIRMED,
            check_in=date(2027, 7, 1) + timedelta(days=3 * n),
            check_out=date(2027, 7, 3) + timedelta(days=3 * n),
            version="20270601T080000Z",
            raw_status="Reserved",
            kind="block",
        )
        for n in numbers
    )
    return BookingPage(bookings=blocks, cursor=None, is_snapshot=True)


def test_confirming_a_held_feed_removal_applies_a_newer_hold_staff_never_saw(staff_client, unit):
    """Used to fail. an Airbnb iCal feed holds 14 blocks. A poll sees 9 of them gone (the host really reopened
    those nights): the removal is held, the connection needs attention ("lost 9 of 14"). Staff check the
    host's calendar and decide to confirm. Meanwhile the next poll gets an empty feed (a glitch at
    Airbnb): the hold is replaced by "came back empty and lost all 14". Staff's confirm (the connection
    list's "Confirm the feed's held removal", which carries only the connection id) applies the newer
    hold: all 14 blocks are cancelled, including the 5 the host still blocks, and those nights open on
    every other platform (double-sell when Airbnb's guest arrives).

    Cause: channelmgr/admin.py:ChannelConnectionAdmin.confirm_ical_feed_change ->
    channelmgr/services/connections.py:ical_feed_change_confirm ->
    channelmgr/inbound/importer.py:ical_hold_confirm cancel whatever ``ical_hold`` holds at POST time.
    Fix: the confirmation names the hold it confirms (its ``since`` or its booking list, shown on the
    page / sent with the action) and ``ical_hold_confirm(expected_since=...)`` refuses
    (``ConnectionStateError``: "the feed changed since you looked") when the hold is another one."""
    import time_machine

    from channelmgr.inbound.importer import ical_snapshot_import

    with time_machine.travel(datetime(2027, 6, 1, 10, 0, tzinfo=UTC)):
        feed = ChannelConnection.objects.create(
            organization=unit.property.organization,
            unit=unit,
            platform_type="ical",
            platform_listing_id="airbnb-listing",
            feed_url="https://feeds.example.test/airbnb-listing.ics",
        )
        ical_snapshot_import(connection=feed, page=_feed_page(*range(14)))
        ical_snapshot_import(connection=feed, page=_feed_page(*range(5)))  # 9 of 14 gone: held
        feed.refresh_from_db()
        assert feed.ical_hold and len(feed.ical_hold["bookings"]) == 9
        shown = feed.ical_hold  # what staff look at and decide to confirm

    # The action's page shows the held removal, and staff read it (on the real clock: their session's).
    changelist = reverse("admin:channelmgr_channelconnection_changelist")
    action = {"action": "confirm_ical_feed_change", "_selected_action": [feed.pk]}
    page = staff_client.post(changelist, action).content.decode()
    assert "lost 9 of 14" in page
    stamp = re.search(rf'name="stamp_{feed.pk}" value="(\w+)"', page).group(1)

    with time_machine.travel(datetime(2027, 6, 1, 10, 5, tzinfo=UTC)):
        ical_snapshot_import(connection=feed, page=_feed_page())  # an empty feed: a new hold, all 14
        feed.refresh_from_db()
        assert len(feed.ical_hold["bookings"]) == 14

    answer = staff_client.post(changelist, {**action, "post": "yes", f"stamp_{feed.pk}": stamp}, follow=True)
    said = " / ".join(str(message) for message in answer.context["messages"])
    assert "changed since you looked" in said, said

    still_blocked_by_host = [f"{feed.pk}:ev{n}@airbnb.com" for n in range(5)]
    cancelled = Booking.objects.filter(
        channel_booking_id__in=still_blocked_by_host, status=Booking.Status.CANCELLED
    ).count()
    assert cancelled == 0, (
        f"staff confirmed the hold they saw ({shown['reason']}); the confirm applied the newer one "
        f"and released {cancelled} blocks the feed still had before its empty glitch ({said})"
    )
