"""The inbound paths that acknowledge, against the promise: a booking is acknowledged to
a platform only after it is stored in the PMS, and one the PMS refuses (or could not store) is never
acknowledged, so the platform offers it again; a re-offered one is imported once.

Found in review (2026-12): each test whose docstring starts "Used to fail" failed before its fix. The
others pin behaviour no other test covered.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import IntegrityError

from channelmgr.inbound import importer, polling
from channelmgr.inbound.polling import connection_poll
from channelmgr.inbound.tasks import acknowledge_pending, poll_connection
from channelmgr.models import BookingAcknowledgement
from pms_core.models import Booking

from .test_poll_connection import _busy
from .test_pull_holes import _acknowledged, _refused
from .test_pulls_and_reconcile import ACK, NOTIF_REPORT_RS, PULL, _day, _queue, _reservation

pytestmark = pytest.mark.django_db


@pytest.fixture
def hotel(connect):
    return connect("booking_com", "4711")


def _page(platform_http, *reservations: str):
    pull = platform_http.get(PULL, body=_queue(*reservations), content_type="text/xml")
    ack = platform_http.post(ACK, body=NOTIF_REPORT_RS)
    return pull, ack


def _r(rid: str, n: int, modified: str, **kw) -> str:
    return _reservation(
        rid, hotel=kw.pop("hotel", "4711"), room="", start=_day(n), end=_day(n + 2), modified=modified, **kw
    )


# --- 1. a database error on one reservation of a page ------------------------------------------------


def test_a_database_error_on_one_reservation_fails_alone(hotel, platform_http, monkeypatch):
    """Used to fail. A page holds 3001, 3002, 3003; storing 3002 fails with a database error that comes back on every
    try (an IntegrityError/DataError the row itself causes). ``_import_page`` catches only ValidationError and
    DomainError, so the error escapes the pull: 3001 is stored but never acknowledged, 3003 is never imported,
    and every retry and every later pull of the account (all its hotels) stops at 3002. After 30 minutes
    Booking.com stops offering the others (e-mail fallback): 3003 never reaches the PMS, its nights stay open
    elsewhere. A reservation the adapter cannot read, and an iCal event hitting the same errors
    (``importer`` catches DataError/IntegrityError there), fail alone; this one should too: the others stored
    and acknowledged, 3002 unacknowledged and named under ``refused``."""
    real = importer.booking_import

    def poisoned(*, connection, data, **kw):
        if data.channel_booking_id == "3002":
            raise IntegrityError("CHECK constraint failed: a value of reservation 3002")
        return real(connection=connection, data=data, **kw)

    monkeypatch.setattr(polling, "booking_import", poisoned)
    _page(
        platform_http,
        _r("3001", 1, "2027-06-01T09:30:00Z"),
        _r("3002", 5, "2027-06-01T09:31:00Z"),
        _r("3003", 9, "2027-06-01T09:32:00Z"),
    )

    try:
        connection_poll(connection=hotel)
        escaped = None
    except Exception as exc:  # noqa: BLE001 - what the pull lets out is the finding
        escaped = exc

    stored = sorted(Booking.objects.values_list("channel_booking_id", flat=True))
    assert (escaped, stored, _acknowledged(platform_http)) == (None, ["3001", "3003"], ["3001", "3003"]), (
        f"the pull raised {escaped!r}; stored {stored}, acknowledged {_acknowledged(platform_http)}"
    )
    assert "3002" in _refused(hotel)


# --- 2. a crash between storing and acknowledging ---------------------------------------------------


def test_a_crash_between_storing_and_acknowledging_imports_the_reoffered_reservation_once(
    hotel, platform_http, monkeypatch
):
    """The worker dies after 3001 is committed and before its OTA_NotifReport goes out. Booking.com offers it
    again; the next pull imports it as unchanged (one stay, no second row) and acknowledges it with the same
    booking id."""
    pull, ack = _page(platform_http, _r("3001", 1, "2027-06-01T09:30:00Z"))
    monkeypatch.setattr(polling, "platform_call", _crash_on_acknowledge(polling.platform_call))
    with pytest.raises(KeyboardInterrupt):
        connection_poll(connection=hotel)
    assert ack.call_count == 0
    booking = Booking.objects.get(channel_booking_id="3001")
    assert BookingAcknowledgement.objects.get(booking=booking).acknowledged_at is None
    monkeypatch.undo()
    cache.delete(f"inbound:pulling:booking_com:{_account(hotel)}")  # a dead worker's lock (expires anyway)

    poll_connection.fn(hotel.pk)

    assert Booking.objects.filter(channel_booking_id="3001").count() == 1
    assert Booking.objects.get(channel_booking_id="3001").status == Booking.Status.CONFIRMED
    assert _acknowledged(platform_http) == ["3001"]
    assert f'ResID_Value="{booking.pk}"'.encode() in ack.calls[0].request.body
    assert BookingAcknowledgement.objects.get(booking=booking).acknowledged_at is not None


def _crash_on_acknowledge(real):
    def call(connection, fn, *args, **kwargs):
        if "acknowledge_bookings" in fn.__code__.co_names:
            raise KeyboardInterrupt("killed between storing and acknowledging")
        return real(connection, fn, *args, **kwargs)

    return call


def _account(connection) -> str:
    from channelmgr.resilience.platform_calls import rate_limit_account

    return rate_limit_account(connection)


# --- 3. deferred acknowledgements, then the process dies ------------------------------------------


@pytest.mark.parametrize("cache_lost", [False, True], ids=["cache-kept", "cache-lost"])
def test_deferred_acknowledgements_whose_follow_up_died_are_sent_by_a_later_scheduled_pull(
    hotel, platform_http, monkeypatch, cache_lost
):
    """A busy account's pull imports 3001 and defers its acknowledgement (ACK_BATCH_SECONDS); the process
    dies and the scheduled ``acknowledge_pending`` never runs (and, in one variant, the cache lost the
    pending mark too). The account's next scheduled pulls, still busy, import the re-offered 3001 as
    unchanged (one stay) and acknowledge it once ACK_BATCH_SECONDS have passed."""
    monkeypatch.setattr(acknowledge_pending, "send_with_options", lambda **kw: None)  # lost with the process
    pull, ack = _page(platform_http, _r("3001", 1, "2027-06-01T09:30:00Z"))
    _busy(hotel, 10)

    poll_connection.fn(hotel.pk)
    assert (pull.call_count, ack.call_count) == (1, 0)

    key = polling._ack_pending_key(hotel)
    if cache_lost:
        cache.delete(key)
        poll_connection.fn(hotel.pk)  # re-marks, defers again
        assert ack.call_count == 0
    cache.set(key, cache.get(key) - polling.ACK_BATCH_SECONDS)  # the next scheduled pull, 20+ s later
    poll_connection.fn(hotel.pk)

    assert ack.call_count == 1
    assert _acknowledged(platform_http) == ["3001"]
    assert Booking.objects.filter(channel_booking_id="3001").count() == 1
    assert not BookingAcknowledgement.objects.filter(acknowledged_at__isnull=True).exists()


# --- 4. a modification and a cancellation of one reservation in one page -----------------------------


@pytest.mark.parametrize("cancel_first", [False, True], ids=["modify-then-cancel", "cancel-then-modify"])
def test_a_modification_and_a_cancellation_in_one_page_end_cancelled_in_either_order(
    hotel, platform_http, cancel_first
):
    """3001 is stored (v 09:30). One page then holds its modification (v 10:00) and its cancellation
    (v 10:05), in either order: the stay ends cancelled, and both entries are acknowledged."""
    _page(platform_http, _r("3001", 1, "2027-06-01T09:30:00Z"))
    poll_connection.fn(hotel.pk)
    modify = _r("3001", 3, "2027-06-01T10:00:00Z", status="Modify")
    cancel = _r("3001", 3, "2027-06-01T10:05:00Z", status="Cancel")
    platform_http.replace("GET", PULL, body=_queue(*((cancel, modify) if cancel_first else (modify, cancel))))

    poll_connection.fn(hotel.pk)

    booking = Booking.objects.get(channel_booking_id="3001")
    assert booking.status == Booking.Status.CANCELLED
    assert _acknowledged(platform_http) == ["3001", "3001", "3001"]


def test_a_cancellation_after_a_modification_in_one_page_without_modify_times_is_not_lost(hotel, platform_http):
    """Used to fail. Entries without ``LastModifyDateTime`` (the shape of the OTA 2011B samples, which the parser
    accepts: docs/platforms.md "Booking.com pull") take the page's ``TimeStamp`` as their version, so every
    entry of a page has the same one. A page holding 3001's modification and then its cancellation applies
    the modification at version T and finds the cancellation "not newer" (``_stale``: ``version <= stored``):
    it is ignored, yet acknowledged, so Booking.com never offers it again. The guest cancelled; the PMS keeps
    the stay confirmed and its nights closed on every platform for good. (With distinct times it works: see
    above.) Within one page the later entry should win, or an equal version with another status be applied."""
    _page(platform_http, _r("3001", 1, "2027-06-01T09:30:00Z"))
    poll_connection.fn(hotel.pk)
    modify = _r("3001", 3, "", status="Modify").replace(' LastModifyDateTime=""', "")
    cancel = _r("3001", 3, "", status="Cancel").replace(' LastModifyDateTime=""', "")
    cancel = cancel.replace('CreateDateTime="2027-06-01T09:00:00Z" ', "")
    modify = modify.replace('CreateDateTime="2027-06-01T09:00:00Z" ', "")
    assert "LastModifyDateTime" not in modify + cancel
    platform_http.replace("GET", PULL, body=_queue(modify, cancel))

    poll_connection.fn(hotel.pk)

    booking = Booking.objects.get(channel_booking_id="3001")
    acknowledged = _acknowledged(platform_http)
    assert booking.status == Booking.Status.CANCELLED or acknowledged.count("3001") < 3, (
        f"the cancellation was acknowledged ({acknowledged}) but the stay is {booking.status} "
        f"(version {booking.source_version}, dates {booking.check_in}..{booking.check_out})"
    )


# --- 5. a reservation of a hotel or room we do not map -----------------------------------------------


def test_a_reservation_of_a_hotel_no_connection_maps_is_left_unacknowledged(hotel, platform_http):
    """An account-wide page holds 3001 for our hotel 4711 and 3009 for hotel 9999, which no connection maps
    (docs/platforms.md, "No room named" / docs/operations.md: refused, unacknowledged, on the sync log). 3001 is
    stored and acknowledged; 3009 is stored nowhere (not on 4711's unit), not acknowledged, and named."""
    _page(
        platform_http,
        _r("3001", 1, "2027-06-01T09:30:00Z"),
        _r("3009", 5, "2027-06-01T09:31:00Z", hotel="9999"),
    )

    poll_connection.fn(hotel.pk)

    assert list(Booking.objects.values_list("channel_booking_id", flat=True)) == ["3001"]
    assert _acknowledged(platform_http) == ["3001"]
    assert "3009" in _refused(hotel)


# --- 6. a booking the PMS refuses is never acknowledged ---------------------------------------------


def test_a_reservation_the_pms_refuses_is_never_acknowledged_while_the_others_are(hotel, platform_http):
    """3002 ends before it starts (the PMS refuses it): the others are stored and acknowledged, 3002 is
    not, on this pull or the next, and no acknowledgement row waits for a booking that does not exist."""
    bad = _reservation(
        "3002", hotel="4711", room="", start=_day(5), end=_day(5) + (_day(1) - _day(0)) * 1200,
        modified="2027-06-01T09:31:00Z",
    )  # fmt: skip
    _page(platform_http, _r("3001", 1, "2027-06-01T09:30:00Z"), bad)

    poll_connection.fn(hotel.pk)
    poll_connection.fn(hotel.pk)

    assert list(Booking.objects.values_list("channel_booking_id", flat=True)) == ["3001"]
    assert _acknowledged(platform_http) == ["3001", "3001"]
    assert "3002" in _refused(hotel)


# --- 7. Expedia: the notification is answered before the import; BR is the safety net -----------------


def test_an_expedia_notification_the_pms_refuses_is_answered_but_never_confirmed(
    client, settings, connect, platform_http
):
    """docs/platforms.md: the SOAP answer goes out before the import runs (the InboundEvent is committed
    first). A notified booking the PMS refuses (check-in before 2000) is therefore answered 200, but no BC
    confirms it: the event is failed for staff, and it stays pending in BR, whose pull refuses it again and
    confirms nothing."""
    from channelmgr.inbound.tasks import import_platform_booking
    from channelmgr.models import InboundEvent

    from .test_expedia_room_types import BOOKING, _br, _confirmed
    from .test_webhook_expedia import notification, post

    expedia = connect("expedia", "3546")
    body = notification(settings).replace(
        b'Start="2027-07-01" End="2027-07-04"', b'Start="1999-12-28" End="1999-12-31"'
    )
    _br(
        platform_http,
        settings,
        BOOKING.format(id="13357395", room="965645", arrival="1999-12-28", departure="1999-12-31"),
    )

    answer = post(client, body)
    assert answer.status_code == 200
    event = InboundEvent.objects.get()
    import_platform_booking.fn(event.pk)
    poll_connection.fn(expedia.pk)

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.FAILED
    assert not Booking.objects.filter(channel_booking_id="13357395").exists()
    assert _confirmed(platform_http) == []
    assert "13357395" in _refused(expedia)


def test_an_expedia_notification_is_stored_before_it_is_answered(client, settings, connect, monkeypatch):
    """If the InboundEvent cannot be stored, Expedia gets no 2xx (it sends the notification again)."""
    from channelmgr.inbound import webhooks

    from .test_webhook_expedia import notification, post

    connect("expedia", "3546")

    def broken(**kw):
        raise IntegrityError("database refused the event")

    monkeypatch.setattr(webhooks, "inbound_event_store", broken)
    client.raise_request_exception = False
    answer = post(client, notification(settings))
    assert answer.status_code >= 500
