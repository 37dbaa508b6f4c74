"""Polling: Booking.com hands reservations over only by pull, and each batch must be acknowledged."""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from channelmgr.inbound.polling import due_polls, tokens_due_for_refresh
from channelmgr.inbound.tasks import import_platform_booking, poll_connection, refresh_connection_token
from channelmgr.models import ChannelConnection, InboundEvent, SyncLog
from pms_core.models import Booking

from .conftest import AIRBNB_BASE, BOOKING_BASE

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "adapters" / "booking_com" / "fixtures"
NOTIF_REPORT_RS = (
    b'<OTA_NotifReportRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Success/></OTA_NotifReportRS>'
)
EMPTY_QUEUE = b'<OTA_HotelResNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"/>'


@pytest.fixture
def booking_com(connect):
    return connect("booking_com", "4711")


@pytest.fixture
def queue(platform_http):
    pull = platform_http.get(
        f"{BOOKING_BASE}/hotels/ota/OTA_HotelResNotif",
        body=(FIXTURES / "res_notif_two_reservations.xml").read_bytes(),
        content_type="text/xml",
    )
    ack = platform_http.post(f"{BOOKING_BASE}/hotels/ota/OTA_NotifReport", body=NOTIF_REPORT_RS)
    return pull, ack


def test_a_poll_imports_the_queued_reservations_and_acknowledges_them(booking_com, queue):
    pull, ack = queue

    poll_connection.fn(booking_com.pk)

    booking = Booking.objects.get(source="booking_com", channel_booking_id="3001")
    assert (booking.check_in, booking.check_out, booking.guest_name) == (
        dt.date(2027, 7, 10),
        dt.date(2027, 7, 14),
        "Greta Gast",
    )
    assert ack.call_count == 1
    report = ack.calls[0].request.body
    report = report if isinstance(report, bytes) else report.encode()
    assert b'ID="3001"' in report and f'ResID_Value="{booking.pk}"'.encode() in report
    assert b'ID="2999"' in report  # a cancellation we never held is acknowledged too
    booking_com.refresh_from_db()
    assert booking_com.last_polled_at is not None
    log = SyncLog.objects.get()
    assert (log.direction, log.kind, log.status, log.request_count) == ("inbound", "bookings", "success", 2)


def test_polling_the_same_queue_again_imports_nothing_twice(booking_com, queue):
    poll_connection.fn(booking_com.pk)
    poll_connection.fn(booking_com.pk)

    assert Booking.objects.filter(source="booking_com", status="confirmed").count() == 1


def test_an_empty_queue_sends_no_acknowledgement(booking_com, platform_http):
    platform_http.get(f"{BOOKING_BASE}/hotels/ota/OTA_HotelResNotif", body=EMPTY_QUEUE)
    ack = platform_http.post(f"{BOOKING_BASE}/hotels/ota/OTA_NotifReport", body=NOTIF_REPORT_RS)

    poll_connection.fn(booking_com.pk)

    assert ack.call_count == 0
    assert SyncLog.objects.get().status == "success"


def test_a_rejected_login_marks_the_connection_as_needing_attention(booking_com, platform_http):
    platform_http.get(
        f"{BOOKING_BASE}/hotels/ota/OTA_HotelResNotif",
        status=401,
        body=b'<OTA_HotelResNotifRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">'
        b'<Errors><Error Type="4" Code="497">Authorization error</Error></Errors></OTA_HotelResNotifRS>',
    )

    poll_connection.fn(booking_com.pk)

    booking_com.refresh_from_db()
    assert booking_com.status == ChannelConnection.Status.NEEDS_ATTENTION
    assert "sandbox-booking-pass" not in booking_com.last_error
    assert SyncLog.objects.get().status == "failed"


def test_a_ping_event_is_processed_by_polling_its_connection(booking_com, queue):
    event = InboundEvent.objects.create(
        platform="booking_com",
        event_key="ping:4711:3001",
        connection=booking_com,
        kind="pull_now",
        payload={"platform": "booking_com", "kind": "pull_now", "event_key": "ping:4711:3001", "listing_id": "4711"},
    )

    import_platform_booking.fn(event.pk)

    assert Booking.objects.filter(channel_booking_id="3001").exists()
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED


