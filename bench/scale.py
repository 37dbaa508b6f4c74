"""The push engine's own cost, on Postgres and Redis: (c) throughput against bare HTTP, (d) a full sync at N
and 2N units and on 1 and 2 worker processes, and (p) a profile of single pushes. ``bench/sync.py`` runs it
(``--only c,d,p``); see there for the invocation.

What it measures is the ENGINE, so no platform limit may bind. The sandbox has one account per platform
(one Booking.com user, one FeWo-direkt key, one OAuth client), so "a separate account per unit" is not
available; instead the limits are raised on both sides for this stack only: the sandbox's through its
control API (``POST /_control/<slug>/rate-limit``) and ours through each connection's ``rate_limit`` /
``rate_window`` override. Every request still passes our limiter (one Lua call) and breaker. The stack's
scheduler is stopped (no polls, token refreshes or sweeps in the timings) and so is its worker: (c) and (p)
run the engine inside this process, (d) starts ``rundramatiq`` processes of its own.

The units: ``2N`` units (``--scale-units`` N, default 50) of one property, each connected to every platform we
push to, with a realistic year (Fridays and Saturdays dearer and with a 2-night minimum stay), so a full push
of 365 nights is about 105 ranges of each kind per connection.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import math
import os
import pstats
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import dramatiq

from testkit import wait_for
from testkit.stack import PLATFORMS, Stack

RAISED_LIMIT = 1_000_000  # requests per RAISED_WINDOW: never binds
RAISED_WINDOW = 1.0
THREADS = 4  # the worker's threads (testkit.stack's rundramatiq, and the in-process worker of (c))
FULL_SYNC_DAYS = 365
C_CONNECTIONS = 50
C_DAYS = 30  # (c): a month of prices per push, one request on every platform
# (c) sends the captured requests this many times over: a bare request costs a fraction of a push, so a
# replay of one round's 50 alone lasts a fraction of the round, and on a VM whose hypervisor steals in
# bursts the best of short intervals is luckier than the best of long ones. About as long as the round,
# both sides meet the same noise.
C_REPLAYS = 4


class ScaleStack(Stack):
    """The e2e stack with one seeded unit and no initial push: the bench seeds its own units."""

    def _initial_push(self) -> None:
        pass


@dataclass
class Scale:
    stack: ScaleStack
    units: list[dict[str, int]] = field(default_factory=list)  # per unit: platform -> connection id

    def connections(self, units: int | None = None) -> list[int]:
        return [c for unit in self.units[:units] for c in unit.values()]


# --- set-up ---------------------------------------------------------------------------------------


def start(database_url: str, redis_url: str, units: int) -> Scale:
    """Start the stack, stop its worker and scheduler, set Django up in this process on the stack's
    database, raise every limit and seed ``units`` units."""
    stack = ScaleStack(database_url=database_url, redis_url=redis_url, name="benchscale", units=1)
    stack.start()
    try:
        for name in ("scheduler", "worker"):
            _terminate(stack, name)
        os.environ.update({**stack.env, "LOG_LEVEL": "WARNING"})
        import django

        django.setup()
        for slug in PLATFORMS:
            answer = stack.sandbox(
                "POST", f"/_control/{slug}/rate-limit", json={"limit": RAISED_LIMIT, "window": RAISED_WINDOW}
            )
            answer.raise_for_status()
        scale = Scale(stack)
        scale.units = _seed_units(stack, units)
    except BaseException:
        stack.stop()
        raise
    return scale


def _terminate(stack: Stack, name: str) -> None:
    proc = stack.procs.get(name)
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    proc.wait(timeout=30)


def _seed_units(stack: Stack, count: int) -> list[dict[str, int]]:
    """``count`` units, each connected to every platform in PLATFORMS with our limit raised, and a year of
    dearer weekends with a 2-night minimum stay."""
    from decimal import Decimal

    import requests
    from django.conf import settings

    from channelmgr.demo import demo_connect_oauth
    from channelmgr.models import ChannelConnection
    from pms_core.models import CalendarDay, Unit
    from testkit import demo_connection

    prop = Unit.objects.get(pk=stack.unit_id).property
    today = dt.date.today()
    weekends = [
        today + dt.timedelta(days=i)
        for i in range(FULL_SYNC_DAYS + 2)
        if (today + dt.timedelta(days=i)).weekday() in (4, 5)
    ]
    http = requests.Session()
    units = []
    for i in range(count):
        unit = Unit.objects.create(
            property=prop, name=f"Scale {i + 1}", base_price=Decimal("120.00"), default_min_stay=1
        )
        CalendarDay.objects.bulk_create(
            CalendarDay(unit=unit, date=night, price=Decimal("155.00"), min_stay=2) for night in weekends
        )
        connections = {}
        for slug in PLATFORMS:
            fields = demo_connection(slug, unit.pk, settings.SANDBOX_URL)
            answer = http.post(
                f"{settings.SANDBOX_URL}/_control/{slug}/listings",
                json={"listing_id": fields["platform_listing_id"]},
                timeout=10,
            )
            answer.raise_for_status()
            connection = ChannelConnection.objects.create(
                organization=prop.organization,
                unit=unit,
                platform_type=slug,
                rate_limit=RAISED_LIMIT,
                rate_window=RAISED_WINDOW,
                **fields,
            )
            connections[slug] = connection.pk
        units.append(connections)
    ids = [c for unit in units for c in unit.values()]
    demo_connect_oauth(ChannelConnection.objects.filter(pk__in=ids, access_token=""))
    missing = ChannelConnection.objects.filter(pk__in=ids, access_token="", platform_type__in=_oauth()).count()
    if missing:
        raise RuntimeError(f"{missing} OAuth connections got no tokens from the sandbox")
    return units


def _oauth() -> list[str]:
    from testkit import oauth_platforms

    return list(oauth_platforms())


def _make_dirty(connection_ids: list[int], kinds: list[str], start: dt.date, days: int) -> None:
    """Dirty ranges already past the debounce, so every message is one real push."""
    from django.utils import timezone

    from channelmgr.models import DirtyRange

    end = start + dt.timedelta(days=days)
    rows = DirtyRange.objects.bulk_create(
        DirtyRange(connection_id=pk, kind=kind, start=start, end=end, correlation_id="bench")
        for pk in connection_ids
        for kind in kinds
    )
    DirtyRange.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=timezone.now() - dt.timedelta(seconds=10))


def _dirty_left(connection_ids: list[int]) -> int:
    from channelmgr.models import DirtyRange

    return DirtyRange.objects.filter(connection_id__in=connection_ids).count()


def _failures_since(connection_ids: list[int], since) -> int:
    from channelmgr.models import SyncLog

    return SyncLog.objects.filter(
        connection_id__in=connection_ids, started_at__gte=since, status=SyncLog.Status.FAILED
    ).count()


# --- capturing the requests the adapters send -------------------------------------------------------


class Capture:
    """Records every platform request this process sends to the sandbox (not its control API), and the
    time spent inside ``requests.Session.send`` (the HTTP round trip, as the adapters see it)."""

    def __init__(self, sandbox_url: str):
        import requests

        self.prefix = sandbox_url.rstrip("/") + "/"
        self.on = False
        self.requests: list[tuple[str, str, dict, bytes | None]] = []
        self.send_seconds = 0.0
        self.sends = 0
        self._lock = threading.Lock()
        original = requests.Session.send
        capture = self

        def send(session, prepared, **kwargs):
            began = time.perf_counter()
            try:
                return original(session, prepared, **kwargs)
            finally:
                spent = time.perf_counter() - began
                if capture.on and prepared.url.startswith(capture.prefix):
                    path = prepared.url[len(capture.prefix) :]
                    if not path.startswith(("_control/", "_state/")):
                        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
                        with capture._lock:
                            capture.requests.append((prepared.method, prepared.url, dict(prepared.headers), body))
                            capture.send_seconds += spent
                            capture.sends += 1

        requests.Session.send = send

    @classmethod
    def of(cls, sandbox_url: str) -> Capture:
        """The one capture of this process: each would wrap ``Session.send`` again."""
        if not hasattr(cls, "_one"):
            cls._one = cls(sandbox_url)
        return cls._one

    def start(self) -> None:
        with self._lock:
            self.requests, self.send_seconds, self.sends = [], 0.0, 0
        self.on = True

    def stop(self) -> list[tuple[str, str, dict, bytes | None]]:
        self.on = False
        with self._lock:
            return list(self.requests)


def replay(captured: list[tuple[str, str, dict, bytes | None]], threads: int) -> tuple[float, int]:
    """Send ``captured`` again with bare ``requests`` (one Session per thread, ``threads`` threads);
    returns (seconds, answers that were not 2xx)."""
    from adapters.http import _Session

    local = threading.local()
    headers_to_drop = {"content-length"}  # requests computes it again

    def send(item) -> int:
        session = getattr(local, "session", None)
        if session is None:
            # The adapters' own Session class (adapters.http), so both sides pay the same for a request:
            # a plain Session reads the proxy settings from the environment on every request, which the
            # adapters' reads once per origin.
            session = local.session = _Session()  # noqa: SLF001
        method, url, headers, body = item
        headers = {k: v for k, v in headers.items() if k.lower() not in headers_to_drop}
        return session.request(method, url, headers=headers, data=body, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(send, captured[:threads]))  # each thread opens its connection outside the timing
        began = time.perf_counter()
        statuses = list(pool.map(send, captured))
        seconds = time.perf_counter() - began
    return seconds, sum(not 200 <= s < 300 for s in statuses)


# --- (c) throughput ---------------------------------------------------------------------------------


@dataclass
class Throughput:
    push_rates: list[float]  # drains (``push_enqueue_many``), as a backlog is dispatched
    alone_rates: list[float]  # one message a connection, as a single change is (context)
    http_rates: list[float]
    requests_per_push: float
    refused: int
    noop_rate: float | None
    push_cpu_ms: float  # this process's CPU time a push (the best round), beside ...
    http_cpu_ms: float  # ... its CPU time a bare request (the best round)
    pickup_ms: float = 0.0  # median wait from resume() to the first message started (not in the rates)

    @property
    def ratio(self) -> float:
        return max(self.push_rates) / max(self.http_rates)

    @property
    def paired_ratio(self) -> float:
        """The median over rounds of each round's push rate ÷ the replay right after it: less sensitive to
        one lucky interval on either side."""
        return statistics.median(p / h for p, h in zip(self.push_rates, self.http_rates, strict=True))


def throughput(scale: Scale, *, rounds: int, noops: int) -> Throughput:
    """Pushes per second from one worker (this process, ``THREADS`` threads) over ``C_CONNECTIONS``
    connections, ÷ bare HTTP requests per second sending the same requests with as many threads. Each
    round pushes every connection a month of prices once; rounds alternate with the replays, after a
    warm-up round of each, and the best of each side is compared.

    The pushes are dispatched as the engine dispatches a backlog (the sweep, a full sync):
    ``push_enqueue_many``, drains of ``DRAIN_SIZE`` connections. Each round also pushes them one message a
    connection, as a single change goes, for context."""
    import channelmgr.tasks as tasks
    from channelmgr.models import DirtyRange
    from channelmgr.sync.dispatch import DRAIN_SIZE, push_enqueue_many

    connections = scale.connections()[:C_CONNECTIONS]
    if len(connections) < C_CONNECTIONS:
        raise SystemExit(f"(c) needs {C_CONNECTIONS} connections: --scale-units must be at least {C_CONNECTIONS // 5}")
    capture = Capture.of(scale.stack.sandbox_url)
    broker = dramatiq.get_broker()
    finished = _Finished()
    broker.add_middleware(finished)

    @dramatiq.actor(queue_name="bench-noop", max_retries=0)
    def noop(i: int) -> None:
        pass

    worker = dramatiq.Worker(broker, worker_threads=THREADS, worker_timeout=100)
    worker.start()
    pickups: list[float] = []
    try:

        def timed(enqueue: Callable[[], int]) -> float:
            """Enqueue with the worker paused, so only the processing is timed: from the first message a
            worker thread starts to the last it finishes. Not from ``resume()``: an idle consumer looks
            for messages every ``poll_ms`` (100 ms; a pickup latency, which (b) measures), and a round of
            50 pushes lasts a few hundred ms, so that wait was up to a third of a round. The bare side
            too is timed from its first request."""
            worker.pause()
            before = finished.count()
            sent = enqueue()
            finished.first_start = None
            resumed = time.perf_counter()
            worker.resume()
            if not finished.wait(before + sent, timeout=300):
                raise SystemExit("(c) the messages did not finish within 300 s")
            ended = time.perf_counter()
            pickups.append(finished.first_start - resumed)
            return ended - finished.first_start

        noop_rate = None
        if noops:
            noop_rate = noops / timed(lambda: [noop.send(i) for i in range(noops)] and noops)

        def drains() -> int:
            push_enqueue_many(connection_ids=connections, kind=DirtyRange.Kind.PRICING, delay_seconds=0)
            return math.ceil(len(connections) / DRAIN_SIZE)

        def alone() -> int:
            for pk in connections:
                tasks.update_channel_pricing.send(pk)
            return len(connections)

        def push_round(enqueue: Callable[[], int] = drains) -> tuple[float, float, list]:
            _make_dirty(connections, [DirtyRange.Kind.PRICING], dt.date.today() + dt.timedelta(days=20), C_DAYS)
            failed_before = finished.failed
            capture.start()
            cpu = time.process_time()
            seconds = timed(enqueue)
            cpu = time.process_time() - cpu
            captured = capture.stop()
            if finished.failed != failed_before or _dirty_left(connections):
                raise SystemExit(
                    f"(c) {finished.failed - failed_before} pushes failed or were deferred, "
                    f"{_dirty_left(connections)} dirty ranges left: the engine did not push every connection"
                )
            return len(connections) / seconds, cpu / len(connections), captured

        push_round()  # warm-up: connections, caches, imports
        push_round(alone)
        push_rates, alone_rates, http_rates, push_cpu, http_cpu, refused, sent = [], [], [], [], [], 0, 0
        for i in range(rounds + 1):
            alone_rate, _cpu, _captured = push_round(alone)
            rate, cpu, captured = push_round()
            cpu_before = time.process_time()
            seconds, bad = replay(captured * C_REPLAYS, THREADS)
            if i == 0:
                continue  # the replay's warm-up
            push_rates.append(rate)
            alone_rates.append(alone_rate)
            push_cpu.append(cpu)
            http_rates.append(len(captured) * C_REPLAYS / seconds)
            http_cpu.append((time.process_time() - cpu_before) / (len(captured) * C_REPLAYS + THREADS))
            refused += bad
            sent += len(captured)
    finally:
        worker.stop()
    return Throughput(
        push_rates,
        alone_rates,
        http_rates,
        sent / (len(connections) * rounds),
        refused,
        noop_rate,
        push_cpu_ms=min(push_cpu) * 1000,
        http_cpu_ms=min(http_cpu) * 1000,
        pickup_ms=statistics.median(pickups) * 1000,
    )


class _Finished(dramatiq.Middleware):
    """Counts the messages this process's worker finished (and those that failed or were deferred)."""

    def __init__(self):
        self.done = 0
        self.failed = 0
        self.first_start: float | None = None  # when a worker thread started the round's first message
        self.cond = threading.Condition()

    def before_process_message(self, broker, message):
        with self.cond:
            if self.first_start is None:
                self.first_start = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        with self.cond:
            self.done += 1
            if exception is not None:
                self.failed += 1
            self.cond.notify_all()

    def after_skip_message(self, broker, message):
        self.after_process_message(broker, message, exception=RuntimeError("skipped"))

    def count(self) -> int:
        with self.cond:
            return self.done

    def wait(self, target: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.done >= target, timeout=timeout)


