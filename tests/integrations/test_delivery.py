"""Delivery: signed, one event at a time in sequence order, retried with backoff, disabled after 24 h of
failures, rotated secrets sign twice, and a replay re-sends exactly what came after ``since``."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.delivery import GIVE_UP_AFTER, retry_delay, subscription_deliver
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.outbox import event_record
from integrations.selectors import webhook_notices
from integrations.signing import TOLERANCE_SECONDS
from integrations.subscriptions import secret_rotate, subscription_replay, subscription_update
from pms_core.services import booking_cancel, booking_create
from testkit.webhook_receiver import documented_verifier

pytestmark = pytest.mark.usefixtures("private_urls")


def run(subscription, clock=None, send=None):
    kwargs = {"subscription_id": subscription.pk}
    if clock is not None:
        kwargs["clock"] = clock
    if send is not None:
        kwargs["send"] = send
    return subscription_deliver(**kwargs)


def record(org, n=1, event_type="booking.created"):
    return [event_record(organization_id=org.pk, event_type=event_type, data={"object": {"n": i}}) for i in range(n)]


def test_a_new_booking_reaches_the_receiver_signed_as_the_docs_say(receiver, subscribe, unit, day):
    subscription = subscribe(receiver.url, receiver=receiver)
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Ada")
    assert run(subscription).delivered == 1
    (delivery,) = receiver.received
    assert delivery.verified
    assert delivery.envelope["type"] == "booking.created"
    assert delivery.envelope["data"]["object"]["id"] == booking.pk
    assert delivery.headers["Webhook-Sequence"] == str(delivery.envelope["sequence"])
    assert delivery.headers["Webhook-Id"] == str(delivery.envelope["id"])
    log = WebhookDelivery.objects.get()
    assert (log.succeeded, log.status_code, log.response_excerpt, log.attempt) == (True, 200, "ok", 1)
    assert log.duration_ms is not None


def test_the_documented_snippet_refuses_a_wrong_secret_a_changed_body_and_a_stale_time():
    import hashlib
    import hmac

    verify = documented_verifier()
    body, secret, t = b'{"a":1}', "whsec_x", 1_700_000_000
    header = f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert verify(body, header, secret, now=t + TOLERANCE_SECONDS)
    assert not verify(body, header, "whsec_y", now=t)
    assert not verify(b'{"a":2}', header, secret, now=t)
    assert not verify(body, header, secret, now=t + TOLERANCE_SECONDS + 1)
    assert not verify(body, header.replace(f"t={t}", f"t={t + 1}"), secret, now=t)
    assert not verify(body, "", secret, now=t)


def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_try(receiver, subscribe, org_a, clock):
    subscription = subscribe(receiver.url, receiver=receiver)
    first, second = record(org_a, 2)
    receiver.fail_next(3)
    waits = []
    for _ in range(3):
        outcome = run(subscription, clock)
        assert outcome.delivered == 0
        waits.append(outcome.retry_in)
        assert run(subscription, clock).delivered == 0  # not due yet: nothing is sent
        clock.advance(outcome.retry_in)
    assert waits == [1.0, 2.0, 4.0]
    assert run(subscription, clock).delivered == 2
    assert receiver.sequences() == [first.sequence, second.sequence]
    attempts = list(WebhookDelivery.objects.order_by("pk").values_list("event_id", "attempt", "status_code"))
    assert attempts == [
        (first.pk, 1, 500),
        (first.pk, 2, 500),
        (first.pk, 3, 500),
        (first.pk, 4, 200),
        (second.pk, 1, 200),
    ]
    assert WebhookDelivery.objects.filter(succeeded=False).first().response_excerpt == "ok"


def test_backoff_doubles_up_to_an_hour():
    assert [retry_delay(n) for n in (1, 2, 3, 12, 13, 40)] == [1, 2, 4, 2048, 3600, 3600]


def test_a_subscription_failing_for_24_hours_is_disabled_and_its_organization_told(subscribe, org_a, clock, sender):
    subscription = subscribe("https://hooks.example.test/x")
    record(org_a)
    sender.down = True
    started = clock.now
    while True:
        outcome = run(subscription, clock, sender)
        if outcome.retry_in is None:
            break
        clock.advance(outcome.retry_in)
    subscription.refresh_from_db()
    assert not subscription.active and subscription.disabled_at >= started + GIVE_UP_AFTER
    assert "24 h" in subscription.disabled_reason
    (notice,) = webhook_notices(organization_id=org_a.pk)
    assert notice["subscription_id"] == subscription.pk
    assert webhook_notices(organization_id=org_a.pk + 1000) == []  # another tenant's home shows nothing
    assert webhook_notices(organization_id=None) == [notice]  # a superuser's home: every tenant
    assert 20 < len(sender.calls) < 60  # backoff, not a storm
    assert run(subscription, clock, sender).claimed is False  # a disabled subscription sends nothing

    sender.down = False
    subscription_update(subscription=subscription, active=True)
    assert run(subscription, clock, sender).delivered == 1
    assert webhook_notices(organization_id=org_a.pk) == []


def test_during_a_rotation_both_secrets_sign_and_afterwards_only_the_new_one(receiver, subscribe, org_a, clock):
    subscription = subscribe(receiver.url, receiver=receiver)
    old = receiver.secret
    new = secret_rotate(subscription=subscription, grace=dt.timedelta(hours=1), now=clock.now)
    subscription.refresh_from_db()
    record(org_a)
    receiver.secret = old
    run(subscription, clock)
    header = receiver.received[-1].headers["Webhook-Signature"]
    assert header.count("v1=") == 2
    body_check = documented_verifier()
    assert receiver.received[-1].verified  # with the old secret
    receiver.secret = new
    record(org_a)
    run(subscription, clock)
    assert receiver.received[-1].verified  # with the new one
    assert body_check is documented_verifier()

    clock.advance(3601)
    receiver.secret = old
    record(org_a)
    run(subscription, clock)
    assert receiver.refused and not receiver.refused[-1].verified  # the old one no longer signs


def test_a_replay_resends_exactly_the_events_after_since_in_order(receiver, subscribe, org_a, unit, day):
    subscription = subscribe(receiver.url, receiver=receiver)
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    booking_cancel(booking=booking)
    record(org_a, 3)
    run(subscription)
    sequences = receiver.sequences()
    assert sequences == sorted(sequences) and len(sequences) == 5
    since = sequences[1]

    subscription.refresh_from_db()
    until = subscription_replay(subscription=subscription, since=since)
    assert until == sequences[-1]
    run(subscription)
    assert receiver.sequences() == sequences + sequences[2:]
    replayed = WebhookDelivery.objects.filter(replay=True)
    assert sorted(replayed.values_list("event__sequence", flat=True)) == sequences[2:]
    record(org_a)
    run(subscription)
    assert receiver.sequences()[-1] == sequences[-1] + 1
    assert not WebhookDelivery.objects.order_by("-pk").first().replay


def test_a_subscription_gets_only_its_types_and_steps_over_the_others(receiver, subscribe, org_a, unit, day):
    subscription = subscribe(receiver.url, ["booking.cancelled"], receiver=receiver)
    booking = booking_create(unit=unit, check_in=day(1), check_out=day(3))
    booking_cancel(booking=booking)
    booking_create(unit=unit, check_in=day(5), check_out=day(7))
    run(subscription)
    assert [d.envelope["type"] for d in receiver.received] == ["booking.cancelled"]
    subscription.refresh_from_db()
    assert subscription.delivered_sequence == 3  # nothing left to look at


def test_a_subscription_gets_events_from_its_creation_on(receiver, subscribe, org_a):
    record(org_a, 2)
    subscription = subscribe(receiver.url, receiver=receiver)
    (later,) = record(org_a)
    run(subscription)
    assert receiver.sequences() == [later.sequence]


def test_another_organizations_events_never_reach_a_subscription(receiver, subscribe, org_a, org_b):
    subscription = subscribe(receiver.url, receiver=receiver)
    record(org_b, 2)
    assert run(subscription).delivered == 0
    assert receiver.received == []


def test_one_run_at_a_time(subscribe, org_a, clock, sender):
    subscription = subscribe("https://hooks.example.test/x")
    record(org_a)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(delivering_until=clock.now + dt.timedelta(seconds=30))
    assert run(subscription, clock, sender).claimed is False
    clock.advance(31)  # the holder died: its claim runs out
    assert run(subscription, clock, sender).delivered == 1


def test_a_new_url_is_tried_at_once(subscribe, org_a, clock, sender, public_dns):
    subscription = subscribe("https://old.example.test/")
    record(org_a)
    sender.down = True
    assert run(subscription, clock, sender).retry_in == 1.0
    subscription.refresh_from_db()
    sender.down = False
    subscription_update(subscription=subscription, url="https://new.example.test/")
    assert run(subscription, clock, sender).delivered == 1  # no wait for the old URL's backoff
    assert sender.accepted == [("https://new.example.test/", 1)]


def test_a_change_made_from_a_stale_copy_does_not_move_the_cursor(subscribe, org_a, sender):
    subscription = subscribe("https://hooks.example.test/x")
    stale = WebhookSubscription.objects.get(pk=subscription.pk)
    record(org_a, 2)
    run(subscription, send=sender)
    subscription_update(subscription=stale, description="edited in another tab")
    subscription.refresh_from_db()
    assert subscription.delivered_sequence == 2 and subscription.description == "edited in another tab"


def test_events_past_their_retention_are_pruned_with_their_log(subscribe, org_a, sender):
    from django.utils import timezone

    from integrations.models import WebhookEvent
    from integrations.relay import EVENT_RETENTION, events_prune

    subscription = subscribe("https://hooks.example.test/x")
    old, new = record(org_a, 2)
    run(subscription, send=sender)
    WebhookEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - EVENT_RETENTION - dt.timedelta(hours=1))
    assert events_prune() == 1
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [new.pk]
    assert list(WebhookDelivery.objects.values_list("event_id", flat=True)) == [new.pk]
