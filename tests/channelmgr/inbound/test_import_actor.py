"""import_platform_booking: fetch the booking a webhook announced, apply it, record the outcome."""

import pytest
from django.conf import settings

from channelmgr.inbound.tasks import import_platform_booking
from channelmgr.models import ChannelConnection, InboundEvent, SyncLog
from pms_core.models import Booking, OutboxEvent

from .conftest import AIRBNB_BASE, airbnb_event, airbnb_headers, airbnb_reservation

TOKEN_URL = f"{AIRBNB_BASE}/oauth2/token"


def deliver(client, body):
    return client.post("/webhooks/airbnb", data=body, content_type="application/json", **airbnb_headers(body))


def stored_event(code="HM1", version=1):
    from adapters.airbnb.adapter import AirbnbAdapter

    body = airbnb_event(code, version=version)
    (notification,) = AirbnbAdapter.parse_webhook(headers={}, body=body)
    from channelmgr.inbound.events import inbound_event_store

    event, _ = inbound_event_store(notification=notification, correlation_id="corr-123")
    return event


@pytest.mark.django_db
def test_the_announced_booking_is_fetched_and_created(airbnb, platform_http, day):
    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=airbnb_reservation(check_in=day(1), check_out=day(4)))
    event = stored_event()

    import_platform_booking.fn(event.pk)

    booking = Booking.objects.get(source="airbnb", channel_booking_id="HM1")
    assert (booking.unit, booking.check_in, booking.check_out) == (airbnb.unit, day(1), day(4))
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED and event.processed_at is not None
    log = SyncLog.objects.get(direction="inbound", kind="bookings")
    assert (log.status, log.correlation_id, log.details["action"]) == ("success", "corr-123", "created")


@pytest.mark.django_db
def test_the_correlation_id_follows_into_the_outbox_event(airbnb, platform_http, day):
    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=airbnb_reservation(check_in=day(1), check_out=day(4)))
    event = stored_event()

    import_platform_booking.fn(event.pk)

    assert OutboxEvent.objects.get().correlation_id == "corr-123"


@pytest.mark.django_db
def test_a_processed_event_is_not_processed_again(airbnb, platform_http, day):
    fetch = platform_http.get(
        f"{AIRBNB_BASE}/v2/reservations/HM1", json=airbnb_reservation(check_in=day(1), check_out=day(4))
    )
    event = stored_event()

    import_platform_booking.fn(event.pk)
    import_platform_booking.fn(event.pk)

    assert fetch.call_count == 1
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_an_expired_token_is_refreshed_once_and_the_fetch_retried(airbnb, platform_http, day):
    url = f"{AIRBNB_BASE}/v2/reservations/HM1"
    platform_http.get(url, status=401, json={"error": "invalid_token", "error_message": "expired"})
    platform_http.get(url, json=airbnb_reservation(check_in=day(1), check_out=day(4)))
    platform_http.post(
        TOKEN_URL,
        json={"access_token": "airbnb-access-2", "refresh_token": "airbnb-refresh-2", "expires_in": 3600},
    )
    event = stored_event()

    import_platform_booking.fn(event.pk)

    assert Booking.objects.filter(channel_booking_id="HM1").exists()
    airbnb.refresh_from_db()
    assert (airbnb.access_token, airbnb.refresh_token) == ("airbnb-access-2", "airbnb-refresh-2")
    assert platform_http.calls[-1].request.headers["Authorization"] == "Bearer airbnb-access-2"


@pytest.mark.django_db
def test_a_permanent_error_fails_the_event_and_flags_the_connection_without_secrets(airbnb, platform_http):
    platform_http.get(
        f"{AIRBNB_BASE}/v2/reservations/HM1",
        status=403,
        json={"error": "forbidden", "error_message": "token airbnb-access-1 lacks scope"},
    )
    event = stored_event()

    import_platform_booking.fn(event.pk)

    event.refresh_from_db()
    airbnb.refresh_from_db()
    assert event.status == InboundEvent.Status.FAILED
    assert airbnb.status == ChannelConnection.Status.NEEDS_ATTENTION
    for text in (airbnb.last_error, event.error, SyncLog.objects.get().error):
        assert "airbnb-access-1" not in text


