"""Embedded mode in one command: the sandbox, the web server, worker threads and the scheduler.

The in-memory broker lives in this process, so the worker threads and the scheduler must too.
"""

import subprocess
import sys
import time

import dramatiq
import requests
from apscheduler.schedulers.background import BackgroundScheduler
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from adapters import registry
from adapters.base import Capability
from channelmgr.demo import DEMO_USER, DemoConnectError, demo_connect
from channelmgr.scheduler import add_jobs
from pms_core.models import User


class Command(BaseCommand):
    help = "Run the whole product in one process (plus the platform sandbox) on embedded defaults."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8900)
        parser.add_argument("--no-sandbox", action="store_true", help="don't start the platform sandbox")

    def handle(self, *args, host, port, sandbox_port, no_sandbox, **options):
        for flag, value in (("--port", port), ("--sandbox-port", sandbox_port)):
            if not 0 < value <= 65535:
                raise CommandError(f"{flag}: {value} is not a port (1-65535)")
        if settings.REDIS_URL and not settings.EMBEDDED_WORKER:
            raise CommandError("REDIS_URL is set: run gunicorn, rundramatiq and run_scheduler instead")
        sandbox = None
        if not no_sandbox:
            sandbox = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sandbox",
                    "--host",
                    host,
                    "--port",
                    str(sandbox_port),
                    "--callback-base",
                    f"http://{host}:{port}",
                ],
            )
            self._wait_for_sandbox(sandbox, f"http://{host}:{sandbox_port}")
        worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=settings.EMBEDDED_WORKER_THREADS)
        worker.start()
        if sandbox:
            self._connect_demo()
        scheduler = BackgroundScheduler(timezone="UTC")
        add_jobs(scheduler)
        scheduler.start()
        self.stdout.write(self.style.SUCCESS(f"\nAdmin:   http://{host}:{port}/admin/"))
        if User.objects.filter(username=DEMO_USER[0]).exists():
            self.stdout.write(self.style.SUCCESS(f"Login:   {DEMO_USER[0]} / {DEMO_USER[1]}"))
        self.stdout.write(f"API:     http://{host}:{port}/api/docs/")
        if sandbox:
            for slug in registry.slugs(Capability.PUSH_AVAILABILITY):
                self.stdout.write(f"Sandbox: http://{host}:{sandbox_port}/_state/{slug}/stats")
            self.stdout.write("")
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False, use_threading=True)
        finally:
            scheduler.shutdown(wait=False)
            worker.stop()
            if sandbox:
                sandbox.terminate()
                sandbox.wait(timeout=10)

    def _connect_demo(self):
        """What ``manage.py connect_demo`` does in services mode: the demo's listings, feed and OAuth
        tokens in the sandbox just started, and a first full sync, on this process's broker."""
        try:
            result = demo_connect()
        except DemoConnectError as exc:  # the product still runs; say why the demo does not
            self.stderr.write(f"demo not connected: {exc}")
            return
        self.stdout.write(f"Demo:    {result.summary()}")
        for step, why in result.failed.items():  # the demo still runs; the admin shows what failed
            self.stderr.write(f"demo set-up step {step} failed: {why}")

    def _wait_for_sandbox(self, process, url, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError("the sandbox exited at start (is its port taken?)")
            try:
                if requests.get(f"{url}/_state/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise CommandError(f"the sandbox did not answer at {url} within {timeout:.0f}s")
