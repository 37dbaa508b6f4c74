"""A connection held to close-outs (``closeouts_only``: the platform refused one of our values for good),
seen from everything *around* the push: the daily reconcile, ``manage.py sync``, the window-edge job,
bookings webhooked or pulled from the held platform, the iCal export, and a reconnect.

The promise: a night is closed on a platform exactly when an active stay or block holds it (a held
connection: every night booked elsewhere is closed there at once; what opens a night waits for a
resume), nothing a platform reports is lost, and nothing is sold twice.

The platforms are the fakes of ``test_prices_reach_platforms`` / ``test_refusal_keeps_closeouts``
(``responses``, each request applied as it lands): FeWo-direkt (listing L-1, refuses a minimum stay
above 14) is the held one; Booking.com hotel H1, room R1, on the same unit, is the active one
"elsewhere" (the pull test uses the Booking.com fakes of ``tests/channelmgr/inbound``). Found in review:
each test whose docstring says "used to" failed before its fix.
"""

# The fixtures come from the modules whose fake platforms this one uses.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from django.core.management import call_command

from adapters.base import Notification, NotificationKind, TokenSet
from alerts.models import Alert
from channelmgr.models import ChannelConnection, SyncLog
from pms_core.models import Booking
from pms_core.services import booking_create
from pms_core.services.calendar import calendar_set_restrictions
from tests.channelmgr.inbound.conftest import connect, platform_http  # noqa: F401 (fixtures)
from tests.channelmgr.inbound.test_pulls_and_reconcile import (
    ACK,
    NOTIF_REPORT_RS,
    PULL,
    _queue_by_hotel,
    _reservation,
    _unit,
)
from tests.channelmgr.inbound.test_pulls_and_reconcile import _day as _pull_day
from tests.channelmgr.sync.test_prices_reach_platforms import (  # noqa: F401 (fixtures)
    AVAILABILITY,
    BDC_AVAIL,
    BDC_RATES,
    FEWO_AVAIL,
    FEWO_RATES,
    FEWO_RESERVATIONS,
    NOW,
    PRICING,
    WINDOW_DAYS,
    _ota_ok,
    _quick,
    clock,
    fewo,
    settle,
)
from tests.channelmgr.sync.test_refusal_keeps_closeouts import MAX_MIN_STAY, Refusing

pytestmark = pytest.mark.django_db

BDC_RES = re.compile(r".*/hotels/ota/OTA_HotelResNotif.*$")
FEWO_ONE = re.compile(r".*/v1/reservations/([^/?]+)$")


class Platforms(Refusing):
    """The refusing FeWo-direkt, whose reservations list (and read-one call) answers ``reservations``,
    and an accepting Booking.com whose reservation queue is empty."""

    def __init__(self):
        super().__init__()
        self.reservations: dict[str, dict] = {}

    def fewo_reservations(self, request):
        return 200, {}, json.dumps({"items": list(self.reservations.values()), "page": 1, "hasMore": False})

    def fewo_reservation(self, request):
        found = self.reservations.get(FEWO_ONE.match(request.url).group(1))
        if found is None:
            return 404, {}, json.dumps({"errors": [{"code": "NOT_FOUND", "message": "no such reservation"}]})
        return 200, {}, json.dumps(found)

    def book(self, reservation_id: str, arrival: dt.date, departure: dt.date, *, revision=1, status="BOOKED"):
        self.reservations[reservation_id] = {
            "reservationId": reservation_id,
            "listingId": "L-1",
            "status": status,
            "arrivalDate": arrival.isoformat(),
            "departureDate": departure.isoformat(),
            "guest": {"name": "Gast", "email": "gast@example.com"},
            "adults": 2,
            "totalAmount": {"amount": "450.00", "currency": "EUR"},
            "revision": revision,
        }


