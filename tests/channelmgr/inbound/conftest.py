"""Fixtures for the inbound tests: connections, signed webhook bodies, faked platform HTTP, a worker."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time

import dramatiq
import pytest
import responses
from django.conf import settings

AIRBNB_SECRET = "sandbox-airbnb-webhook"  # docs/platforms.md, sandbox defaults
FEWO_SECRET = "sandbox-fewo-webhook"
AIRBNB_BASE = settings.PLATFORMS["airbnb"]["base_url"]
BOOKING_BASE = settings.PLATFORMS["booking_com"]["base_url"]
CREDENTIALS = {
    "airbnb": {"access_token": "airbnb-access-1", "refresh_token": "airbnb-refresh-1"},
    "booking_com": {"username": "sandbox-booking", "password": "sandbox-booking-pass"},
    "expedia": {"username": "sandbox-expedia", "password": "sandbox-expedia-pass"},
    "fewo_direkt": {"api_key": "sandbox-fewo-key"},
    "google": {"access_token": "google-access-1", "refresh_token": "google-refresh-1"},
}


@pytest.fixture(autouse=True)
def fresh_resilience_state():
    """Limiter windows and breaker states live in the shared cache: start every test from zero."""
    from django.core.cache import cache

    cache.delete_many([f"inbound:{slug}:signing-keys{suffix}" for slug in ("google",) for suffix in ("", "-refetch")])
    _reset_guards()
    yield
    _reset_guards()


def _reset_guards():
    from channelmgr.models import ChannelConnection
    from channelmgr.resilience.breaker import breaker_for
    from channelmgr.resilience.guard import share_limiters
    from channelmgr.resilience.limiter import limiter_for
    from channelmgr.resilience.platform_calls import rate_limit_account

    for platform, values in settings.PLATFORMS.items():
        if values["rate_limit"] is None:
            continue  # called unguarded (a feed)
        breaker_for(platform).reset()
        account = rate_limit_account(ChannelConnection(platform_type=platform, **CREDENTIALS.get(platform, {})))
        limiter = limiter_for(platform=platform, account=account)
        for each in (limiter, *share_limiters(limiter)):
            each.reset()


@pytest.fixture
def connect(unit):
    """``connect("airbnb", "L1", **fields)`` -> a live connection of ``unit``."""
    from channelmgr.models import ChannelConnection

    def make(platform: str, listing_id: str, **fields):
        defaults = CREDENTIALS.get(platform, {})
        return ChannelConnection.objects.create(
            organization=unit.property.organization,
            unit=fields.pop("unit", unit),
            platform_type=platform,
            platform_listing_id=listing_id,
            **{**defaults, **fields},
        )

    return make


@pytest.fixture
def airbnb(connect):
    return connect("airbnb", "AIR-1")


def airbnb_event(code="HM1", *, type_="reservation.created", version=1, listing="AIR-1", event_id=None) -> bytes:
    return json.dumps(
        {
            "event_id": event_id or f"evt-{code}-{version}",
            "type": type_,
            "listing_id": listing,
            "confirmation_code": code,
            "version": version,
            "occurred_at": "2027-06-01T12:00:00Z",
        }
    ).encode()


def airbnb_headers(body: bytes, *, secret=AIRBNB_SECRET, at: int | None = None) -> dict:
    stamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), str(stamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_AIRBNB_SIGNATURE": f"t={stamp},v1={digest}"}


def fewo_headers(body: bytes, *, secret=FEWO_SECRET, at: int | None = None) -> dict:
    stamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), stamp.encode() + b"\n" + body, hashlib.sha256).digest()
    return {"HTTP_X_FEWO_TIMESTAMP": stamp, "HTTP_X_FEWO_SIGNATURE": base64.b64encode(digest).decode()}


def airbnb_reservation(code="HM1", *, check_in, check_out, version=1, status="accepted", listing="AIR-1") -> dict:
    return {
        "reservation": {
            "confirmation_code": code,
            "listing_id": listing,
            "status": status,
            "start_date": check_in.isoformat(),
            "end_date": check_out.isoformat(),
            "guest": {"first_name": "Greta", "last_name": "Gast", "email": "greta@example.test", "phone": "+49 30 1"},
            "number_of_guests": 2,
            "total_price": "480.00",
            "currency": "EUR",
            "updated_at": "2027-06-01T12:00:00Z",
            "version": version,
        }
    }


@pytest.fixture
def platform_http():
    """Fake platform HTTP at the one HTTP module; every registered call must be made."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def broker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def worker(broker):
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    yield worker
    worker.stop()


def queued(broker, queue="inbound") -> int:
    """Messages waiting on a queue (stub or Redis broker)."""
    client = getattr(broker, "client", None)
    if client is not None:
        return client.llen(f"{broker.namespace}:{queue}")
    stub = broker.queues.get(queue)
    return stub.qsize() if stub is not None else 0


@pytest.fixture
def public_feed_host(monkeypatch):
    """iCal feed hosts resolve to a public address, so the SSRF check passes without DNS."""
    from adapters import safe_http

    monkeypatch.setattr(safe_http, "resolve", lambda host, port: ["93.184.216.34"])


@pytest.fixture
def june_first():
    """The property's today is 2027-06-01 (10:00 UTC) for the whole test."""
    import time_machine

    with time_machine.travel(dt.datetime(2027, 6, 1, 10, 0, tzinfo=dt.UTC)):
        yield