# --- (d) scale --------------------------------------------------------------------------------------


@dataclass
class FullSync:
    units: int
    processes: int
    seconds: float
    requests: int
    failures: int
    peak_rss_mb: list[float]  # per process of the worker's group: the dramatiq parent and its workers
    cpu_seconds: float  # user + system time of the worker's processes: less noisy than the wall clock
    sandbox_cpu_seconds: float  # the sandbox's (one process)
    machine_busy: float = 0.0  # the share of the machine's cores busy during the run (every process)
    machine_steal: float = 0.0  # the share taken by the hypervisor for other guests (a VM's noise)


def full_sync(scale: Scale, units: int, processes: int, *, timeout: float = 1800) -> FullSync:
    """A full push (availability and prices, ``FULL_SYNC_DAYS`` nights) of the first ``units`` units on
    ``processes`` fresh ``rundramatiq`` processes of ``THREADS`` threads: seconds from the first message
    enqueued to the last dirty range pushed, and each process's peak RSS."""
    from django.utils import timezone

    from channelmgr.models import DirtyRange
    from channelmgr.sync.dispatch import push_enqueue_many

    stack = scale.stack
    connections = scale.connections(units)
    name = f"scale-worker-{units}u-{processes}p"
    proc = stack._spawn(
        name, [sys.executable, "manage.py", "rundramatiq", "--processes", str(processes), "--threads", str(THREADS)]
    )
    try:

        def ready() -> bool:
            return stack.log_files[name].read_text(errors="replace").count("Worker process is ready") >= processes

        if not wait_for(ready, timeout=120, interval=0.3):
            raise RuntimeError(f"{name} did not start\n{stack.logs_tail(20)}")
        stats_before = stack.all_stats()
        since = timezone.now()
        _make_dirty(
            connections, [DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING], dt.date.today(), FULL_SYNC_DAYS
        )
        cpu_before = cpu_seconds(proc.pid)
        machine_before = machine_cpu()
        sandbox = stack.procs["sandbox"].pid
        sandbox_before = cpu_seconds(sandbox)
        began = time.perf_counter()
        # As ``manage.py sync`` queues a full sync: drains of many connections.
        for kind in (DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING):
            push_enqueue_many(connection_ids=connections, kind=kind, delay_seconds=0)

        def finished() -> bool:
            if not _dirty_left(connections) and not _running(connections):
                return True
            # A push the platform refused stays dirty for the retry (or for good): the run would never end.
            error = _first_failure(connections, since)
            if error:
                raise RuntimeError(f"(d) a push of the full sync failed, so its timing means nothing: {error}")
            return False

        if not wait_for(finished, timeout, 0.1):
            raise RuntimeError(f"(d) the full sync of {units} units did not finish within {timeout:.0f} s")
        seconds = time.perf_counter() - began
        rss = peak_rss_mb(proc.pid)
        cpu = cpu_seconds(proc.pid) - cpu_before
        sandbox_cpu = cpu_seconds(sandbox) - sandbox_before
        busy, steal = (after - before for after, before in zip(machine_cpu(), machine_before, strict=True))
        stats_after = stack.all_stats()
    finally:
        _terminate(stack, name)
    requests = sum(stats_after[s]["requests_total"] - stats_before[s]["requests_total"] for s in PLATFORMS)
    cores = os.cpu_count() or 1
    return FullSync(
        units,
        processes,
        seconds,
        requests,
        _failures_since(connections, since),
        rss,
        cpu,
        sandbox_cpu,
        machine_busy=busy / (seconds * cores),
        machine_steal=steal / (seconds * cores),
    )