@pytest.fixture
def platform():
    fake = Platforms()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_callback(responses.PUT, FEWO_AVAIL, callback=fake.fewo_availability)
        http.add_callback(responses.PUT, FEWO_RATES, callback=fake.fewo_rates)
        http.add_callback(responses.GET, FEWO_RESERVATIONS, callback=fake.fewo_reservations)
        http.add_callback(responses.GET, FEWO_ONE, callback=fake.fewo_reservation)
        http.add_callback(responses.GET, re.compile(r".*/v1/ping$"), callback=fake.ping)
        http.add_callback(responses.POST, BDC_RATES, callback=fake.bdc_rates, content_type="application/xml")
        http.add_callback(responses.POST, BDC_AVAIL, callback=fake.bdc_availability, content_type="application/xml")
        http.add(responses.GET, BDC_RES, body=_ota_ok("OTA_HotelResNotifRS"), content_type="application/xml")
        yield fake


@pytest.fixture
def bdc(unit) -> ChannelConnection:
    """The same unit on Booking.com (hotel H1, room R1): an active platform "elsewhere"."""
    return ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="booking_com",
        platform_listing_id="H1",
        platform_metadata={"room_id": "R1", "rate_plan_id": "BAR"},
        username="bdc-user",
        password="bdc-pass",
        rate_limit=500,
        rate_window=60.0,
    )


def _fresh(connection: ChannelConnection) -> ChannelConnection:
    return ChannelConnection.objects.get(pk=connection.pk)


def _fewo(platform: Platforms, night: dt.date) -> str | None:
    return platform.night("L-1", night).get("status")


def _bdc_closed(platform: Platforms, night: dt.date) -> bool | None:
    limit = platform.night("H1/R1/BAR", night).get("booking_limit")
    return None if limit is None else limit == 0


def _hold(unit, connections, platform, clock, day) -> None:
    """Settled, then a minimum stay FeWo-direkt does not take on days 5-7: FeWo-direkt is held."""
    settle(connections, clock)
    calendar_set_restrictions(unit=unit, start=day(5), end=day(8), min_stay=MAX_MIN_STAY + 6)
    settle(connections, clock)
    held = ChannelConnection.objects.get(platform_type="fewo_direkt")
    assert (held.status, held.closeouts_only) == (ChannelConnection.Status.NEEDS_ATTENTION, True)


# --- 1. the daily reconcile -----------------------------------------------------------------------------


def test_the_daily_reconcile_imports_a_booking_only_a_held_connection_knows_of(unit, fewo, bdc, platform, clock, day):
    """FeWo-direkt is held to close-outs; a guest books days 10-12 there and its webhook is lost
    (FeWo-direkt is webhook-only: nothing polls it). The daily job (``scheduler.reconcile_all``:
    ``manage.py reconcile --fix``) is the net for a lost webhook. The command used to read only ACTIVE
    connections: the held one was never compared, the stay never reached the PMS, and its nights stayed
    open on Booking.com (sold twice), with "total drift: 0" reported.

    A connection held to close-outs is reconciled like an active one (its bookings are imported; the
    fix's re-push goes out as close-outs: see the next test)."""
    from channelmgr.scheduler import reconcile_all

    _hold(unit, [fewo, bdc], platform, clock, day)
    platform.book("R-1", day(10), day(13))  # the webhook never came

    reconcile_all()
    settle([fewo, bdc], clock)

    imported = Booking.objects.filter(source="fewo_direkt", channel_booking_id="R-1").first()
    assert imported is not None and imported.is_active, (
        f"last reconcile of the held connection: {_fresh(fewo).last_reconcile}; "
        f"Booking.com closed on days 10-12: {[_bdc_closed(platform, day(n)) for n in (10, 11, 12)]}"
    )
    assert [_bdc_closed(platform, day(n)) for n in (10, 11, 12)] == [True] * 3


def test_reconcile_of_a_held_connection_asked_for_by_id_is_refused(unit, fewo, bdc, platform, clock, day):
    """Staff, told by the staff home that the held connection's drift is unknown, run
    ``manage.py reconcile --connection <id> --fix``. It used to be refused ("no active connection with
    id"); a held connection's credentials work (``credentials_work``), so it can be compared."""
    from django.core.management.base import CommandError

    _hold(unit, [fewo, bdc], platform, clock, day)
    platform.book("R-1", day(10), day(13))
    try:
        call_command("reconcile", "--connection", str(fewo.pk), "--fix", "--days", str(WINDOW_DAYS))
    except CommandError as exc:
        pytest.fail(f"reconcile of held connection {fewo.pk} refused: {exc}")
    assert Booking.objects.filter(source="fewo_direkt", channel_booking_id="R-1").exists()


