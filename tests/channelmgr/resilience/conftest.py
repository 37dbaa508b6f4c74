"""One parametrized cache fixture (local memory and Redis) and an injected clock for the resilience tests."""

from __future__ import annotations

import os
import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from tests.conftest import need_service

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


class FakeClock:
    """``time.time`` stand-in; ``sleep`` moves it forward instead of waiting."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    sleep = advance


def redis_client_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        need_service(f"Redis not reachable at {REDIS_URL}: {exc}")
    return client


def flush_prefix(client, prefix: str) -> None:
    """Delete only this test's keys: other tests and a running dev server share the Redis."""
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request):
    """A fresh, isolated cache: LocMemCache, or RedisCache under a key prefix of its own."""
    prefix = f"test-resilience-{uuid.uuid4().hex[:12]}"
    if request.param == "locmem":
        yield LocMemCache(prefix, {})
        return
    client = redis_client_or_skip()
    cache = RedisCache(REDIS_URL, {"KEY_PREFIX": prefix, "OPTIONS": {"socket_timeout": 2}})
    cache.test_redis_client = client
    cache.test_prefix = prefix
    try:
        yield cache
    finally:
        flush_prefix(client, prefix)
        cache.close()


@pytest.fixture
def clock():
    return FakeClock()


class BrokenCache:
    """A cache whose every operation fails like an unreachable Redis."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        return fail