def test_a_paused_connection_is_not_polled(booking_com, platform_http):
    ChannelConnection.objects.filter(pk=booking_com.pk).update(status="paused")

    poll_connection.fn(booking_com.pk)  # no HTTP registered: any request would fail the test

    assert not SyncLog.objects.exists()


# --- schedule -------------------------------------------------------------------------------------


def test_booking_com_is_due_every_poll_interval_and_claimed_once(booking_com, settings):
    now = timezone.now()

    assert due_polls(now) == [booking_com.pk]
    assert due_polls(now) == []  # claimed: a second scheduler pass gets nothing
    assert due_polls(now + dt.timedelta(seconds=settings.PLATFORMS["booking_com"]["poll_seconds"] - 1)) == []
    assert due_polls(now + dt.timedelta(seconds=settings.PLATFORMS["booking_com"]["poll_seconds"])) == [booking_com.pk]


def test_expedia_is_polled_every_minute_as_a_safety_net(connect):
    expedia = connect("expedia", "3546")
    now = timezone.now()

    assert due_polls(now) == [expedia.pk]
    assert due_polls(now + dt.timedelta(seconds=59)) == []
    assert due_polls(now + dt.timedelta(seconds=60)) == [expedia.pk]


def test_an_ical_feed_uses_its_own_interval_but_never_less_than_a_minute(connect, unit, settings, villa):
    from pms_core.models import Unit

    other = Unit.objects.create(property=villa, name="Annex", base_price="80.00")
    custom = connect("ical", "feed-1", feed_url="https://x.test/a.ics", platform_metadata={"poll_seconds": 5})
    default = connect("ical", "feed-2", unit=other, feed_url="https://x.test/b.ics")
    now = timezone.now()

    assert sorted(due_polls(now)) == sorted([custom.pk, default.pk])
    assert due_polls(now + dt.timedelta(seconds=60)) == [custom.pk]
    assert custom.pk in due_polls(now + dt.timedelta(seconds=settings.PLATFORMS["ical"]["poll_seconds"]))


def test_paused_connections_are_not_scheduled(connect, airbnb):
    """Airbnb's webhooks have a catch-up poll behind them (``test_catch_up_polls``): paused, neither it
    nor a Booking.com hotel is polled."""
    booking_com = connect("booking_com", "4711")
    assert sorted(due_polls(timezone.now())) == sorted([airbnb.pk, booking_com.pk])
    ChannelConnection.objects.filter(pk__in=[airbnb.pk, booking_com.pk]).update(status="paused", last_polled_at=None)

    assert due_polls(timezone.now()) == []


# --- tokens ---------------------------------------------------------------------------------------


def test_a_token_about_to_expire_is_due_for_refresh_once(airbnb):
    from django.core.cache import cache

    cache.delete(f"inbound:token-refresh:{airbnb.pk}")
    now = timezone.now()
    ChannelConnection.objects.filter(pk=airbnb.pk).update(token_expires_at=now + dt.timedelta(minutes=5))

    assert tokens_due_for_refresh(now) == [airbnb.pk]
    assert tokens_due_for_refresh(now) == []


def test_a_fresh_token_is_not_due(airbnb):
    now = timezone.now()
    ChannelConnection.objects.filter(pk=airbnb.pk).update(token_expires_at=now + dt.timedelta(hours=2))

    assert tokens_due_for_refresh(now) == []


def test_the_refresh_actor_stores_the_new_tokens(airbnb, platform_http):
    ChannelConnection.objects.filter(pk=airbnb.pk).update(token_expires_at=timezone.now() + dt.timedelta(minutes=1))
    platform_http.post(
        f"{AIRBNB_BASE}/oauth2/token",
        json={"access_token": "airbnb-access-2", "refresh_token": "airbnb-refresh-2", "expires_in": 3600},
    )

    refresh_connection_token.fn(airbnb.pk)

    airbnb.refresh_from_db()
    assert (airbnb.access_token, airbnb.refresh_token) == ("airbnb-access-2", "airbnb-refresh-2")
    assert airbnb.token_expires_at > timezone.now() + dt.timedelta(minutes=50)


