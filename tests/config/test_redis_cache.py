"""The Redis cache backend shares one redis.Redis client per pool and behaves exactly like Django's own."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from channelmgr.resilience.limiter_redis import is_redis
from config.redis_cache import RedisCache
from tests.conftest import need_service

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


def test_every_call_and_thread_gets_the_same_client_without_connecting():
    cache = RedisCache("redis://127.0.0.1:1/0", {})  # nothing listens there: building a client must not connect
    clients = [cache._cache.get_client(write=write) for write in (True, False, True)]
    threads = [threading.Thread(target=lambda: clients.append(cache._cache.get_client())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(client) for client in clients}) == 1


def test_the_limiter_still_takes_it_for_redis():
    assert is_redis(RedisCache("redis://127.0.0.1:1/0", {}))


def test_the_settings_use_it_on_redis():
    from tests.config.test_settings import manage

    code = "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"
    answer = manage("shell", "-c", code, REDIS_URL="redis://127.0.0.1:6379/0")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip().splitlines()[-1] == "config.redis_cache.RedisCache"


@pytest.fixture
def redis_cache():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        need_service(f"Redis not reachable at {REDIS_URL}: {exc}")
    prefix = f"test-redis-cache-{uuid.uuid4().hex[:12]}"
    cache = RedisCache(REDIS_URL, {"KEY_PREFIX": prefix, "OPTIONS": {"socket_timeout": 2}})
    yield cache
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    cache.close()


KEYS = st.sampled_from(["a", "b", "c"])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), KEYS, st.integers(-5, 5)),
        st.tuples(st.just("add"), KEYS, st.integers(-5, 5)),
        st.tuples(st.just("get"), KEYS),
        st.tuples(st.just("delete"), KEYS),
        st.tuples(st.just("incr"), KEYS),
        st.tuples(st.just("delete_many"), st.lists(KEYS, max_size=3)),
        st.tuples(st.just("get_many"), st.lists(KEYS, max_size=3)),
    ),
    max_size=25,
)


@given(operations=OPERATIONS)
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_operation_sequences_match_a_dict(redis_cache, operations):
    """The cache API's answers are those of a plain dict, whatever the sequence (one shared client)."""
    redis_cache.delete_many(["a", "b", "c"])  # never clear(): it flushes the whole Redis database
    model: dict[str, int] = {}
    for op, *args in operations:
        if op == "set":
            redis_cache.set(args[0], args[1])
            model[args[0]] = args[1]
        elif op == "add":
            assert redis_cache.add(args[0], args[1]) == (args[0] not in model)
            model.setdefault(args[0], args[1])
        elif op == "get":
            assert redis_cache.get(args[0]) == model.get(args[0])
        elif op == "delete":
            assert redis_cache.delete(args[0]) == (model.pop(args[0], None) is not None)
        elif op == "incr":
            if args[0] in model:
                model[args[0]] += 1
                assert redis_cache.incr(args[0]) == model[args[0]]
            else:
                with pytest.raises(ValueError):
                    redis_cache.incr(args[0])
        elif op == "delete_many":
            redis_cache.delete_many(args[0])
            for key in args[0]:
                model.pop(key, None)
        else:
            assert redis_cache.get_many(args[0]) == {key: model[key] for key in args[0] if key in model}


def test_threads_sharing_the_client_each_see_their_own_values(redis_cache):
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                redis_cache.set(f"t{n}", i)
                assert redis_cache.get(f"t{n}") == i
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
