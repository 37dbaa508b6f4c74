"""The README's quick start on a fresh copy: `make run` serves the product, the demo scenario works.

Runs the real Makefile in a copy of the committed tree (the virtualenv is shared with this run, so
the test measures the product, not pip). It waits for /readyz, drives `make demo-scenario`, and
checks that every other platform closed the nights the guest booked.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI", "").lower() == "true"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fresh_copy(tmp_path):
    if not shutil.which("make") or not shutil.which("git"):
        if CI:
            pytest.fail("make and git are needed for the quick-start test")
        pytest.skip("make or git missing")
    copy = tmp_path / "clone"
    copy.mkdir()
    # The working tree without ignored files (in CI: exactly the fresh clone).
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            target = copy / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


def test_make_run_serves_the_product_and_the_demo_closes_nights_everywhere(fresh_copy, tmp_path):
    port, sandbox_port = _free_port(), _free_port()
    # A fresh shell: none of this run's service settings or make's own variables leak in.
    dropped = ("DATABASE_URL", "REDIS_URL", "SANDBOX_URL", "PUBLIC_BASE_URL", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("DJANGO")}
    log = open(tmp_path / "make-run.log", "w")
    server = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"SANDBOX_PORT={sandbox_port}"],
        cwd=fresh_copy,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = requests.get(f"{base}/readyz", timeout=2)
                if ready.ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        assert ready is not None and ready.ok, (tmp_path / "make-run.log").read_text()[-3000:]
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        assert requests.get(f"{base}/admin/", timeout=5, allow_redirects=False).status_code == 302  # to the login
        assert "demo / demo-password" in (tmp_path / "make-run.log").read_text()
        time.sleep(3)  # the demo's first full push to every sandbox platform
        scenario = subprocess.run(
            ["make", "demo-scenario", f"PORT={port}", f"SANDBOX_PORT={sandbox_port}"],
            cwd=fresh_copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = scenario.stdout + scenario.stderr
        assert scenario.returncode == 0, output + (tmp_path / "make-run.log").read_text()[-3000:]
        assert "every other platform closed the nights" in output
        for platform in ("booking_com", "expedia", "fewo_direkt", "google"):
            line = next(line for line in output.splitlines() if line.strip().startswith(platform))
            assert "open" not in line.split(platform, 1)[1], line
    finally:
        _stop(server)
        log.close()


def _stop(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
