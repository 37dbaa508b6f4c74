"""A live sandbox whose webhooks reach this test process's live server, and worker threads on the
configured broker: the whole sync path runs in-process against the platform simulator."""

from __future__ import annotations

import threading
from decimal import Decimal

import dramatiq
import pytest
import requests

from testkit import demo_connection, oauth_platforms, push_platforms
from testkit import wait_for as wait_for  # re-exported: tests here import it from this conftest
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
    """A unit on every platform we push to (the registry's), each connected the way its adapter's ``demo``
    declaration says, with OAuth tokens obtained through the sandbox's code flow."""
    from channelmgr.demo import demo_connect_oauth, demo_create_listings
    from channelmgr.models import ChannelConnection
    from pms_core.models import Organization, Property, Unit

    org = Organization.objects.create(name="Live")
    prop = Property.objects.create(organization=org, name="Haus am See", timezone="UTC")
    unit = Unit.objects.create(property=prop, name="Haus", base_price=Decimal("150.00"), default_min_stay=1)
    platforms = push_platforms()
    for slug in platforms:
        ChannelConnection.objects.create(
            organization=org, unit=unit, platform_type=slug, **demo_connection(slug, unit.pk, sandbox)
        )
    assert demo_create_listings() == len(platforms)  # the listings exist on the platforms before we connect
    assert demo_connect_oauth() == len(oauth_platforms())
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