def test_reconcile_fix_of_a_held_connection_imports_and_sends_only_closeouts(unit, fewo, bdc, platform, clock, day):
    """``reconcile_connection(fix=True)`` on the held
    connection itself imports the booking it missed, closes its nights on Booking.com, re-pushes the
    held connection's window as close-outs only (no rates, the refused minimum stay not sent again),
    and leaves it held."""
    from channelmgr.sync.reconcile import reconcile_connection

    _hold(unit, [fewo, bdc], platform, clock, day)
    platform.book("R-1", day(10), day(13))
    booking_create(unit=unit, check_in=day(15), check_out=day(17))
    settle([fewo, bdc], clock)
    assert _fewo(platform, day(15)) == "UNAVAILABLE"
    platform.held[("L-1", day(15))]["status"] = "AVAILABLE"  # drift: reopened on FeWo-direkt's side
    sent = dict(platform.sent)

    drift = reconcile_connection(connection=_fresh(fewo), days=WINDOW_DAYS, fix=True)
    settle([fewo, bdc], clock)

    assert drift.missing_in_pms == ["R-1"]
    assert Booking.objects.get(source="fewo_direkt", channel_booking_id="R-1").is_active
    assert [_bdc_closed(platform, day(n)) for n in (10, 11, 12)] == [True] * 3
    assert _fewo(platform, day(15)) == "UNAVAILABLE"  # the fix's re-push closed it again
    assert platform.sent["rates"] == sent["rates"]
    held = _fresh(fewo)
    assert (held.status, held.closeouts_only) == (ChannelConnection.Status.NEEDS_ATTENTION, True)
    assert Alert.objects.filter(kind="connection").count() == 1


# --- 2. manage.py sync ------------------------------------------------------------------------------------


def test_a_forced_full_sync_closes_a_held_connections_booked_nights(unit, fewo, bdc, platform, clock, day):
    """Held FeWo-direkt; a direct stay on days 10-12 was closed there. Day 10 then reads open on
    FeWo-direkt (the host reopened it in the extranet, or the platform restored an old calendar). The
    operator's tool for this is ``manage.py sync --now`` (push the whole window again). It used to read
    only ACTIVE connections, so the held one, the only one where the stay's night was open, was skipped
    and day 10 stayed open there (sold twice); ``--connection <id>`` refused it as not active.

    ``sync`` takes the connections that receive availability pushes
    (``receives_pushes(AVAILABILITY)``); a held one gets the window as close-outs (``push_connection``
    already does that, and skips its prices)."""
    _hold(unit, [fewo, bdc], platform, clock, day)
    booking_create(unit=unit, check_in=day(10), check_out=day(13))
    settle([fewo, bdc], clock)
    assert _fewo(platform, day(10)) == "UNAVAILABLE"
    platform.held[("L-1", day(10))]["status"] = "AVAILABLE"  # drift on the held platform
    sent = dict(platform.sent)

    call_command("sync", "--now", "--days", str(WINDOW_DAYS))

    assert _fewo(platform, day(10)) == "UNAVAILABLE", f"requests sent to FeWo-direkt since: {platform.sent} vs {sent}"
    assert platform.sent["rates"] == sent["rates"]


def test_a_full_sync_asked_for_a_held_connection_sends_its_closeouts_and_no_rates(
    unit, fewo, bdc, platform, clock, day
):
    """The same drift, fixed through the admin's "Sync now (full)" / the API's sync
    (``connection_sync`` then the ``run_sync_request`` actor): the held connection gets its window as
    close-outs, its prices are skipped (the row says why), and it stays held."""
    from channelmgr.services.connections import connection_sync
    from channelmgr.tasks import run_sync_request

    _hold(unit, [fewo, bdc], platform, clock, day)
    booking_create(unit=unit, check_in=day(10), check_out=day(13))
    settle([fewo, bdc], clock)
    platform.held[("L-1", day(10))]["status"] = "AVAILABLE"
    sent = dict(platform.sent)

    logs = connection_sync(connection=_fresh(fewo), sync_type="full")
    for entry in logs:
        run_sync_request.fn(entry.pk)

    assert _fewo(platform, day(10)) == "UNAVAILABLE"
    assert platform.sent["rates"] == sent["rates"]
    statuses = dict(SyncLog.objects.filter(pk__in=[e.pk for e in logs]).values_list("kind", "status"))
    assert statuses[AVAILABILITY] == SyncLog.Status.SUCCESS and statuses[PRICING] == SyncLog.Status.SKIPPED
    assert _fresh(fewo).closeouts_only


