"""Run in a spawned process by test_limiter_processes: threads hammer one limiter, grant times come back."""

from __future__ import annotations

import os
import threading
import time


def hammer(redis_url: str, key: str, limit: int, window: float, threads: int, ready, seconds: float):
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["REDIS_URL"] = redis_url
    import django

    django.setup()
    from channelmgr.resilience.limiter import RateLimiter

    limiter = RateLimiter(key, limit, window)  # the configured cache: Redis at REDIS_URL
    grants, lock = [], threading.Lock()

    def run():
        while (now := time.time()) < end_at:
            if limiter.acquire(blocking=True, timeout=end_at - now):
                granted_at = time.time()
                with lock:
                    grants.append(granted_at)

    ready.wait(timeout=300)  # every process starts together, however long spawning took
    end_at = time.time() + seconds
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return grants
