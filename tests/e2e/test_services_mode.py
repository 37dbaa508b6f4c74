"""The README's "Running against Postgres and Redis" steps, followed literally in a fresh database, give the
same working demo as ``make run``: every demo connection ends ``active``, and ``demo_scenario`` closes the
guest's nights on the other four platforms.

Each line of the README's first ``bash`` block there runs as written, through bash, in order: the
``export`` lines once (their environment then goes to every later line), the one-shot lines to completion
(each must exit 0), the sandbox, gunicorn, the worker and the scheduler as long-running processes. Only
these are changed, so that the run touches nothing of anyone else's and never collides:

- the values of ``DATABASE_URL`` (a database created for the test, ``Stack``'s), ``REDIS_URL`` (the e2e
  Redis db) and ``PROMETHEUS_MULTIPROC_DIR`` (a temp dir);
- the ports 8000 and 8900 (free ones). The README leaves ``SANDBOX_URL`` and ``PUBLIC_BASE_URL`` at their
  defaults, which name those ports, so the test sets both to the same addresses on the free ports;
- ``DRAMATIQ_NAMESPACE`` and ``CACHE_KEY_PREFIX``: a prefix of this run, whose keys ``stop()`` deletes.

Then the line of the README's next ``bash`` block (``demo_scenario``) runs the way a person would, once
everything is up. ``testkit.stack.Stack`` provides the database, the processes, their logs and the clean-up;
it seeds nothing here: the README's own steps do.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from testkit import wait_for
from testkit.stack import ROOT, Stack
from tests.e2e.conftest import services

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
SECTION = "## Running against Postgres and Redis"
# The long-running lines, by what they run (Stack's process names, so its helpers find them).
SERVERS = {"-m sandbox": "sandbox", "gunicorn": "web", "rundramatiq": "worker", "run_scheduler": "scheduler"}
OTHER_PLATFORMS = ("booking_com", "expedia", "fewo_direkt", "google")


def readme_blocks() -> list[list[str]]:
    """The ``bash`` blocks of the services section (up to its next ``##`` or ``###`` heading), as lines."""
    text = README.read_text()
    assert SECTION in text, f"the README has no {SECTION!r} section"
    section = re.split(r"^#{2,3} ", text.split(SECTION, 1)[1], maxsplit=1, flags=re.MULTILINE)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```", section, flags=re.DOTALL | re.MULTILINE)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


class ReadmeStack(Stack):
    """``Stack``'s database, Redis key space, temp dir, free ports, processes and clean-up, started by the
    README's lines instead of ``Stack.start``."""

    def __init__(self, *, database_url: str, redis_url: str):
        super().__init__(database_url=database_url, redis_url=redis_url, name="readme")
        dropped = ("DATABASE_URL", "REDIS_URL", "SANDBOX_URL", "PUBLIC_BASE_URL", "PROMETHEUS_MULTIPROC_DIR")
        base = {
            k: v
            for k, v in os.environ.items()
            if k not in dropped and not k.startswith(("PYTEST", "TEST_DATABASE", "DJANGO", "DRAMATIQ_", "CACHE_"))
        }
        self._env = {
            **base,
            "SANDBOX_URL": self.sandbox_url,
            "PUBLIC_BASE_URL": self.base_url,
            "DRAMATIQ_NAMESPACE": self.prefix,
            "CACHE_KEY_PREFIX": self.prefix,
        }
        self.steps: list[tuple[str, float]] = []  # (README line, seconds it took)

    @property
    def env(self) -> dict:
        return self._env

    def localize(self, line: str) -> str:
        """The README line with this run's database, Redis, metrics dir and ports."""
        replacements = [
            (r"(DATABASE_URL=)\S+", rf"\g<1>{self.database_url}"),
            (r"(REDIS_URL=)\S+", rf"\g<1>{self.redis_url}"),
            (r"(PROMETHEUS_MULTIPROC_DIR=)\S+", rf"\g<1>{self.metrics_dir}"),
            (r"127\.0\.0\.1:8000\b", f"127.0.0.1:{self.web_port}"),
            (r"127\.0\.0\.1:8900\b", f"127.0.0.1:{self.sandbox_port}"),
            (r"--port 8900\b", f"--port {self.sandbox_port}"),
        ]
        for pattern, replacement in replacements:
            line = re.sub(pattern, replacement, line)
        return line

    def run_line(self, line: str, timeout: float = 300) -> subprocess.CompletedProcess:
        started = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", line], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        self.steps.append((line, time.monotonic() - started))
        return done

    def export(self, line: str) -> None:
        """Run an ``export`` line once and keep the environment it leaves."""
        done = subprocess.run(
            ["bash", "-c", f"{line}\nenv -0"], cwd=ROOT, env=self.env, capture_output=True, timeout=60
        )
        assert done.returncode == 0, (line, done.stderr.decode(errors="replace"))
        self._env = dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)

    def start(self) -> ReadmeStack:
        steps = readme_blocks()[0]
        servers = [server for key, server in SERVERS.items() if any(key in line for line in steps)]
        assert sorted(servers) == sorted(SERVERS.values()), f"the README's steps start {servers}: {steps}"
        try:
            self._create_database()
            for line in map(self.localize, steps):
                if line.startswith("export "):
                    self.export(line)
                elif server := next((name for key, name in SERVERS.items() if key in line), None):
                    self._worker_generation += server == "worker"  # Stack.worker_ready counts its starts
                    self._spawn(server, ["bash", "-c", f"exec {line}"])
                else:
                    done = self.run_line(line)
                    assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            assert self.env.get("DATABASE_URL") == self.database_url, "the README's steps set no DATABASE_URL"
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def demo_connections(self) -> dict[str, list[str]]:
        """platform -> the statuses of the demo organization's connections to it."""
        rows = self.query(
            "SELECT c.platform_type, c.status FROM channelmgr_channelconnection c "
            "JOIN pms_core_organization o ON o.id = c.organization_id WHERE o.name = %s ORDER BY c.id",
            ("Demo Holiday Homes",),
        )
        statuses: dict[str, list[str]] = {}
        for platform, status in rows:
            statuses.setdefault(platform, []).append(status)
        return statuses


@pytest.fixture
def readme_stack():
    database_url, redis_url = services()
    stack = ReadmeStack(database_url=database_url, redis_url=redis_url)
    started = time.monotonic()
    stack.start()
    stack.started_in = time.monotonic() - started
    try:
        yield stack
    finally:
        stack.stop()


def test_the_readme_services_steps_give_the_working_demo(readme_stack):
    stack = readme_stack
    assert "connect_demo" in " ".join(line for line, _ in stack.steps), stack.steps

    def all_active() -> bool:
        statuses = stack.demo_connections()
        return bool(statuses) and all(s == "active" for group in statuses.values() for s in group)

    # The first full syncs connect_demo queued have been pushed (they hold the Booking.com budget).
    assert wait_for(lambda: all_active() and stack.idle(), timeout=90, interval=0.5), (
        stack.demo_connections(),
        stack.pending(),
        stack.logs_tail(),
    )
    scenario = readme_blocks()[1]
    assert [line for line in scenario if "demo_scenario" in line], scenario
    for line in map(stack.localize, scenario):
        done = stack.run_line(line, timeout=120)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{line}\n{output}\n{stack.logs_tail()}"
    assert "every other platform closed the nights" in output, output
    for platform in OTHER_PLATFORMS:
        nights = next((row for row in output.splitlines() if row.strip().startswith(platform)), "")
        assert nights and "closed" in nights and "open" not in nights.split(platform, 1)[1], (platform, output)

    statuses = stack.demo_connections()
    assert set(statuses) >= {"airbnb", *OTHER_PLATFORMS, "ical"}, statuses
    not_active = {platform: group for platform, group in statuses.items() if set(group) != {"active"}}
    assert not not_active, (not_active, stack.logs_tail())
    print(
        f"\nREADME services steps: started in {stack.started_in:.1f}s; "
        + "; ".join(f"{line.split('manage.py ')[-1][:40]} {seconds:.1f}s" for line, seconds in stack.steps)
    )
