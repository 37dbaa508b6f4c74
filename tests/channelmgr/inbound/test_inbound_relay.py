"""The inbound relay (``dispatch.inbound_relay_step``, the scheduler's ``relay_inbound``): a webhook is
stored and answered 2xx before its import is handed to the broker, so the platform never sends it again.
An import the broker refused is handed over again once it is back; one it took is never handed twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F
from django.utils import timezone

from channelmgr.inbound import dispatch
from channelmgr.inbound.dispatch import RELAY_GRACE, inbound_relay_step
from channelmgr.models import ChannelConnection, InboundEvent

from .conftest import airbnb_event, airbnb_headers, queued

pytestmark = pytest.mark.django_db(transaction=True)


def _deliver(client, code: str):
    body = airbnb_event(code, event_id=f"evt-{code}")
    response = client.post("/webhooks/airbnb", data=body, content_type="application/json", **airbnb_headers(body))
    assert response.status_code == 200
    return InboundEvent.objects.get(channel_booking_id=code)


def _age(seconds: float) -> None:
    InboundEvent.objects.update(received_at=F("received_at") - dt.timedelta(seconds=seconds))


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(actor, *args, delay_ms=None):
        return False  # what actor_send answers when the broker refuses

    monkeypatch.setattr(dispatch, "actor_send", refuse)
    return monkeypatch


def test_an_import_the_broker_took_is_stamped_and_never_relayed(client, airbnb, broker):
    event = _deliver(client, "HM1")
    assert event.dispatched_at is not None and queued(broker) == 1
    _age(60)

    assert inbound_relay_step() == 0
    assert queued(broker) == 1


def test_an_import_the_broker_refused_is_relayed_once_it_is_back_and_only_once(client, airbnb, broker, broker_down):
    event = _deliver(client, "HM1")
    assert (event.status, event.dispatched_at, queued(broker)) == (InboundEvent.Status.RECEIVED, None, 0)
    _age(RELAY_GRACE.total_seconds() + 1)
    assert inbound_relay_step() == 0  # still down: nothing handed, nothing stamped
    assert InboundEvent.objects.get().dispatched_at is None

    broker_down.undo()
    assert inbound_relay_step() == 1
    assert queued(broker) == 1 and InboundEvent.objects.get().dispatched_at is not None
    assert inbound_relay_step() == 0
    assert queued(broker) == 1


def test_the_relay_leaves_an_event_inside_its_own_hand_over_and_one_already_finished(
    client, airbnb, broker, broker_down
):
    _deliver(client, "HM1")
    _deliver(client, "HM2")
    broker_down.undo()
    assert inbound_relay_step() == 0  # both just arrived: their own on-commit hand-over comes first

    _age(RELAY_GRACE.total_seconds() + 1)
    InboundEvent.objects.filter(channel_booking_id="HM2").update(status=InboundEvent.Status.PROCESSED)
    assert inbound_relay_step() == 1
    assert list(
        InboundEvent.objects.filter(dispatched_at__isnull=False).values_list("channel_booking_id", flat=True)
    ) == ["HM1"]


def test_a_webhook_accepted_while_the_broker_was_down_is_imported_once_the_broker_is_back(
    client, airbnb, broker, broker_down
):
    """The webhook is verified, stored and answered 200, so Airbnb never sends it again; its on-commit
    hand-over fails (broker down) and the event stays ``received``. Once the broker is back, the
    scheduler's frequent jobs hand it over (``relay_inbound``). (Before it, only a person running
    ``replay_events`` did.)"""
    from channelmgr import scheduler

    assert _deliver(client, "HM1").status == InboundEvent.Status.RECEIVED
    assert queued(broker) == 0
    broker_down.undo()  # the broker is back

    _age(10)  # a few runs later
    # Airbnb's catch-up poll would find the booking too (``test_catch_up_polls``); here it is not yet due.
    ChannelConnection.objects.filter(pk=airbnb.pk).update(last_polled_at=timezone.now())
    for job in (scheduler.relay_outbox, scheduler.relay_inbound, scheduler.sweep_pushes, scheduler.enqueue_due_polls):
        job()

    assert queued(broker) == 1, "the accepted webhook's import is stranded until someone runs replay_events"
