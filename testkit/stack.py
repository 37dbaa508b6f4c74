"""The whole product as separate processes, for the end-to-end tests (``tests/e2e``) and the benchmarks
(``bench/sync.py``, ``bench/soak.py``).

``Stack`` starts, on free ports and with its own Postgres database and its own Redis key space:

- the platform sandbox (``python -m sandbox``), whose webhooks go to the web server;
- the web server (gunicorn, 2 workers, ``config/gunicorn.py``);
- a Dramatiq worker (``manage.py rundramatiq``) in its own process group, so it can be SIGKILLed whole;
- the scheduler (``manage.py run_scheduler``).

It then seeds one organization, a login, an API token and one unit connected to every platform we
push to (``PLATFORMS``, from the registry), each the way its adapter's ``demo`` declaration says (OAuth
through the sandbox's code flow), and pushes the sync window once so every platform knows the listings.
Each process writes stdout and stderr to a file under a temp dir; ``logs_tail()`` returns the end of each,
for a failing test's report.

Only needs ``DATABASE_URL`` and ``REDIS_URL`` (the services); the database is ``e2e_<pid>`` on the same
server (created here, dropped on ``stop()``), and the Redis keys live in a db number of their own
(``E2E_REDIS_DB``, default 9) under a prefix unique to this run, deleted on ``stop()``. Two runs on one
machine therefore never touch each other's data.

``EmbeddedStack`` is the same product in embedded mode (``manage.py run_embedded --no-sandbox``: the web
server with its in-process broker, worker threads and scheduler) on a temporary SQLite file, plus the
sandbox; it needs no services. Both seed ``units`` units (default 1), each connected to every platform in
``PLATFORMS``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from testkit import push_platforms, wait_for

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# Every platform the stack connects a unit to: the ones we push to, as the registry finds them.
PLATFORMS = push_platforms()

# Booking.com allows 20 requests a minute per account: a poll every 3 s would spend all of it and
# starve the pushes. 10 s keeps pulls quick in tests (the sandbox's notify ping also triggers a pull
# at once) and leaves two thirds of the budget to pushes.
BOOKING_COM_POLL_SECONDS = 10
BREAKER_TIMEOUT_SECONDS = 10
BREAKER_FAILURE_THRESHOLD = 5


class ServiceMissing(RuntimeError):
    """Postgres or Redis is not reachable (or not configured)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def _where(url: str) -> str:
    """host:port of a service URL, never its credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 'default port'}"


def check_services(database_url: str, redis_url: str) -> None:
    """Raise ``ServiceMissing`` unless both services answer."""
    import psycopg
    import redis

    if not database_url or not redis_url:
        raise ServiceMissing("DATABASE_URL and REDIS_URL must both be set")
    try:
        psycopg.connect(database_url, connect_timeout=3).close()
    except Exception as exc:
        raise ServiceMissing(f"Postgres at {_where(database_url)} is unreachable: {exc}") from exc
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        raise ServiceMissing(f"Redis at {_where(redis_url)} is unreachable: {exc}") from exc


class Stack:
    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        name: str = "e2e",
        extra_env: dict | None = None,
        units: int = 1,
        extra_workers: int = 0,
        hotel: bool = False,
    ):
        self.units = units
        # The units are room types of one hotel on platforms whose requests carry several listings of
        # an account (``Capability.BATCH_LISTINGS``: Booking.com), so their pushes travel together.
        self.hotel = hotel
        # More rundramatiq processes beside "worker" (which the crash tests kill and restart): several
        # workers on one Postgres and one Redis must behave as one.
        self.extra_workers = extra_workers
        self.admin_database_url = database_url
        self.db_name = f"{name}_{os.getpid()}_{secrets.token_hex(2)}"
        self.database_url = _with_path(database_url, f"/{self.db_name}")
        redis_db = os.environ.get("E2E_REDIS_DB", "9")
        self.redis_url = _with_path(redis_url, f"/{redis_db}")
        self.prefix = f"{name}-{os.getpid()}-{secrets.token_hex(3)}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{name}-stack-"))
        self.metrics_dir = self.tmp / "prometheus"
        self.sandbox_port, self.web_port = free_port(), free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.extra_env = extra_env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.log_files: dict[str, Path] = {}
        self.token = ""
        self.seed: dict = {}
        self._db_created = False
        self._worker_generation = 0
        self._writes: dict[str, dict[str, str]] = {}

    # --- environment --------------------------------------------------------------------------

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TEST_DATABASE"))}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "PYTHONUNBUFFERED": "1",
                "DEBUG": "true",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "DRAMATIQ_NAMESPACE": self.prefix,
                "CACHE_KEY_PREFIX": self.prefix,
                "SANDBOX_URL": self.sandbox_url,
                "PUBLIC_BASE_URL": self.base_url,
                "GOOGLE_PUBSUB_CERTS_URL": f"{self.sandbox_url}/google/oauth2/v3/certs",
                "GOOGLE_PUBSUB_AUDIENCE": f"{self.base_url}/webhooks/google",
                "ALLOW_PRIVATE_NETWORK_FETCH": "true",
                "PUSH_DEBOUNCE_SECONDS": "1",
                "BOOKING_COM_POLL_SECONDS": str(BOOKING_COM_POLL_SECONDS),
                "BREAKER_TIMEOUT_SECONDS": str(BREAKER_TIMEOUT_SECONDS),
                "BREAKER_FAILURE_THRESHOLD": str(BREAKER_FAILURE_THRESHOLD),
                # A killed worker's messages come back through the broker's own recovery; quicker
                # than production's 15 s and 1% so the crash test waits seconds, not a minute.
                "DRAMATIQ_HEARTBEAT_TIMEOUT_SECONDS": "3",
                "DRAMATIQ_MAINTENANCE_CHANCE": "200000",
                "SHARED_REFERENCE_DIR": os.environ.get(
                    "SHARED_REFERENCE_DIR", str(ROOT.parent / "shared" / "reference")
                ),
                "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
                "EMBEDDED_WORKER": "false",
                "LOG_LEVEL": "INFO",
            }
        )
        env.update(self.extra_env)
        return env

    # --- processes ------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log_path = self.tmp / f"{name}.log"
        self.log_files[name] = log_path
        log = open(log_path, "ab")  # noqa: SIM115 - the child keeps it open
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.procs[name] = proc
        return proc

    def manage(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``manage.py <args>`` in the stack's environment."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
        return result

    def _spawn_sandbox(self) -> subprocess.Popen:
        return self._spawn(
            "sandbox",
            [sys.executable, "-m", "sandbox", "--port", str(self.sandbox_port), "--callback-base", self.base_url],
        )

    def start(self) -> Stack:
        try:
            self._create_database()
            self.metrics_dir.mkdir()
            self.manage("migrate", "--noinput", timeout=300)
            self._spawn_sandbox()
            self._spawn(
                "web",
                [
                    str(VENV_BIN / "gunicorn"),
                    "config.wsgi:application",
                    "--config",
                    "python:config.gunicorn",
                    "--bind",
                    f"127.0.0.1:{self.web_port}",
                    "--workers",
                    "2",
                ],
            )
            self.start_worker()
            for n in range(2, 2 + self.extra_workers):
                self._spawn(f"worker-{n}", self._worker_argv())
            self._spawn("scheduler", [sys.executable, "manage.py", "run_scheduler"])
            self._wait_ready()
            self._seed()
        except BaseException:
            self.stop()
            raise
        return self

    def start_worker(self) -> subprocess.Popen:
        self._worker_generation += 1
        return self._spawn("worker", self._worker_argv())

    @staticmethod
    def _worker_argv() -> list[str]:
        return [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "4"]

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group (the dramatiq parent and its worker processes)."""
        proc = self.procs.get("worker")
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def worker_ready(self) -> bool:
        """True once the worker (and every extra one) logged that its processes are consuming."""
        text = self.log_files["worker"].read_text(errors="replace")
        extras = [self.log_files[name] for name in self.log_files if name.startswith("worker-")]
        return text.count("is ready for action") >= self._worker_generation and all(
            "is ready for action" in log.read_text(errors="replace") for log in extras
        )

    def _wait_ready(self) -> None:
        def answers(url):
            try:
                return requests.get(url, timeout=2).status_code == 200
            except requests.RequestException:
                return False

        for name, url in (("sandbox", f"{self.sandbox_url}/_state/health"), ("web", f"{self.base_url}/readyz")):
            if not wait_for(lambda u=url: answers(u), timeout=60, interval=0.3):
                raise RuntimeError(f"{name} did not become ready at {url}\n{self.logs_tail()}")
            self._check_alive()
        if not wait_for(self.worker_ready, timeout=60, interval=0.3):
            raise RuntimeError(f"the worker did not start\n{self.logs_tail()}")

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}\n{self.logs_tail()}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self._drop_redis_keys()
        self._drop_database()
        if not os.environ.get("E2E_KEEP_LOGS"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def logs_tail(self, lines: int = 60) -> str:
        out = []
        for name, path in self.log_files.items():
            try:
                text = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            out.append(f"----- {name} ({path}), last {lines} lines -----")
            out.extend(text[-lines:])
        return "\n".join(out)

    # --- Postgres and Redis -------------------------------------------------------------------

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_database_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self._db_created = True

    def _drop_database(self) -> None:
        import psycopg

        if not self._db_created:
            return
        try:
            with psycopg.connect(self.admin_database_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        except Exception as exc:  # leave it for a person rather than hide the test's own failure
            print(f"could not drop e2e database {self.db_name}: {exc}", file=sys.stderr)

    def _drop_redis_keys(self) -> None:
        import redis

        try:
            client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=3)
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            for i in range(0, len(keys), 500):
                client.delete(*keys[i : i + 500])
        except Exception as exc:
            print(f"could not delete e2e redis keys {self.prefix}*: {exc}", file=sys.stderr)

    def query(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        """Run one query on the stack's database (autocommit, a fresh connection)."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, sql: str, params: tuple | dict = ()):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    # --- seed -----------------------------------------------------------------------------------

    def _seed(self) -> None:
        script = f"UNITS = {int(self.units)}\nHOTEL = {bool(self.hotel)}\n{SEED_SCRIPT}"
        result = self.manage("shell", "-c", script, timeout=120)
        self.seed = json.loads(result.stdout.strip().splitlines()[-1])
        self.token = self.seed["token"]
        # A full push of the sync window, so every platform knows the listing and our defaults.
        self._initial_push()
        if not wait_for(self.idle, timeout=120, interval=0.5):
            raise RuntimeError(f"the initial full push did not finish\n{self.logs_tail()}")

    def _initial_push(self) -> None:
        self.manage("sync", "--days", "400")

    @property
    def unit_id(self) -> int:
        return self.seed["unit"]

    @property
    def unit_ids(self) -> list[int]:
        """Every seeded unit (``units`` of them), the first being ``unit_id``."""
        return self.seed.get("units", [self.unit_id])

    def unit_listing(self, unit: int, slug: str) -> str:
        return self.seed["unit_listings"][str(unit)][slug]

    def unit_connection(self, unit: int, slug: str) -> int:
        return self.seed["unit_connections"][str(unit)][slug]

    def listing(self, slug: str) -> str:
        return self.seed["listings"][slug]

    def connection_id(self, slug: str) -> int:
        return self.seed["connections"][slug]

    # --- helpers for tests and the bench ------------------------------------------------------

    def idle(self) -> bool:
        """No dirty range is waiting and no push is running."""
        return not self.scalar("SELECT count(*) FROM channelmgr_dirtyrange") and not self.scalar(
            "SELECT count(*) FROM channelmgr_synclog WHERE status = 'running' AND direction = 'outbound'"
        )

    def pending(self) -> dict[str, int]:
        """What is still in flight, by kind; the stack is quiet when every count is 0. Besides the
        database (dirty ranges, running pushes, outbox events not consumed, webhook events not imported)
        it counts the broker's messages (Redis only: the embedded broker lives inside the web process),
        leaving out the scheduler's periodic polls and token refreshes, which never stop, and the nights a
        connection held to close-outs keeps for a person (``held_connections``)."""
        counts = {
            # Those a push would send: a connection held to close-outs keeps its prices for a person.
            "dirty_ranges": self.scalar(
                "SELECT count(*) FROM channelmgr_dirtyrange d JOIN channelmgr_channelconnection c"
                " ON c.id = d.connection_id WHERE c.status = 'active'"
                " OR (d.kind = 'availability' AND c.status = 'needs_attention' AND c.closeouts_only)"
            ),
            "pushes_running": self.scalar(
                "SELECT count(*) FROM channelmgr_synclog WHERE status = 'running' AND direction = 'outbound'"
            ),
            "outbox_unconsumed": self.scalar("SELECT count(*) FROM pms_core_outboxevent WHERE consumed_at IS NULL"),
            "inbound_unprocessed": self.scalar(
                "SELECT count(*) FROM channelmgr_inboundevent WHERE status = 'received'"
            ),
        }
        counts.update(self.broker_pending())
        return counts

    def held_connections(self) -> list[tuple[int, int, str]]:
        """(id, unit, platform) of the connections held to close-outs (a platform refused one of our values)."""
        return [
            tuple(row)
            for row in self.query(
                "SELECT id, unit_id, platform_type FROM channelmgr_channelconnection"
                " WHERE status = 'needs_attention' AND closeouts_only ORDER BY id"
            )
        ]

    def broker_pending(self) -> dict[str, int]:
        """Messages waiting, delayed or being worked on in the Redis broker, by actor (periodic ones
        left out), plus ``dead_letters``: messages the broker gave up on."""
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=3)
        counts: dict[str, int] = {}
        for key in client.scan_iter(match=f"{self.prefix}:*.msgs", count=1000):
            name = key.decode()
            dead = name.endswith(".XQ.msgs")
            for raw in client.hvals(key):
                try:
                    actor = json.loads(raw).get("actor_name", "?")
                except ValueError:
                    actor = "?"
                if dead:
                    counts["dead_letters"] = counts.get("dead_letters", 0) + 1
                elif actor not in PERIODIC_ACTORS:
                    counts[f"broker:{actor}"] = counts.get(f"broker:{actor}", 0) + 1
        return counts

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def sandbox(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.sandbox_url}{path}", timeout=30, **kwargs)

    def stats(self, slug: str) -> dict:
        return self.sandbox("GET", f"/_state/{slug}/stats").json()

    def all_stats(self) -> dict[str, dict]:
        return {slug: self.stats(slug) for slug in PLATFORMS}

    def write_endpoint(self, slug: str, kind: str) -> str:
        """The stats key (``"<METHOD> <endpoint>"``, for ``delta``) of ``slug``'s ``kind`` write
        (``"availability"`` or ``"pricing"``): the simulator's name, which its platform class declares and
        ``/_state/<slug>/stats`` publishes as ``"writes"``. One request may be both (Expedia's AR). Read
        from the sandbox once per platform."""
        if slug not in self._writes:
            self._writes[slug] = self.stats(slug)["writes"]
        if kind not in self._writes[slug]:
            raise LookupError(f"the sandbox's {slug} declares no {kind} write: {self._writes[slug]}")
        return self._writes[slug][kind]

    def calendar(self, slug: str, start: dt.date, end: dt.date, *, listing: str | None = None) -> list[dict]:
        answer = self.sandbox(
            "GET",
            f"/_state/{slug}/listings/{listing or self.listing(slug)}/calendar",
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
        return answer.json().get("days", []) if answer.ok else []

    def availability(self, slugs, start: dt.date, end: dt.date) -> dict[str, list[bool]]:
        return {slug: [day["available"] for day in self.calendar(slug, start, end)] for slug in slugs}

    def all_closed(self, slugs, start: dt.date, end: dt.date) -> bool:
        nights = (end - start).days
        return all(len(days) == nights and not any(days) for days in self.availability(slugs, start, end).values())

    def all_open(self, slugs, start: dt.date, end: dt.date) -> bool:
        nights = (end - start).days
        return all(len(days) == nights and all(days) for days in self.availability(slugs, start, end).values())

    def bookings(self, **filters) -> list[dict]:
        """``GET /bookings`` with these filters (one page is plenty here)."""
        answer = self.api("GET", "/bookings", params=filters)
        answer.raise_for_status()
        return answer.json()["results"]

    def pms_booking(self, source: str, channel_id: str) -> dict | None:
        results = self.bookings(source=source, channel_booking_id=channel_id)
        assert len(results) <= 1, results
        return results[0] if results else None

    def book(self, slug: str, check_in: dt.date, check_out: dt.date, guest: str = "Gast", total: str = "300.00"):
        return self.sandbox(
            "POST",
            f"/_control/{slug}/reservations",
            json={
                "listing_id": self.listing(slug),
                "check_in": check_in.isoformat(),
                "check_out": check_out.isoformat(),
                "guest_name": guest,
                "total": total,
            },
        )

    def metrics(self) -> str:
        return requests.get(f"{self.base_url}/metrics", timeout=10).text

    def metric(self, name: str, **labels) -> float | None:
        """The sum of the samples of ``name`` whose labels include ``labels`` (None if there are none)."""
        total, found = 0.0, False
        for line in self.metrics().splitlines():
            match = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$", line)
            if not match or match.group(1) != name:
                continue
            got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
            if all(got.get(k) == v for k, v in labels.items()):
                total += float(match.group(3))
                found = True
        return total if found else None


# Enqueued by the scheduler again and again; never a sign of unfinished work.
PERIODIC_ACTORS = {"poll_connection", "refresh_connection_token"}


class EmbeddedStack(Stack):
    """The product in embedded mode, the way ``make run`` starts it: ``manage.py run_embedded`` (the web
    server with its in-process broker, worker threads and scheduler) on a temporary SQLite file, and the
    sandbox as its own process (``--no-sandbox``, so both are started, logged and stopped like the
    services stack's). Needs neither Postgres nor Redis and never touches ``var/db.sqlite3``."""

    def __init__(self, *, name: str = "embedded", extra_env: dict | None = None, units: int = 1, hotel: bool = False):
        super().__init__(database_url="", redis_url="", name=name, extra_env=extra_env, units=units, hotel=hotel)
        self.database_url = self.redis_url = self.admin_database_url = ""
        self.sqlite_path = self.tmp / "db.sqlite3"

    @property
    def env(self) -> dict:
        env = super().env
        for name in ("DATABASE_URL", "REDIS_URL", "DRAMATIQ_NAMESPACE", "PROMETHEUS_MULTIPROC_DIR"):
            env.pop(name, None)
        env.update({"SQLITE_PATH": str(self.sqlite_path), "EMBEDDED_WORKER": "true"})
        env.update(self.extra_env)
        return env

    def start(self) -> EmbeddedStack:
        try:
            self.manage("migrate", "--noinput", timeout=300)
            self._spawn_sandbox()
            self._spawn(
                "web",
                [
                    sys.executable,
                    "manage.py",
                    "run_embedded",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.web_port),
                    "--no-sandbox",
                ],
            )
            self._wait_ready()
            self._seed()
        except BaseException:
            self.stop()
            raise
        return self

    def _initial_push(self) -> None:
        # ``manage.py sync`` would queue on its own in-memory broker; the API queues on the server's.
        for connections in self.seed["unit_connections"].values():
            for connection_id in connections.values():
                answer = self.api("POST", f"/channel-connections/{connection_id}/sync", json={"sync_type": "full"})
                answer.raise_for_status()

    def start_worker(self) -> subprocess.Popen:
        raise NotImplementedError("the embedded worker runs inside the web process")

    def worker_ready(self) -> bool:
        return self.procs["web"].poll() is None

    def _create_database(self) -> None:
        pass  # migrate creates the SQLite file

    def _drop_database(self) -> None:
        pass  # the file lives in the temp dir, removed by stop()

    def _drop_redis_keys(self) -> None:
        pass

    def query(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        """The same queries as on Postgres (``%s`` placeholders), on the SQLite file."""
        import sqlite3

        conn = sqlite3.connect(self.sqlite_path, timeout=20, isolation_level=None)
        try:
            cur = conn.execute(sql.replace("%s", "?"), params)
            return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def broker_pending(self) -> dict[str, int]:
        return {}  # in the web process's memory: the database rows above stand for its work


SEED_SCRIPT = r"""
import json
from decimal import Decimal
import requests
from django.conf import settings
from rest_framework.authtoken.models import Token
from channelmgr.demo import demo_connect_oauth
from channelmgr.models import ChannelConnection
from pms_core.models import Organization, Property, Unit, User
from adapters.base import Capability
from adapters.registry import adapter_class
from testkit import demo_connection, oauth_platforms, push_platforms

UNITS = globals().get("UNITS", 1)
HOTEL = globals().get("HOTEL", False)
org = Organization.objects.create(name="E2E Ferienhaus GmbH")
user = User.objects.create_superuser("e2e", password="e2e-password-123", organization=org, email="e2e@example.com")
prop = Property.objects.create(organization=org, name="Haus am Deich", timezone="UTC", currency="EUR")
units, unit_connections, unit_listings, hotels = [], {}, {}, {}
for i in range(UNITS):
    unit = Unit.objects.create(property=prop, name="Ganzes Haus" if i == 0 else f"Ganzes Haus {i + 1}",
                               base_price=Decimal("150.00"), default_min_stay=1)
    connections, listings = {}, {}
    for slug in push_platforms():
        fields = demo_connection(slug, unit.pk, settings.SANDBOX_URL)
        listing = {"listing_id": fields["platform_listing_id"]}
        if HOTEL and Capability.BATCH_LISTINGS in adapter_class(slug).capabilities:
            # Unit i is room type "room-i" of the hotel named as the first unit's listing (each platform's
            # own id format); on the sandbox, a listing of its own.
            hotel = hotels.setdefault(slug, fields["platform_listing_id"])
            room = f"room-{i + 1}"
            fields["platform_listing_id"] = hotel
            fields["platform_metadata"] = {**fields.get("platform_metadata", {}), "room_id": room}
            listing = {"listing_id": f"{hotel}.{room}", "hotel": hotel, "room_codes": [room]}
        # The listing exists on the platform before we connect it (a poll of an unknown one is refused for good).
        answer = requests.post(f"{settings.SANDBOX_URL}/_control/{slug}/listings", json=listing, timeout=10)
        assert answer.status_code in (200, 201), (slug, answer.status_code, answer.text)
        c = ChannelConnection.objects.create(organization=org, unit=unit, platform_type=slug, **fields)
        connections[slug], listings[slug] = c.pk, listing["listing_id"]
    units.append(unit.pk)
    unit_connections[unit.pk], unit_listings[unit.pk] = connections, listings
assert demo_connect_oauth() == len(oauth_platforms()) * UNITS, "OAuth through the sandbox failed"
token, _ = Token.objects.get_or_create(user=user)
first = units[0]
print(json.dumps({"unit": first, "connections": unit_connections[first], "listings": unit_listings[first],
                  "units": units, "unit_connections": unit_connections, "unit_listings": unit_listings,
                  "token": token.key, "user": ["e2e", "e2e-password-123"]}))
"""


def delta(before: dict[str, dict], after: dict[str, dict], slug: str, endpoint: str) -> int:
    """How many ``endpoint`` requests ``slug`` received between two ``all_stats()`` snapshots."""
    return after[slug]["requests"].get(endpoint, 0) - before[slug]["requests"].get(endpoint, 0)
