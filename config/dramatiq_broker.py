"""Dramatiq's Redis broker, with idle consumers that look for new messages every ``poll_ms``.

An idle dramatiq consumer backs off exponentially up to the worker's timeout (1 s by default) between
fetches, so a message sent to a quiet worker waited up to a second per hop: a guest's booking crosses
two or three (import, outbox, push), and a delayed message two more (its delay queue, then its queue).
That was most of an isolated close-out's 1.2 s (``bench/sync.py`` (b)). Capping the idle poll at 100 ms
costs each consumer ten cheap Lua fetches a second while idle.
"""

from __future__ import annotations

from dramatiq.brokers.redis import RedisBroker


class PromptRedisBroker(RedisBroker):
    def __init__(self, *args, poll_ms: int = 100, **kwargs):
        super().__init__(*args, **kwargs)
        self.poll_ms = poll_ms

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        return super().consume(queue_name, prefetch, min(timeout, self.poll_ms))
