"""Django's Redis cache backend, with one ``redis.Redis`` client per connection pool instead of one per call.

Django's ``RedisCacheClient.get_client()`` builds a new ``redis.Redis`` for every cache operation, and
building one (it copies redis-py's table of ~170 response callbacks) costs more than the round trip it
serves: 158 µs against 89 µs for a GET on the 2-core CI machine. A push makes 6-9 cache calls (debounce
flags, the breaker, the deferred-push note), so that was about 1 ms of CPU a push (``bench/sync.py --only p``).
A ``redis.Redis`` over a ``ConnectionPool`` keeps no connection of its own and is safe to share between
threads; after a fork its pool notices the new process id and opens new connections.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}  # id(pool) -> redis.Redis; the pools live as long as we do
        self._lock = threading.Lock()

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            with self._lock:
                client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache``, sharing its clients (see the module's docstring)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