# --- 3. the window-edge job ---------------------------------------------------------------------------------


def test_a_stay_entering_the_window_is_closed_on_a_held_connection(unit, fewo, bdc, platform, clock, day):
    """A direct stay 40-42 days ahead (outside the 30-night window) while FeWo-direkt is
    held: once its nights enter the window the ``window_edges`` job marks them and they go out closed on
    the held platform, as close-outs (no rates)."""
    _hold(unit, [fewo, bdc], platform, clock, day)
    booking_create(unit=unit, check_in=day(40), check_out=day(43))
    settle([fewo, bdc], clock)
    assert _fewo(platform, day(40)) is None  # beyond the window: rightly not yet
    rates = platform.sent["rates"]

    clock.shift(dt.timedelta(days=25))
    settle([fewo, bdc], clock)

    assert [_fewo(platform, day(n)) for n in (40, 41, 42)] == ["UNAVAILABLE"] * 3
    assert _bdc_closed(platform, day(40)) is True
    assert platform.sent["rates"] == rates
    assert _fresh(fewo).closeouts_only


# --- 4. bookings from the held platform, the iCal export --------------------------------------------------


def _webhook(platform_booking_id: str, kind: NotificationKind, key: str, version: int) -> str:
    """A FeWo-direkt webhook stored and processed as the view and the import actor do."""
    from channelmgr.inbound.events import inbound_event_store
    from channelmgr.inbound.processing import inbound_event_process

    notification = Notification(
        platform="fewo_direkt",
        kind=kind,
        event_key=key,
        listing_id="L-1",
        channel_booking_id=platform_booking_id,
        version=f"{version:010d}",
    )
    event, _created = inbound_event_store(notification=notification, correlation_id="")
    return inbound_event_process(event_id=event.pk)


def test_a_booking_webhooked_from_a_held_connection_closes_its_nights_elsewhere(unit, fewo, bdc, platform, clock, day):
    """A guest books days 10-12 on the held FeWo-direkt: the webhook is imported, the
    nights close on Booking.com and in the unit's iCal export; the guest cancels there: the nights open
    on Booking.com again and leave the export."""
    from channelmgr.services.ical_export import ical_export_for, ical_feed

    _hold(unit, [fewo, bdc], platform, clock, day)
    platform.book("R-1", day(10), day(13))
    assert _webhook("R-1", NotificationKind.BOOKING_CREATED, "e-1", 1) == "processed"
    settle([fewo, bdc], clock)

    booking = Booking.objects.get(source="fewo_direkt", channel_booking_id="R-1")
    assert booking.is_active
    assert [_bdc_closed(platform, day(n)) for n in (10, 11, 12, 13)] == [True, True, True, False]
    assert f"booking-{booking.pk}@" in ical_feed(ical_export_for(unit))

    platform.book("R-1", day(10), day(13), revision=2, status="CANCELLED")
    assert _webhook("R-1", NotificationKind.BOOKING_CANCELLED, "e-2", 2) == "processed"
    settle([fewo, bdc], clock)
    assert [_bdc_closed(platform, day(n)) for n in (10, 11, 12)] == [False] * 3
    assert f"booking-{booking.pk}@" not in ical_feed(ical_export_for(unit))
    assert _fresh(fewo).closeouts_only


