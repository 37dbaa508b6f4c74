"""Two ``manage.py run_scheduler`` processes on Postgres and Redis, with a 2 s lease and a Booking.com
connection due for a poll every second.

One runs the jobs and the other stands by. The active one is frozen (SIGSTOP) past its lease: the
standby takes over within a lease, and the frozen one, woken, runs nothing more. Then the new active one
is killed (SIGKILL, so it never releases): the first takes over again within a lease. Every job run is
logged with its lease owner and term (``-v 2``): no two schedulers ran jobs in the same lease period,
and each poll was claimed once.

Runs in the services pass (``DATABASE_URL`` and ``REDIS_URL`` set); the subprocesses use the test
database (the test commits, ``transaction=True``) and a Redis key prefix of their own.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from testkit import wait_for
from tests.conftest import services as shared_services

ROOT = Path(__file__).resolve().parents[3]
LEASE = 2.0
# A takeover waits out the lease from the holder's last renewal; this is for process scheduling.
SLACK = 1.0
RUN = re.compile(
    r"job (?P<job>\w+) ran: owner=(?P<owner>\S+) term=(?P<term>\d+) "
    r"start=(?P<start>[\d.]+) end=(?P<end>[\d.]+) result=(?P<result>\S+)"
)
KICKED = {"relay_outbox", "enqueue_due_polls", "sweep_pushes", "update_gauges", "enqueue_token_refreshes"}


def services() -> tuple[str, str]:
    return shared_services("two schedulers need Postgres and Redis: the services pass runs this")


@dataclass
class Run:
    job: str
    owner: str
    term: int
    start: float
    end: float
    result: str


class Schedulers:
    """``run_scheduler -v 2`` processes on the test database, each logging to a file."""

    def __init__(self, tmp: Path, database_url: str, redis_url: str):
        import redis
        from django.db import connection

        from channelmgr.resilience.lease import RedisLeaseStore

        parts = urlsplit(database_url)
        test_db = urlunsplit((parts.scheme, parts.netloc, f"/{connection.settings_dict['NAME']}", "", ""))
        self.prefix = f"sched-{os.getpid()}-{secrets.token_hex(3)}"
        self.tmp = tmp
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=2)
        self.store = RedisLeaseStore(self.redis, f"{self.prefix}:")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TEST_DATABASE"))}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "PYTHONUNBUFFERED": "1",
                "DEBUG": "true",
                "DATABASE_URL": test_db,
                "REDIS_URL": redis_url,
                "CACHE_KEY_PREFIX": self.prefix,
                "DRAMATIQ_NAMESPACE": self.prefix,
                "EMBEDDED_WORKER": "false",
                "LOG_LEVEL": "INFO",
                "SCHEDULER_LEASE_SECONDS": str(LEASE),
                "BOOKING_COM_POLL_SECONDS": "1",
            }
        )
        self.procs: list[subprocess.Popen] = []
        self.logs: dict[int, Path] = {}

    def spawn(self) -> subprocess.Popen:
        path = self.tmp / f"scheduler-{len(self.procs)}.log"
        with open(path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "manage.py", "run_scheduler", "-v", "2"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        self.logs[proc.pid] = path
        return proc

    def log(self, proc: subprocess.Popen) -> str:
        return self.logs[proc.pid].read_text(errors="replace")

    def holder(self) -> subprocess.Popen | None:
        """The process whose owner id (``host/pid/random``) holds the lease."""
        owner = self.store.holder("scheduler")
        pid = int(owner.split("/")[1]) if owner else None
        return next((proc for proc in self.procs if proc.pid == pid), None)

    def runs(self, proc: subprocess.Popen | None = None) -> list[Run]:
        found = []
        for candidate in [proc] if proc else self.procs:
            for match in RUN.finditer(self.log(candidate)):
                d = match.groupdict()
                found.append(Run(d["job"], d["owner"], int(d["term"]), float(d["start"]), float(d["end"]), d["result"]))
        return sorted(found, key=lambda run: run.start)

    def term(self) -> int:
        """The lease's current term (a counter in Redis, bumped by each acquisition)."""
        return int(self.redis.get(f"{self.store.key('scheduler')}:term") or 0)

    def ran_all(self, proc: subprocess.Popen, term: int) -> bool:
        """``proc`` ran every interval job in ``term`` (they all run at once when a lease is acquired)."""
        return KICKED <= {run.job for run in self.runs(proc) if run.term == term}

    def poll_messages(self) -> int:
        """``poll_connection`` messages the schedulers enqueued (no worker consumes them here)."""
        count = 0
        for key in self.redis.scan_iter(match=f"{self.prefix}:*.msgs", count=1000):
            count += sum(json.loads(raw).get("actor_name") == "poll_connection" for raw in self.redis.hvals(key))
        return count

    def tails(self) -> str:
        return "\n".join(
            f"----- scheduler pid {pid} -----\n" + "\n".join(path.read_text(errors="replace").splitlines()[-40:])
            for pid, path in self.logs.items()
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                for sig in (signal.SIGCONT, signal.SIGTERM):
                    try:
                        os.kill(proc.pid, sig)
                    except ProcessLookupError:
                        pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        keys = list(self.redis.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            self.redis.delete(*keys)


@pytest.fixture
def schedulers(transactional_db, tmp_path):
    database_url, redis_url = services()
    started = Schedulers(tmp_path, database_url, redis_url)
    try:
        yield started
    finally:
        started.stop()  # before the test database is flushed


@pytest.fixture
def booking_com_due(transactional_db, unit):
    from channelmgr.models import ChannelConnection

    return ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="booking_com", platform_listing_id="4711"
    )


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_one_active_the_other_takes_over_and_polls_never_overlap(schedulers, booking_com_due):
    first, second = schedulers.spawn(), schedulers.spawn()
    assert wait_for(schedulers.holder, timeout=30, interval=0.05), schedulers.tails()
    active = schedulers.holder()
    standby = second if active is first else first
    first_term = schedulers.term()
    assert wait_for(lambda: schedulers.ran_all(active, first_term), timeout=10), schedulers.tails()
    assert not schedulers.runs(standby), "the standby ran jobs"

    # 1. The active scheduler freezes right after its jobs ran, for longer than a lease and than the
    # jobs' 5 s interval: the standby takes over within a lease, and the frozen one runs nothing more.
    assert schedulers.holder() is active
    os.kill(active.pid, signal.SIGSTOP)
    frozen_at, frozen_wall = time.monotonic(), time.time()
    assert wait_for(lambda: schedulers.holder() is standby, timeout=LEASE + 5, interval=0.02), schedulers.tails()
    first_takeover = time.monotonic() - frozen_at
    second_term = schedulers.term()
    assert wait_for(lambda: schedulers.ran_all(standby, second_term), timeout=5), schedulers.tails()
    time.sleep(max(0.0, 5.5 - (time.monotonic() - frozen_at)))  # its next runs are due when it wakes
    os.kill(active.pid, signal.SIGCONT)
    assert wait_for(lambda: "lost the lease" in schedulers.log(active), timeout=5), schedulers.tails()

    # 2. The new active scheduler is killed: no release, the first takes over within a lease.
    os.kill(standby.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert wait_for(lambda: schedulers.holder() is active, timeout=LEASE + 5, interval=0.02), schedulers.tails()
    second_takeover = time.monotonic() - killed_at
    third_term = schedulers.term()
    assert wait_for(lambda: schedulers.ran_all(active, third_term), timeout=5), schedulers.tails()

    # 3. SIGTERM: the last one finishes, gives the lease back and exits cleanly.
    active.send_signal(signal.SIGTERM)
    assert active.wait(timeout=15) == 0, schedulers.tails()
    assert schedulers.store.holder("scheduler") is None

    print(f"takeover after SIGSTOP {first_takeover:.2f}s, after SIGKILL {second_takeover:.2f}s (lease {LEASE}s)")
    assert first_takeover <= LEASE + SLACK and second_takeover <= LEASE + SLACK

    runs = schedulers.runs()
    terms = sorted({run.term for run in runs})
    owners = {term: {run.owner for run in runs if run.term == term} for term in terms}
    assert all(len(names) == 1 for names in owners.values()), owners
    pid_of = {term: int(next(iter(names)).split("/")[1]) for term, names in owners.items()}
    assert (pid_of[first_term], pid_of[second_term], pid_of[third_term]) == (active.pid, standby.pid, active.pid)
    # No overlap: every run of a term ended before the first run of the next began.
    for earlier, later in zip(terms, terms[1:], strict=False):
        assert max(r.end for r in runs if r.term == earlier) < min(r.start for r in runs if r.term == later)
    # The frozen scheduler, woken with its jobs overdue, ran none of them: it ran again only as holder.
    assert all(run.term >= third_term for run in schedulers.runs(active) if run.start > frozen_wall)

    # Every holder polled Booking.com (due every second, the polls job runs every 5 s), and each claim
    # of the connection was enqueued exactly once.
    polls = [run for run in runs if run.job == "enqueue_due_polls"]
    assert {first_term, second_term, third_term} <= {run.term for run in polls if run.result == "1"}, polls
    assert schedulers.poll_messages() == sum(int(run.result) for run in polls)