def test_a_second_refresh_message_for_a_token_just_refreshed_spends_no_refresh_token(
    airbnb, platform_http, monkeypatch
):
    """Used to fail (found in review, 2026-12-06). Two refresh messages of one connection: the second found
    the token due, then the first refreshed it. The second refreshed again, with the new refresh token: a
    request and a single-use token spent for nothing."""
    from channelmgr.inbound import tasks

    ChannelConnection.objects.filter(pk=airbnb.pk).update(token_expires_at=timezone.now() + dt.timedelta(minutes=1))
    token = platform_http.post(
        f"{AIRBNB_BASE}/oauth2/token",
        json={"access_token": "airbnb-access-2", "refresh_token": "airbnb-refresh-2", "expires_in": 3600},
    )
    real_due, meanwhile = tasks.token_refresh_due, []

    def due_then_the_other_message_refreshes(connection):
        due = real_due(connection)
        if not meanwhile:
            meanwhile.append(True)
            refresh_connection_token.fn(airbnb.pk)  # the other message, done between the check and the lock
        return due

    monkeypatch.setattr(tasks, "token_refresh_due", due_then_the_other_message_refreshes)
    refresh_connection_token.fn(airbnb.pk)

    assert token.call_count == 1
    airbnb.refresh_from_db()
    assert airbnb.refresh_token == "airbnb-refresh-2"


def test_the_refresh_lock_outlives_the_slowest_refresh():
    """A lock that lapsed during a slow refresh let another process trade the same single-use refresh token."""
    from adapters import http
    from channelmgr.resilience.platform_calls import REFRESH_LOCK_SECONDS

    assert REFRESH_LOCK_SECONDS > http.CONNECT_TIMEOUT + http.READ_TIMEOUT + 10


def test_a_refused_refresh_marks_the_connection_as_needing_attention(airbnb, platform_http):
    ChannelConnection.objects.filter(pk=airbnb.pk).update(token_expires_at=timezone.now() + dt.timedelta(minutes=1))
    platform_http.post(f"{AIRBNB_BASE}/oauth2/token", status=400, json={"error": "invalid_grant"})

    refresh_connection_token.fn(airbnb.pk)

    airbnb.refresh_from_db()
    assert airbnb.status == ChannelConnection.Status.NEEDS_ATTENTION
    assert "airbnb-refresh-1" not in airbnb.last_error


def test_one_pull_reads_every_hotel_of_an_account_and_imports_each_into_its_own_unit(unit, connect, platform_http):
    """Booking.com's 20 requests a minute are per account: one pull per account and period, not per hotel."""
    from decimal import Decimal

    from pms_core.models import Unit

    units = [unit] + [
        Unit.objects.create(property=unit.property, name=f"Room {n}", base_price=Decimal("90.00")) for n in (2, 3)
    ]
    hotels = [connect("booking_com", code, unit=u) for code, u in zip(("4711", "4712", "4713"), units, strict=True)]
    elsewhere = Unit.objects.create(property=unit.property, name="Annex", base_price=Decimal("90.00"))
    other_account = connect("booking_com", "5000", unit=elsewhere, username="another-account")
    body = (FIXTURES / "res_notif_two_reservations.xml").read_bytes().replace(b'"4711"', b'"4712"')
    pull = platform_http.get(f"{BOOKING_BASE}/hotels/ota/OTA_HotelResNotif", body=body, content_type="text/xml")
    platform_http.post(f"{BOOKING_BASE}/hotels/ota/OTA_NotifReport", body=NOTIF_REPORT_RS)

    claimed = due_polls(timezone.now())
    assert sorted(claimed) == sorted([hotels[0].pk, other_account.pk])  # one per account
    poll_connection.fn(hotels[0].pk)

    assert pull.call_count == 1
    assert "hotel_ids=4711%2C4712%2C4713" in pull.calls[0].request.url
    booking = Booking.objects.get(source="booking_com", channel_booking_id="3001")
    assert booking.unit == units[1]  # hotel 4712's unit, though the pull ran on 4711's connection
    polled = ChannelConnection.objects.filter(pk__in=[h.pk for h in hotels]).values_list("last_polled_at", flat=True)
    assert all(polled)
    assert due_polls(timezone.now()) == []  # nobody is due again within the period


# --- acknowledgements while the account is busy ------------------------------------------------


def _busy(connection, grants):
    from channelmgr.resilience.limiter import limiter_for
    from channelmgr.resilience.platform_calls import rate_limit_account

    limiter = limiter_for(platform="booking_com", account=rate_limit_account(connection), connection=connection)
    for _ in range(grants):
        assert limiter.acquire()


