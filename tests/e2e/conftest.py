"""The real product as separate processes (gunicorn, a rundramatiq worker, the scheduler) on Postgres and
Redis, against ``python -m sandbox``: see ``testkit/stack.py``.

The suite needs ``DATABASE_URL`` and ``REDIS_URL``. Without them (the embedded pass) every test skips,
even under CI: the services pass runs them. With them set but a service unreachable, a test skips on a
laptop and fails under ``CI=true``. A failing test's report carries the tail of every process's log.
"""

from __future__ import annotations

import datetime as dt

import pytest

from testkit import wait_for
from testkit.stack import PLATFORMS, Stack
from tests.conftest import services as shared_services

_STACK: Stack | None = None


def services() -> tuple[str, str]:
    """The services' URLs; e2e runs only in the services pass, and a missing service fails under CI."""
    return shared_services("e2e runs in the services pass")


@pytest.fixture(scope="session")
def stack():
    global _STACK
    database_url, redis_url = services()
    started = _STACK = Stack(database_url=database_url, redis_url=redis_url).start()
    try:
        yield started
    finally:
        _STACK = None
        started.stop()


@pytest.fixture
def e2e(stack):
    """The stack, quiet: no fault injected, the worker alive, nothing waiting to be pushed."""
    for slug in PLATFORMS:
        stack.sandbox("DELETE", f"/_control/{slug}/faults")
    if stack.procs["worker"].poll() is not None:
        stack.start_worker()
    assert wait_for(stack.worker_ready, timeout=60), stack.logs_tail()
    assert wait_for(stack.idle, timeout=90, interval=0.5), "the previous test left pushes behind"
    return stack


@pytest.fixture
def nights():
    """Each test books its own nights: ``nights(k)`` (k <= 10; the last at most 5 nights) starts 12 days
    after ``nights(k - 1)``. The 100-night bursts use days 140-240 and 250-350 (inside the 365-day sync window)."""

    def window(k: int, length: int = 3) -> tuple[dt.date, dt.date]:
        assert 0 <= k <= 10 and (k < 10 and length <= 10 or length <= 5)
        start = dt.date.today() + dt.timedelta(days=14 + 12 * k)
        return start, start + dt.timedelta(days=length)

    return window


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _STACK is not None and item.get_closest_marker("e2e"):
        report.sections.append(("e2e process logs", _STACK.logs_tail()))