def _first_failure(connection_ids: list[int], since) -> str:
    from channelmgr.models import SyncLog

    failed = SyncLog.objects.filter(
        connection_id__in=connection_ids, started_at__gte=since, status=SyncLog.Status.FAILED
    ).first()
    return f"connection {failed.connection_id}: {failed.error[:300]}" if failed else ""


def _running(connection_ids: list[int]) -> int:
    from channelmgr.models import SyncLog

    return SyncLog.objects.filter(connection_id__in=connection_ids, status=SyncLog.Status.RUNNING).count()


def _group(group: int) -> list[tuple[Path, list[str]]]:
    """Every process of process group ``group``: its /proc directory and the fields of its stat after
    the command name."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 12 and fields[2] == str(group):
            found.append((entry, fields))
    return found


def peak_rss_mb(group: int) -> list[float]:
    """VmHWM (peak resident set) of every process in process group ``group``, in MB, largest first."""
    peaks = []
    for entry, _fields in _group(group):
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except (OSError, ValueError, IndexError):
            continue
    return sorted(peaks, reverse=True)


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy (every process, Postgres and Redis included) and had
    stolen by its hypervisor, from /proc/stat's first line."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


def cpu_seconds(group: int) -> float:
    """User plus system CPU seconds the live processes of process group ``group`` have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[11]) + int(fields[12]) for _entry, fields in _group(group)) / ticks