def test_a_busy_account_acknowledges_in_one_request_what_its_pulls_read_over_a_while(booking_com, queue, monkeypatch):
    """Half of Booking.com's 20 a minute spent: a pull leaves its reservations to a later pull (which the
    platform offers them to again), schedules that pull once, and the pull after ACK_BATCH_SECONDS
    acknowledges them all in one request."""
    from django.core.cache import cache

    from channelmgr.inbound import polling
    from channelmgr.inbound.tasks import acknowledge_pending

    pull, ack = queue
    scheduled = []
    monkeypatch.setattr(acknowledge_pending, "send_with_options", lambda **kw: scheduled.append(kw))
    _busy(booking_com, 10)

    poll_connection.fn(booking_com.pk)
    poll_connection.fn(booking_com.pk)
    assert (pull.call_count, ack.call_count) == (2, 0)
    assert Booking.objects.filter(source="booking_com", channel_booking_id="3001").count() == 1
    assert [kw["args"] for kw in scheduled] == [(booking_com.pk,)]  # one follow-up, not one per pull
    assert scheduled[0]["delay"] > polling.ACK_BATCH_SECONDS * 1000
    first = SyncLog.objects.filter(kind="bookings").order_by("pk").first()
    assert (first.request_count, first.details["acknowledgements_deferred"]) == (1, 2)

    # ACK_BATCH_SECONDS later, still busy: the follow-up pull acknowledges, and no later one is needed.
    key = polling._ack_pending_key(booking_com)
    cache.set(key, cache.get(key) - polling.ACK_BATCH_SECONDS)
    acknowledge_pending.fn(booking_com.pk)
    assert (pull.call_count, ack.call_count) == (3, 1)
    assert b'ID="3001"' in ack.calls[0].request.body and b'ID="2999"' in ack.calls[0].request.body
    assert not polling.acknowledgements_pending(booking_com)
    acknowledge_pending.fn(booking_com.pk)
    assert pull.call_count == 3


def test_a_quiet_account_acknowledges_each_pull_at_once(booking_com, queue):
    pull, ack = queue
    _busy(booking_com, 3)  # with the two pulls and their acknowledgements: still under half of 20
    poll_connection.fn(booking_com.pk)
    poll_connection.fn(booking_com.pk)
    assert (pull.call_count, ack.call_count) == (2, 2)


def test_a_pull_of_an_account_already_being_pulled_waits_a_moment_and_sends_nothing(booking_com, queue):
    """A ping's pull that finds the account's scheduled poll running looks again shortly (then finds itself
    covered): two pulls side by side would spend the budget on the same reservations."""
    from django.core.cache import cache

    from channelmgr.inbound import polling
    from channelmgr.resilience.guard import Backpressure
    from channelmgr.resilience.platform_calls import rate_limit_account

    pull, ack = queue
    key = f"inbound:pulling:booking_com:{rate_limit_account(booking_com)}"
    cache.add(key, 1, timeout=60)
    try:
        with pytest.raises(Backpressure) as deferred:
            poll_connection.fn(booking_com.pk)
    finally:
        cache.delete(key)
    assert deferred.value.reason == "pull_in_progress"
    assert 0 < deferred.value.delay_seconds == polling.PULL_IN_PROGRESS_RETRY_SECONDS < 1
    assert (pull.call_count, ack.call_count) == (0, 0)
    poll_connection.fn(booking_com.pk)
    assert pull.call_count == 1


def test_a_busy_pull_whose_follow_up_cannot_be_scheduled_still_imports(booking_com, queue, monkeypatch):
    """The broker is down: the reservations are imported all the same, and the next pull acknowledges them."""
    from channelmgr.inbound.tasks import acknowledge_pending

    def broker_down(**kwargs):
        raise ConnectionError("broker unreachable")

    pull, ack = queue
    monkeypatch.setattr(acknowledge_pending, "send_with_options", broker_down)
    _busy(booking_com, 10)
    poll_connection.fn(booking_com.pk)
    assert (pull.call_count, ack.call_count) == (1, 0)
    assert Booking.objects.filter(source="booking_com", channel_booking_id="3001").exists()
    assert SyncLog.objects.get(kind="bookings").status == "success"
