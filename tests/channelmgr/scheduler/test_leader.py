"""The scheduler under a lease, in one process: real APScheduler schedulers, a lease in memory. Only the
holder runs jobs, a standby takes over and runs its jobs at once, and a holder whose lease lapsed runs
nothing even though its scheduler is still firing (the job checks the lease itself)."""

from __future__ import annotations

import logging

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from channelmgr.resilience.lease import Lease, MemoryLeaseStore, RedisLeaseStore
from channelmgr.scheduler import _job, add_jobs, lead, scheduler_lease
from testkit import wait_for

TTL = 1.0  # long enough that a loaded machine does not make a live holder miss its renewals
EVERY = 0.05


class Instance:
    """One scheduler with one recording job, led by its lease."""

    def __init__(self, store, name: str, runs: list):
        self.name = name
        self.lease = Lease(store, "scheduler", TTL, owner=name)
        self.scheduler = BackgroundScheduler(timezone="UTC")
        lease = self.lease

        def record():
            started = lease.clock()
            runs.append((name, lease.term, started, lease.clock()))

        self.scheduler.add_job(
            _job(record, lease), IntervalTrigger(seconds=EVERY), id="record", max_instances=1, coalesce=True
        )
        self.keeper = lead(self.scheduler, lease)

    def start(self) -> Instance:
        self.scheduler.start(paused=True)
        self.keeper.start()
        return self

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.keeper.stop(release=True)


@pytest.fixture
def instances():
    started: list[Instance] = []
    runs: list[tuple] = []
    store = MemoryLeaseStore()

    def make(name: str) -> Instance:
        instance = Instance(store, name, runs).start()
        started.append(instance)
        return instance

    make.runs = runs
    yield make
    for instance in started:
        instance.stop()


def test_only_the_holder_runs_jobs_and_a_lapsed_holder_runs_none(instances, caplog):
    caplog.set_level(logging.WARNING, logger="channelmgr.scheduler")
    runs = instances.runs
    a = instances("a")
    assert wait_for(lambda: a.keeper.active, timeout=5, interval=0.01)
    b = instances("b")
    assert wait_for(lambda: len(runs) >= 3, timeout=5, interval=0.01)
    assert {run[0] for run in runs} == {"a"}  # b stands by, its scheduler paused

    # a's keeper freezes (no renewal, no release); a's scheduler goes on firing every 50 ms.
    a.keeper.stop(release=False)
    lapsed_at = a.lease.clock() + a.lease.remaining()
    assert wait_for(lambda: b.keeper.active, timeout=2 * TTL, interval=0.01)
    took_over_at = b.lease.clock()
    assert wait_for(lambda: sum(run[0] == "b" for run in runs) >= 3, timeout=5, interval=0.01)
    snapshot = list(runs)

    a_runs = [run for run in snapshot if run[0] == "a"]
    b_runs = [run for run in snapshot if run[0] == "b"]
    assert all(run[3] <= lapsed_at for run in a_runs)  # nothing after its lease ran out
    assert max(run[3] for run in a_runs) < min(run[2] for run in b_runs)  # no overlap
    assert {run[1] for run in a_runs} == {1} and min(run[1] for run in b_runs) == 2
    assert min(run[2] for run in b_runs) - took_over_at < EVERY  # the new holder ran at once
    assert lapsed_at <= took_over_at <= lapsed_at + TTL / 2  # within one lease of the last renewal
    assert "skipped: this scheduler does not hold the lease" in caplog.text  # a's scheduler kept firing


def test_a_holder_that_is_stopped_releases_the_lease_to_the_standby(instances):
    runs = instances.runs
    a = instances("a")
    assert wait_for(lambda: a.keeper.active, timeout=5, interval=0.01)
    b = instances("b")
    assert wait_for(lambda: runs, timeout=5, interval=0.01)

    a.stop()  # as on SIGTERM: running jobs finish, then the lease is given back

    assert wait_for(lambda: b.keeper.active, timeout=TTL, interval=0.01)  # no need to wait a lease out


# A job closes the process's stale database connections around each run, which checks a connection an
# earlier test in this worker left open: these tests need database access although they make no query.
@pytest.mark.django_db
def test_the_jobs_check_the_lease_themselves():
    calls = []
    lease = Lease(MemoryLeaseStore(), "scheduler", TTL, owner="a")

    def work():
        calls.append(1)

    job = _job(work, lease)
    job()
    lease.try_acquire()
    job()
    lease.release()
    job()

    assert calls == [1]


@pytest.mark.django_db
def test_embedded_jobs_need_no_lease():
    calls = []

    def work():
        calls.append(1)

    _job(work)()

    assert calls == [1]


def test_every_job_is_registered_under_its_name():
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, Lease(MemoryLeaseStore(), "scheduler", TTL))

    assert {(job.id, job.name) for job in scheduler.get_jobs()} == {
        (name, name)
        for name in (
            "relay_outbox",
            "relay_inbound",
            "polls",
            "push_sweep",
            "token_refresh",
            "gauges",
            "idempotency_purge",
            "history_purge",
            "window_edges",
            "reconcile_daily",
            # Registered by other apps from their AppConfig.ready() (channelmgr.scheduler.jobs_register).
            "alerts",
            "alerts_purge",
            "relay_webhooks",
        )
    }


def test_the_scheduler_lease_lives_in_redis_under_the_cache_prefix_in_services_mode(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": "cm-test"}}
    settings.SCHEDULER_LEASE_SECONDS = 7.5

    lease = scheduler_lease()  # builds a client; connects only when used

    assert isinstance(lease.store, RedisLeaseStore) and lease.ttl == 7.5
    assert lease.store.key("scheduler") == "cm-test:{lease:scheduler}"


def test_without_redis_the_lease_is_the_process_own(settings):
    settings.REDIS_URL = ""

    assert isinstance(scheduler_lease(2).store, MemoryLeaseStore)
