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


def hammer_guard(redis_url: str, account: str, limit: int, window: float, threads: int, ready, seconds: float):
    """Threads send guarded Expedia requests (half pushes, half pulls: each draws on its purpose's share
    and on the account) at ``limit`` a ``window``; returns each request's (time, purpose)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["REDIS_URL"] = redis_url
    import django

    django.setup()
    from django.conf import settings

    from channelmgr.resilience.guard import Backpressure, Purpose, guarded_call

    settings.PLATFORMS["expedia"] = {**settings.PLATFORMS["expedia"], "rate_limit": limit, "rate_window": window}
    sent, lock = [], threading.Lock()

    def run(purpose):
        def request():
            with lock:
                sent.append((time.time(), str(purpose)))

        while time.time() < end_at:
            try:
                guarded_call(platform="expedia", account=account, fn=request, purpose=purpose)
            except Backpressure as exc:
                time.sleep(min(max(exc.delay_seconds, 0.001), 0.05))

    ready.wait(timeout=300)
    end_at = time.time() + seconds
    workers = [threading.Thread(target=run, args=((Purpose.PUSH, Purpose.PULL)[i % 2],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sent