@pytest.mark.django_db
def test_a_transient_error_is_raised_for_dramatiqs_retry_and_the_event_stays_received(airbnb, platform_http):
    from adapters.base import PlatformAPIError

    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", status=503)
    event = stored_event()

    with pytest.raises(PlatformAPIError):
        import_platform_booking.fn(event.pk)

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.RECEIVED and event.attempts == 1
    assert ChannelConnection.objects.get().status == ChannelConnection.Status.ACTIVE


@pytest.mark.django_db
def test_an_event_replayed_after_its_connection_appeared_is_imported(connect, platform_http, day):
    event = stored_event()
    assert event.status == InboundEvent.Status.IGNORED
    connect("airbnb", "AIR-1")
    InboundEvent.objects.filter(pk=event.pk).update(status=InboundEvent.Status.RECEIVED)
    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=airbnb_reservation(check_in=day(1), check_out=day(4)))

    import_platform_booking.fn(event.pk)

    assert Booking.objects.filter(channel_booking_id="HM1").exists()


# --- through a real worker ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_webhook_delivered_ten_times_gives_one_booking(client, airbnb, platform_http, broker, worker, day):
    fetch = platform_http.get(
        f"{AIRBNB_BASE}/v2/reservations/HM1", json=airbnb_reservation(check_in=day(1), check_out=day(4))
    )
    body = airbnb_event("HM1")

    for _ in range(10):
        assert deliver(client, body).status_code == 200
    broker.join("inbound", timeout=10_000)

    assert Booking.objects.filter(source="airbnb", channel_booking_id="HM1").count() == 1
    assert fetch.call_count == 1
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


@pytest.mark.django_db(transaction=True)
def test_created_then_cancelled_webhooks_release_the_nights(client, airbnb, platform_http, broker, worker, day):
    url = f"{AIRBNB_BASE}/v2/reservations/HM1"
    platform_http.get(url, json=airbnb_reservation(check_in=day(1), check_out=day(4)))
    deliver(client, airbnb_event("HM1"))
    broker.join("inbound", timeout=10_000)
    platform_http.replace(
        "GET", url, json=airbnb_reservation(check_in=day(1), check_out=day(4), version=2, status="cancelled")
    )

    deliver(client, airbnb_event("HM1", type_="reservation.cancelled", version=2))
    broker.join("inbound", timeout=10_000)

    assert Booking.objects.get(channel_booking_id="HM1").status == Booking.Status.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_a_redelivery_after_a_killed_worker_imports_nothing_twice(airbnb, platform_http, broker, worker, day):
    """A SIGKILLed worker's message comes back with the same id: the committed row makes it a no-op."""
    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=airbnb_reservation(check_in=day(1), check_out=day(4)))
    event = stored_event()
    message = import_platform_booking.message(event.pk)

    broker.enqueue(message)
    broker.join("inbound", timeout=10_000)
    InboundEvent.objects.filter(pk=event.pk).update(status=InboundEvent.Status.RECEIVED)  # killed before marking
    broker.enqueue(message)
    broker.join("inbound", timeout=10_000)

    assert Booking.objects.filter(channel_booking_id="HM1").count() == 1
    assert OutboxEvent.objects.filter(event_type="booking.confirmed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_poison_message_is_capped_by_the_attempt_counter(airbnb, platform_http, broker, worker):
    from channelmgr.models import TaskAttempt

    fetch = platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", status=503)
    event = stored_event()
    message = import_platform_booking.message(event.pk)
    # It has already been delivered as often as allowed (redeliveries after crashes bypass dramatiq's count).
    TaskAttempt.objects.create(
        message_id=message.message_id, actor_name="import_platform_booking", attempts=settings.TASK_MAX_ATTEMPTS
    )

    broker.enqueue(message)
    broker.join("inbound", timeout=10_000)

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.FAILED and "gave up" in event.error
    assert fetch.call_count == 0
