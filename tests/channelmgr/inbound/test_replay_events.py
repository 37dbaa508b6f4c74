"""manage.py replay_events: re-run the imports of stored webhook events."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from channelmgr.inbound.events import inbound_event_store
from channelmgr.models import InboundEvent
from pms_core.models import Booking

from .conftest import AIRBNB_BASE, airbnb_reservation, queued


def store(code, *, status=InboundEvent.Status.RECEIVED):
    from adapters.base import Notification, NotificationKind

    event, _ = inbound_event_store(
        notification=Notification(
            platform="airbnb",
            kind=NotificationKind.BOOKING_CREATED,
            event_key=f"evt-{code}",
            listing_id="AIR-1",
            channel_booking_id=code,
            version="0000000001",
        ),
        correlation_id="c1",
    )
    InboundEvent.objects.filter(pk=event.pk).update(status=status)
    return event


def replay(*args) -> str:
    out = StringIO()
    call_command("replay_events", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_failed_events_are_run_inline_with_now(airbnb, platform_http, day):
    platform_http.get(
        f"{AIRBNB_BASE}/v2/reservations/HM1", json=airbnb_reservation("HM1", check_in=day(1), check_out=day(3))
    )
    failed = store("HM1", status=InboundEvent.Status.FAILED)
    store("HM2", status=InboundEvent.Status.PROCESSED)

    output = replay("--failed", "--now")

    assert f"event {failed.pk}" in output and "processed" in output and "1 event(s) replayed" in output
    failed.refresh_from_db()
    assert failed.status == InboundEvent.Status.PROCESSED
    assert Booking.objects.filter(channel_booking_id="HM1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_by_default_events_whose_import_never_ran_are_enqueued(airbnb, broker):
    store("HM1")
    store("HM2", status=InboundEvent.Status.FAILED)

    output = replay()

    assert "1 event(s) replayed" in output and "enqueued" in output
    assert queued(broker) == 1


@pytest.mark.django_db
def test_since_and_platform_narrow_the_selection(airbnb, broker):
    old = store("HM1", status=InboundEvent.Status.FAILED)
    InboundEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=3))
    store("HM2", status=InboundEvent.Status.FAILED)
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()

    assert "1 event(s) replayed" in replay("--failed", "--since", since, "--platform", "airbnb")
    assert "0 event(s) replayed" in replay("--failed", "--platform", "google")


@pytest.mark.django_db
def test_an_id_is_replayed_whatever_its_status(airbnb, platform_http, day):
    platform_http.get(
        f"{AIRBNB_BASE}/v2/reservations/HM1", json=airbnb_reservation("HM1", check_in=day(1), check_out=day(3))
    )
    event = store("HM1", status=InboundEvent.Status.PROCESSED)

    replay("--id", str(event.pk), "--now")

    assert Booking.objects.filter(channel_booking_id="HM1").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last tuesday"], "--since"),
        (["--platform", "myspace"], "unknown platform"),
        (["--id", "999999"], "no inbound event"),
    ],
)
def test_bad_arguments_are_a_command_error(args, message):
    with pytest.raises(CommandError, match=message):
        replay(*args)
