"""A platform's read API can lag behind its own webhook. An import whose fetch answers an older copy than
the webhook announced is retried, never marked processed: a processed event is never looked at again, so
the change it announced would be lost."""

from __future__ import annotations

import pytest

from adapters.airbnb.adapter import AirbnbAdapter
from channelmgr.inbound.events import inbound_event_store
from channelmgr.inbound.processing import OlderCopyError, inbound_event_process
from channelmgr.models import ChannelConnection, InboundEvent
from pms_core.models import Booking

from .conftest import AIRBNB_BASE, airbnb_event, airbnb_reservation

pytestmark = pytest.mark.django_db


def _store(code: str, *, version: int, type_: str = "reservation.created") -> InboundEvent:
    (note,) = AirbnbAdapter.parse_webhook(headers={}, body=airbnb_event(code, version=version, type_=type_))
    event, _ = inbound_event_store(notification=note, correlation_id="older-copy")
    return event


def test_a_cancellation_webhook_whose_fetch_still_answers_the_older_copy_is_not_marked_processed(
    airbnb, platform_http, day
):
    """Airbnb announces ``reservation.cancelled`` at version 2; the read API, a moment behind its own
    webhook, still answers version 1. The import is not marked processed: it is retried until the copy is
    as new as announced. (It used to be marked processed, and the cancellation was lost.)"""
    created = airbnb_reservation("HM1", check_in=day(1), check_out=day(4), version=1)
    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=created)
    assert inbound_event_process(event_id=_store("HM1", version=1).pk) == InboundEvent.Status.PROCESSED

    # v2 (cancelled) is announced; the fetch still returns v1.
    event = _store("HM1", version=2, type_="reservation.cancelled")
    try:
        outcome = inbound_event_process(event_id=event.pk)
    except Exception:  # a transient error for dramatiq's retry is a fine answer
        outcome = InboundEvent.objects.get(pk=event.pk).status

    booking = Booking.objects.get(channel_booking_id="HM1")
    assert booking.status == Booking.Status.CANCELLED or outcome != InboundEvent.Status.PROCESSED, (
        "the v2 cancellation was marked processed from a v1 copy: nothing will apply it"
    )


def test_the_retry_applies_the_change_once_the_platform_answers_it(airbnb, platform_http, day):
    created = airbnb_reservation("HM1", check_in=day(1), check_out=day(4), version=1)
    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=created)
    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=created)  # still v1 at the first try
    cancelled = airbnb_reservation("HM1", check_in=day(1), check_out=day(4), version=2, status="cancelled")
    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=cancelled)
    assert inbound_event_process(event_id=_store("HM1", version=1).pk) == InboundEvent.Status.PROCESSED
    event = _store("HM1", version=2, type_="reservation.cancelled")

    with pytest.raises(OlderCopyError):
        inbound_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.RECEIVED and "older than" in event.error
    # The platform answered: the connection is not blamed for its lag.
    assert ChannelConnection.objects.get(pk=airbnb.pk).healthy is not False

    assert inbound_event_process(event_id=event.pk) == InboundEvent.Status.PROCESSED
    assert Booking.objects.get(channel_booking_id="HM1").status == Booking.Status.CANCELLED


def test_a_copy_newer_than_announced_is_applied(airbnb, platform_http, day):
    """The booking changed again after the webhook: the newer copy is the truth."""
    newer = airbnb_reservation("HM1", check_in=day(2), check_out=day(5), version=3)
    platform_http.get(f"{AIRBNB_BASE}/v2/reservations/HM1", json=newer)

    assert inbound_event_process(event_id=_store("HM1", version=2).pk) == InboundEvent.Status.PROCESSED
    booking = Booking.objects.get(channel_booking_id="HM1")
    assert (booking.check_in, booking.source_version) == (day(2), "0000000003")
