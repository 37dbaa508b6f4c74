"""A live sandbox whose webhooks reach this test process's live server, and worker threads on the
configured broker: the whole sync path runs in-process against the platform simulator."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import dramatiq
import pytest
import requests

from tests.conftest import need_service


@pytest.fixture(scope="session")
def sandbox_url(live_server):
    try:
        from sandbox.server import make_server
    except ImportError:
        need_service("the sandbox package is missing")
    server = make_server("127.0.0.1", 0, live_server.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.base_url
    server.shutdown()


@pytest.fixture
def sandbox(settings, sandbox_url):
    """Point every platform at the sandbox, reset it, and keep pushes quick but debounced."""
    settings.PLATFORMS = {
        slug: {**cfg, "base_url": f"{sandbox_url}/{slug}"} for slug, cfg in settings.PLATFORMS.items()
    }
    settings.SANDBOX_URL = sandbox_url
    settings.PUSH_DEBOUNCE_SECONDS = 2.0
    settings.PUSH_MAX_WAIT_SECONDS = 30.0  # a burst under a loaded CI machine still settles first
    settings.ALLOW_PRIVATE_NETWORK_FETCH = True
    requests.post(f"{sandbox_url}/_control/reset", timeout=10).raise_for_status()
    return sandbox_url


@pytest.fixture
def worker(transactional_db):
    from django.core.cache import cache

    broker = dramatiq.get_broker()
    broker.flush_all()
    cache.clear()
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=4)
    worker.start()
    yield worker
    worker.stop()
    broker.flush_all()


@pytest.fixture
def connected_unit(transactional_db, sandbox):
    """A unit on all five platforms, with OAuth tokens obtained through the sandbox's code flow."""
    from channelmgr.demo import CREDENTIALS, demo_connect_oauth, demo_create_listings, listing_id
    from channelmgr.models import ChannelConnection
    from pms_core.models import Organization, Property, Unit

    org = Organization.objects.create(name="Live")
    prop = Property.objects.create(organization=org, name="Haus am See", timezone="UTC")
    unit = Unit.objects.create(property=prop, name="Haus", base_price=Decimal("150.00"), default_min_stay=1)
    for slug, creds in CREDENTIALS.items():
        ChannelConnection.objects.create(
            organization=org, unit=unit, platform_type=slug, platform_listing_id=listing_id(slug, unit), **creds
        )
    assert demo_create_listings() == 5  # the listings exist on the platforms before we connect
    assert demo_connect_oauth() == 2
    return unit


def platform_stats(sandbox_url: str, slug: str) -> dict:
    return requests.get(f"{sandbox_url}/_state/{slug}/stats", timeout=5).json()


def platform_calendar(sandbox_url: str, slug: str, listing: str, start, end) -> list[dict]:
    answer = requests.get(
        f"{sandbox_url}/_state/{slug}/listings/{listing}/calendar",
        params={"start": start.isoformat(), "end": end.isoformat()},
        timeout=5,
    )
    return answer.json().get("days", []) if answer.ok else []


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2):
    """Poll until ``predicate()`` is truthy; returns its last value (the assertion follows)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value