# --- (p) profile ------------------------------------------------------------------------------------


@dataclass
class PushCost:
    pushes: int
    seconds: float
    http_seconds: float
    http_requests: int
    db_seconds: float
    queries: int
    redis_seconds: float
    redis_calls: int
    by_platform: dict[str, float]
    profile: str
    async_commit_seconds: float  # the same pushes with synchronous_commit off: what the commits' flushes cost


def profile_pushes(scale: Scale, *, per_platform: int = 4, top: int = 30) -> PushCost:
    """Push a month of prices to ``per_platform`` connections of every platform, one push at a time in this
    thread (``push_connection``, as the actor calls it): once measured (wall time, and the time inside
    HTTP, Postgres and Redis calls, with their counts), once with ``synchronous_commit`` off, and once
    under cProfile counting CPU time (the top functions)."""
    import redis
    from django.db import connection as db

    from channelmgr.models import DirtyRange
    from channelmgr.sync.push import push_connection

    capture = Capture.of(scale.stack.sandbox_url)
    chosen = [(slug, unit[slug]) for unit in scale.units[-per_platform:] for slug in PLATFORMS]
    kind = DirtyRange.Kind.PRICING
    start = dt.date.today() + dt.timedelta(days=60)
    ids = [pk for _slug, pk in chosen]
    _make_dirty(ids, [kind], start, C_DAYS)  # warm-up: imports, connections, the adapters' caches
    for _slug, pk in chosen:
        push_connection(connection_id=pk, kind=kind)

    db_time = [0.0, 0]

    def timed_query(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db_time[0] += time.perf_counter() - began
            db_time[1] += 1

    redis_time = [0.0, 0]
    original_execute = redis.Redis.execute_command

    def execute_command(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return original_execute(self, *args, **kwargs)
        finally:
            redis_time[0] += time.perf_counter() - began
            redis_time[1] += 1

    _make_dirty(ids, [kind], start, C_DAYS)
    by_platform: dict[str, list[float]] = {}
    redis.Redis.execute_command = execute_command
    capture.start()
    try:
        with db.execute_wrapper(timed_query):
            began = time.perf_counter()
            for slug, pk in chosen:
                one = time.perf_counter()
                push_connection(connection_id=pk, kind=kind)
                by_platform.setdefault(slug, []).append(time.perf_counter() - one)
            seconds = time.perf_counter() - began
    finally:
        redis.Redis.execute_command = original_execute
        capture.stop()
    http_seconds, http_requests = capture.send_seconds, capture.sends

    # The same pushes once more with this session's commits not waiting for the WAL flush: the
    # difference is what the push's separate write transactions cost in fsyncs.
    _make_dirty(ids, [kind], start, C_DAYS)
    with db.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        began = time.perf_counter()
        for _slug, pk in chosen:
            push_connection(connection_id=pk, kind=kind)
        async_commit_seconds = time.perf_counter() - began
    finally:
        with db.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO on")

    _make_dirty(ids, [kind], start, C_DAYS)
    # CPU time, not the wall clock: the waits are in the figures above; this says where the process spends
    # the CPU that bounds one worker process (its threads share one GIL).
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _slug, pk in chosen:
        push_connection(connection_id=pk, kind=kind)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(r"/work/|channelmgr|adapters|pms_core", top)
    return PushCost(
        pushes=len(chosen),
        seconds=seconds,
        http_seconds=http_seconds,
        http_requests=http_requests,
        db_seconds=db_time[0],
        queries=db_time[1],
        redis_seconds=redis_time[0],
        redis_calls=redis_time[1],
        by_platform={slug: statistics.median(v) for slug, v in by_platform.items()},
        profile=_trim(out.getvalue()),
        async_commit_seconds=async_commit_seconds,
    )


@dataclass
class DrainCost:
    pushes: int
    drain_size: int
    cpu_ms: float  # this process's CPU time a push
    steps: dict[str, float]  # CPU ms a push in each step of the drain (and in the calls inside its sends)


# The steps of a drain (``channelmgr.sync.drain``) and the calls inside its sends, timed one by one.
_DRAIN_STEPS = {
    "the connections' debounce state": ("channelmgr.sync.drain", "_ready"),
    "claiming their ranges": ("channelmgr.sync.drain", "_claim_many"),
    "reading their units' nights": ("channelmgr.sync.drain", "calendar_nights_many"),
    "the items to send": ("channelmgr.sync.drain", "push_items"),
    "opening their SyncLog rows": ("channelmgr.sync.drain", "_open_logs"),
    "sending (all of it)": ("channelmgr.sync.drain", "push_request"),
    "  the HTTP request (requests)": ("requests", "Session.request"),
    "  breaker+limiters, one step": ("channelmgr.resilience.guard", "_admit_at_once"),
    "  breaker+limiters, step by step": ("channelmgr.resilience.guard", "_admit_step_by_step"),
    "recording the pushes": ("channelmgr.sync.drain", "_finish"),
}


def drain_cost(scale: Scale, *, rounds: int = 3) -> DrainCost:
    """Drains of ``DRAIN_SIZE`` over the ``C_CONNECTIONS`` connections of (c), one at a time in this thread,
    a month of prices each: this process's CPU time a push, and in each step (``_DRAIN_STEPS``). The best of
    ``rounds`` rounds, after a warm-up."""
    import importlib

    from channelmgr.models import DirtyRange
    from channelmgr.sync.dispatch import DRAIN_SIZE
    from channelmgr.sync.drain import push_drain

    connections = scale.connections()[:C_CONNECTIONS]
    kind = DirtyRange.Kind.PRICING
    start = dt.date.today() + dt.timedelta(days=90)
    spent: dict[str, float] = {}
    originals = []
    for label, (module, path) in _DRAIN_STEPS.items():
        owner = importlib.import_module(module)
        *outer, name = path.split(".")
        for attribute in outer:
            owner = getattr(owner, attribute)
        original = getattr(owner, name)
        originals.append((owner, name, original))

        def timed(*args, _label=label, _original=original, **kwargs):
            began = time.process_time()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.process_time() - began

        setattr(owner, name, timed)
    best: tuple[float, dict[str, float]] | None = None
    try:
        for i in range(rounds + 1):
            _make_dirty(connections, [kind], start, C_DAYS)
            spent.clear()
            began = time.process_time()
            for first in range(0, len(connections), DRAIN_SIZE):
                push_drain(kind=kind, connection_ids=connections[first : first + DRAIN_SIZE])
            cpu = time.process_time() - began
            if _dirty_left(connections):
                raise SystemExit("(p) a drain left dirty ranges: the engine did not push every connection")
            if i and (best is None or cpu < best[0]):
                best = (cpu, dict(spent))
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    per = 1000 / len(connections)
    cpu, steps = best
    return DrainCost(len(connections), DRAIN_SIZE, cpu * per, {k: steps.get(k, 0.0) * per for k in _DRAIN_STEPS})


def _trim(text: str) -> str:
    """pstats' report without its blank lines and with paths relative to the repository."""
    root = str(Path(__file__).resolve().parents[1]) + "/"
    return "\n".join(line.replace(root, "") for line in text.splitlines() if line.strip())