def test_a_held_hotel_is_not_left_out_of_its_accounts_pull_with_a_hotel_stopped_whole(connect, unit, platform_http):
    """One Booking.com account, three hotels: 4711 active (it leads the account's pull), 4712 held
    to close-outs (a rate of ours refused: its credentials, the account's, work), 4713 stopped whole
    (Booking.com no longer lets us read it: every pull naming it is refused for good, 403). The pull
    names all three, is refused, and ``polling._fetch_page`` used to ask again without *every* hotel
    needing attention: the held 4712 was dropped with 4713. A guest's new reservation at 4712 was never
    pulled (every scheduled pull repeated this while 4713 waited for staff), so it never reached the PMS
    and its nights stayed open on every other platform of that unit: sold twice.

    On a refusal, the hotels stopped whole are left out first (``credentials_work()`` false);
    a held hotel stays in the pull unless a pull naming it alone (with the active ones) is refused too."""
    from django.utils import timezone

    from channelmgr.inbound.polling import due_polls
    from channelmgr.inbound.tasks import poll_connection
    from channelmgr.services.connections_health import connection_mark_needs_attention

    first = connect("booking_com", "4711")
    held = connect("booking_com", "4712", unit=_unit(unit, "Annex"))
    gone = connect("booking_com", "4713", unit=_unit(unit, "Old house"))
    connection_mark_needs_attention(
        connection_id=held.pk, error="booking_com update_pricing: HTTP 400 rate 9000 refused", closeouts_only=True
    )
    connection_mark_needs_attention(connection_id=gone.pk, error="booking_com: HTTP 403 hotel 4713 is not yours")
    new = _reservation(
        "3101", hotel="4712", room="", start=_pull_day(1), end=_pull_day(4), modified="2027-06-01T09:30:00Z"
    )
    answer = _queue_by_hotel({"4712": new})

    def refuse_4713(request):
        if "4713" in parse_qs(urlparse(request.url).query)["hotel_ids"][0].split(","):
            return 403, {"Content-Type": "text/xml"}, b"<Errors><Error>hotel 4713 is not yours</Error></Errors>"
        return answer(request)

    platform_http.add_callback("GET", PULL, callback=refuse_4713)
    platform_http.post(ACK, body=NOTIF_REPORT_RS)

    assert due_polls(timezone.now()) == [first.pk]
    poll_connection.fn(first.pk)

    log = SyncLog.objects.filter(connection=first, kind=SyncLog.Kind.BOOKINGS).latest("pk")
    assert Booking.objects.filter(channel_booking_id="3101", unit=held.unit).exists(), (
        f"held hotel 4712's reservation not pulled; pull {log.status}: {log.details.get('refused')}"
    )


# --- 5. a reconnect ------------------------------------------------------------------------------------------


def test_storing_new_tokens_does_not_resume_a_held_connection(unit, fewo, bdc, platform, clock, day):
    """Held FeWo-direkt (minimum stay of 20 refused; not fixed). New tokens are stored
    (``connection_store_tokens``: what an OAuth reconnect, e.g. the admin's "reconnect" or the API's
    OAuth flow, does). It used to go through ``connection_recover``: the connection was put back ACTIVE
    with ``closeouts_only`` cleared and a full catch-up sync, so the refused value was sent again, refused
    again, and staff got a second "needs attention" alert (integrators a "recovered" then a
    "needs attention" event). A passing test does not resume a held connection for the same reason:
    new credentials say nothing of the refused value.

    Storing tokens recovers only a connection stopped whole (``closeouts_only`` False); a held
    one keeps its state until a person resumes it."""
    from channelmgr.services.connections import connection_store_tokens

    _hold(unit, [fewo, bdc], platform, clock, day)
    alerts = Alert.objects.filter(kind="connection").count()
    sent = dict(platform.sent)

    connection_store_tokens(connection=_fresh(fewo), tokens=TokenSet("new", "new-r", NOW + dt.timedelta(hours=1)))
    after_store = _fresh(fewo)
    settle([fewo, bdc], clock)

    held = _fresh(fewo)
    assert (after_store.status, after_store.closeouts_only) == (ChannelConnection.Status.NEEDS_ATTENTION, True), (
        f"after storing tokens: {after_store.status} closeouts_only={after_store.closeouts_only}; after settling: "
        f"{held.status} closeouts_only={held.closeouts_only}; alerts {alerts} -> "
        f"{Alert.objects.filter(kind='connection').count()}; FeWo requests {sent} -> {platform.sent}"
    )
    assert Alert.objects.filter(kind="connection").count() == alerts
