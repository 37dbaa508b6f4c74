"""A fake clock, and a Redis lease store under a key prefix of its own (services pass only)."""

from __future__ import annotations

import os
import secrets

import pytest

from tests.conftest import need_service


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock():
    return FakeClock()


def redis_url() -> str:
    """REDIS_URL, answering; without it (the embedded pass) the test skips, and an unreachable Redis
    fails under CI."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs Redis: the services pass runs this")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:
        need_service(f"Redis at REDIS_URL is unreachable: {exc}")
    return url


@pytest.fixture
def redis_store():
    import redis

    from channelmgr.resilience.lease import RedisLeaseStore

    client = redis.Redis.from_url(redis_url(), socket_timeout=2, socket_connect_timeout=2)
    prefix = f"test-lease-{os.getpid()}-{secrets.token_hex(3)}:"
    yield RedisLeaseStore(client, prefix)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
