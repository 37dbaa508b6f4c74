"""Any interleaving of events, receivers going down and up, delivery runs and time passing gives, for every
subscription, deliveries with strictly increasing sequence numbers, and once receivers are back nothing is
lost: each subscription got every event of its types exactly once."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from integrations.delivery import Answer, subscription_deliver
from integrations.models import WebhookEvent
from integrations.outbox import event_record
from integrations.subscriptions import subscription_create
from pms_core.models import Organization

TYPES = ["booking.created", "booking.cancelled", "sync.failed"]
# (organization index, the types it takes)
SUBSCRIPTIONS = [(0, TYPES), (0, ["booking.cancelled"]), (1, TYPES)]


class Deliveries(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.now = timezone.now()
        self.orgs = [Organization.objects.create(name=f"org {i}") for i in range(2)]
        self.subscriptions = []
        for org, types in SUBSCRIPTIONS:
            subscription, _ = subscription_create(
                organization_id=self.orgs[org].pk,
                url=f"https://hooks{len(self.subscriptions)}.example.test/",
                event_types=types,
            )
            self.subscriptions.append(subscription)
        self.down = [False] * len(SUBSCRIPTIONS)
        self.accepted: list[list[int]] = [[] for _ in SUBSCRIPTIONS]

    def send_for(self, index):
        def send(url, *, body, headers):
            if self.down[index]:
                return Answer(503, excerpt="down")
            self.accepted[index].append(json.loads(body)["sequence"])
            return Answer(200)

        return send

    def run(self, index):
        return subscription_deliver(
            subscription_id=self.subscriptions[index].pk, send=self.send_for(index), clock=lambda: self.now
        )

    @rule(org=st.integers(0, 1), event_type=st.sampled_from(TYPES))
    def an_event_happens(self, org, event_type):
        event_record(organization_id=self.orgs[org].pk, event_type=event_type, data={"object": {}})

    @rule(index=st.integers(0, len(SUBSCRIPTIONS) - 1), down=st.booleans())
    def a_receiver_goes_down_or_up(self, index, down):
        self.down[index] = down

    @rule(index=st.integers(0, len(SUBSCRIPTIONS) - 1))
    def a_worker_runs_a_subscription(self, index):
        self.run(index)

    @rule(seconds=st.sampled_from([0.5, 1, 3, 30, 600]))
    def time_passes(self, seconds):
        self.now += dt.timedelta(seconds=seconds)

    @invariant()
    def sequences_strictly_increase(self):
        for got in self.accepted:
            assert all(a < b for a, b in zip(got, got[1:], strict=False)), got

    def teardown(self):
        self.down = [False] * len(SUBSCRIPTIONS)
        self.now += dt.timedelta(hours=2)
        for index in range(len(SUBSCRIPTIONS)):
            while self.run(index).delivered:
                pass
        for index, (org, types) in enumerate(SUBSCRIPTIONS):
            expected = list(
                WebhookEvent.objects.filter(organization=self.orgs[org], event_type__in=types)
                .order_by("sequence")
                .values_list("sequence", flat=True)
            )
            assert self.accepted[index] == expected, (index, self.accepted[index], expected)


@pytest.mark.django_db
@pytest.mark.usefixtures("public_dns")
def test_deliveries_keep_their_order_and_lose_nothing():
    run_state_machine_as_test(
        Deliveries,
        settings=settings(
            max_examples=40, stateful_step_count=40, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
