"""Integrators' webhooks: named subscriptions on a local receiver, a movable clock, a scripted sender."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from adapters import safe_http
from integrations.delivery import Answer
from integrations.events import EVENT_TYPES
from integrations.subscriptions import subscription_create
from testkit.webhook_receiver import Receiver
from tests.pms_core.api.conftest import alice_api, api_for, bob_api, charlie_api  # noqa: F401 - the API clients


@pytest.fixture
def private_urls(settings):
    """Loopback receivers allowed, as a test must say explicitly (the setting is off by default)."""
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def public_dns(monkeypatch):
    """Every host resolves to a public address, so tests need no real DNS."""
    monkeypatch.setattr(safe_http, "resolve", lambda host, port: ["93.184.216.34"])


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def subscribe(org_a):
    def _subscribe(url: str, event_types=EVENT_TYPES, organization=org_a, receiver: Receiver | None = None):
        subscription, secret = subscription_create(
            organization_id=organization.pk, url=url, event_types=list(event_types)
        )
        if receiver is not None:
            receiver.secret = secret
        return subscription

    return _subscribe


class Clock:
    def __init__(self):
        self.now = timezone.now()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


class ScriptedSender:
    """A receiver that answers 500 while ``down`` and 200 otherwise, and remembers what it got."""

    def __init__(self):
        self.down = False
        self.calls: list[tuple[str, dict]] = []  # (url, envelope headers) of every attempt
        self.accepted: list[tuple[str, int]] = []  # (url, sequence) of every 2xx

    def __call__(self, url: str, *, body: bytes, headers: dict) -> Answer:
        import json

        self.calls.append((url, headers))
        if self.down:
            return Answer(500, excerpt="down")
        self.accepted.append((url, json.loads(body)["sequence"]))
        return Answer(200, excerpt="ok")


@pytest.fixture
def sender():
    return ScriptedSender()
