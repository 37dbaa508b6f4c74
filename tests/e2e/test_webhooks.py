"""Integrators' webhooks end to end: the real processes deliver to a receiver on localhost, which checks
every signature with the snippet docs/integrators.md publishes.

This stack is the webhooks' own: it explicitly allows loopback receivers (``INTEGRATIONS_ALLOW_PRIVATE_URLS``,
off by default), and its processes reach Redis through a proxy the test can cut, so the broker can go
down while the test still sees the database.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest

from testkit import wait_for
from testkit.stack import Stack
from testkit.tcp_proxy import TcpProxy
from testkit.webhook_receiver import Receiver
from tests.e2e.conftest import services

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy():
    _database_url, redis_url = services()
    where = urlsplit(redis_url)
    started = TcpProxy(where.hostname or "127.0.0.1", where.port or 6379).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def hooks(proxy):
    import os

    database_url, redis_url = services()
    redis_db = os.environ.get("E2E_REDIS_DB", "9")
    stack = Stack(
        database_url=database_url,
        redis_url=redis_url,
        name="webhooks",
        extra_env={
            "INTEGRATIONS_ALLOW_PRIVATE_URLS": "true",  # the receiver below is on 127.0.0.1
            "REDIS_URL": f"redis://127.0.0.1:{proxy.port}/{redis_db}",
        },
    ).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def subscription(hooks, receiver):
    answer = hooks.api(
        "POST",
        "/webhook-subscriptions",
        json={"url": receiver.url, "event_types": ["booking.created", "booking.cancelled"]},
    )
    assert answer.status_code == 201, answer.text
    receiver.secret = answer.json()["secret"]
    return answer.json()["id"]


def stay(k: int) -> tuple[dt.date, dt.date]:
    start = dt.date.today() + dt.timedelta(days=20 + 10 * k)
    return start, start + dt.timedelta(days=2)


def direct_booking(hooks, k: int, guest: str) -> int:
    check_in, check_out = stay(k)
    answer = hooks.api(
        "POST",
        "/bookings",
        json={
            "unit": hooks.unit_id,
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guest_name": guest,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def received_for(receiver, event_type: str, **fields) -> list:
    return [
        d
        for d in receiver.of_type(event_type)
        if all(d.envelope["data"]["object"].get(name) == value for name, value in fields.items())
    ]


def test_a_guest_booking_on_the_sandbox_arrives_signed_and_in_sequence(hooks, receiver, subscription):
    check_in, check_out = stay(0)
    answer = hooks.book("airbnb", check_in, check_out, guest="Webhook Gast")
    assert answer.status_code == 201, answer.text
    reservation = answer.json()["id"]
    assert wait_for(lambda: received_for(receiver, "booking.created", channel_booking_id=reservation), timeout=90), (
        receiver.received,
        receiver.refused,
        hooks.logs_tail(),
    )
    (delivery,) = received_for(receiver, "booking.created", channel_booking_id=reservation)
    assert delivery.verified  # by the documented snippet
    assert delivery.headers["Webhook-Signature"].startswith("t=")
    assert delivery.envelope["data"]["object"]["guest_name"] == "Webhook Gast"
    assert delivery.envelope["data"]["object"]["source"] == "airbnb"

    booking = direct_booking(hooks, 1, "Second")
    assert hooks.api("POST", f"/bookings/{booking}/cancel").status_code == 200
    assert wait_for(lambda: received_for(receiver, "booking.cancelled", id=booking), timeout=60)
    sequences = receiver.sequences()
    assert sequences == sorted(set(sequences)) and len(sequences) >= 3


def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_try(hooks, receiver, subscription):
    receiver.fail_next(3)
    booking = direct_booking(hooks, 2, "Retry")
    assert wait_for(lambda: received_for(receiver, "booking.created", id=booking), timeout=90), hooks.logs_tail()
    (delivery,) = received_for(receiver, "booking.created", id=booking)
    refused = [d for d in receiver.refused if d.envelope["id"] == delivery.envelope["id"]]
    assert len(refused) == 3 and all(d.verified for d in refused)
    log = hooks.api("GET", f"/webhook-subscriptions/{subscription}/deliveries").json()["results"]
    attempts = sorted((d["attempt"], d["status_code"]) for d in log if d["event_id"] == delivery.envelope["id"])
    assert attempts == [(1, 500), (2, 500), (3, 500), (4, 200)]
    assert receiver.sequences() == sorted(set(receiver.sequences()))


def test_replay_since_redelivers_exactly_the_events_after_it(hooks, receiver, subscription):
    before = receiver.sequences()
    assert len(before) >= 3
    since = before[0]
    answer = hooks.api("POST", f"/webhook-subscriptions/{subscription}/replay?since={since}")
    assert answer.status_code == 202, answer.text
    expected = [s for s in before if s > since]
    assert wait_for(lambda: receiver.sequences()[len(before) :] == expected, timeout=60), (
        receiver.sequences(),
        expected,
    )
    replayed = receiver.received[len(before) :]
    assert all(d.verified for d in replayed)


def test_while_the_broker_is_down_the_event_waits_in_the_outbox_and_is_delivered_after(
    hooks, receiver, subscription, proxy
):
    proxy.down()
    try:
        booking = direct_booking(hooks, 3, "Outage")
        waiting = hooks.scalar(
            "SELECT count(*) FROM integrations_webhookevent WHERE event_type = 'booking.created' "
            "AND dispatched_at IS NULL AND (data->'object'->>'id')::int = %s",
            (booking,),
        )
        assert waiting == 1  # recorded with the booking, not handed to the broker
        assert not received_for(receiver, "booking.created", id=booking)
    finally:
        proxy.up()
    assert wait_for(lambda: received_for(receiver, "booking.created", id=booking), timeout=120), hooks.logs_tail()
    # The relay's sweep may deliver it before the event row itself is handed over; that follows.
    handed = "SELECT dispatched_at IS NOT NULL FROM integrations_webhookevent WHERE event_type = 'booking.created' "
    handed += "AND (data->'object'->>'id')::int = %s"
    assert wait_for(lambda: hooks.scalar(handed, (booking,)), timeout=60)
    assert receiver.received[-1].verified
