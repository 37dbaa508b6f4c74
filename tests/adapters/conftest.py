"""Sandbox credentials per platform (docs/platforms.md "Sandbox defaults"), a live sandbox, and the
``http`` fixture (a mocked platform) that every adapter folder's tests share.

The contract suite (``test_contract.py``) runs every adapter against the sandbox started in this
process, with a tiny receiver standing in for our webhook URLs.
"""

from __future__ import annotations

import datetime as dt
import http.server
import inspect
import os
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests
import responses

from adapters.base import Credentials

CI = os.environ.get("CI", "").lower() == "true"


@dataclass(frozen=True)
class SandboxPlatform:
    """What the contract suite needs to talk to one platform of the sandbox."""

    credentials: Credentials = field(default_factory=Credentials)
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    metadata: dict = field(default_factory=dict)
    # Where reservations are made and calendars read (iCal reads another platform's export).
    control_slug: str = ""
    # How a webhook proves itself: "hmac" (secrets), "credentials" (Expedia's SOAP header), "jwt"
    # (Google's Pub/Sub token) or "" (Booking.com's ping carries no proof).
    webhook_proof: str = ""
    webhook_secrets: tuple[str, ...] = ()
    webhook_username: str = ""
    webhook_password: str = ""
    # How far a signed timestamp may drift; None where the message carries no timestamp.
    replay_window_seconds: int | None = None
    # The sandbox's rate limit: (requests, seconds), None where there is none.
    rate_limit: tuple[int, int] | None = None


# The sandbox's side of each platform, written here rather than read from the adapter, so the contract
# checks the adapter against the platform instead of against itself. ``test_contract.py`` fails for a
# discovered platform that has no entry.
SANDBOX_PLATFORMS: dict[str, SandboxPlatform] = {
    "airbnb": SandboxPlatform(
        rate_limit=(10, 1),
        oauth_client_id="sandbox-airbnb-client",
        oauth_client_secret="sandbox-airbnb-secret",
        webhook_proof="hmac",
        webhook_secrets=("sandbox-airbnb-webhook",),
        replay_window_seconds=300,
    ),
    "fewo_direkt": SandboxPlatform(
        rate_limit=(30, 1),
        credentials=Credentials(api_key="sandbox-fewo-key"),
        webhook_proof="hmac",
        webhook_secrets=("sandbox-fewo-webhook",),
        replay_window_seconds=300,
    ),
    "booking_com": SandboxPlatform(
        rate_limit=(20, 60),
        credentials=Credentials(username="sandbox-booking", password="sandbox-booking-pass"),
    ),
    "expedia": SandboxPlatform(
        rate_limit=(50, 1),
        credentials=Credentials(username="sandbox-expedia", password="sandbox-expedia-pass"),
        webhook_proof="credentials",
        webhook_username="expedia-push",
        webhook_password="sandbox-expedia-push-pass",
    ),
    "google": SandboxPlatform(
        rate_limit=(100, 1),
        oauth_client_id="sandbox-google-client",
        oauth_client_secret="sandbox-google-secret",
        webhook_proof="jwt",
        replay_window_seconds=3600,  # the push JWT's lifetime
    ),
    "ical": SandboxPlatform(control_slug="airbnb"),
}

GOOGLE_PUSH_ACCOUNT = "pubsub@sandbox-vr.iam.gserviceaccount.com"


def need_service(reason: str):
    """Skip on a laptop, fail in CI: a missing service must never pass silently there."""
    if CI:
        pytest.fail(f"required service missing under CI=true: {reason}")
    pytest.skip(reason)


# --- a mocked platform, for every adapter's own tests ---------------------------------------


@pytest.fixture(name="http")
def http_mock():
    """``responses`` in place of the platform: register the answers a test expects; a request nobody
    registered fails, and so does a registered one left unused."""
    with responses.RequestsMock() as mock:
        yield mock


# --- the webhook receiver -------------------------------------------------------------------


@dataclass(frozen=True)
class CapturedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: dt.datetime


class WebhookReceiver:
    """Stands in for ``<callback-base>/webhooks/<path>``: records every POST and answers 200."""

    def __init__(self):
        self.captured: list[CapturedWebhook] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.captured.append(
                        CapturedWebhook(self.path, dict(self.headers.items()), body, dt.datetime.now(dt.UTC))
                    )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "16")
                self.end_headers()
                self.wfile.write(b'{"status": "ok"}')

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def clear(self):
        with self._lock:
            self.captured.clear()

    def wait_for(self, path: str, predicate=lambda hook: True, timeout: float = 10.0) -> CapturedWebhook:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for hook in self.captured:
                    if hook.path.rstrip("/") == path and predicate(hook):
                        return hook
            time.sleep(0.05)
        raise AssertionError(f"no webhook to {path} within {timeout}s; got {[h.path for h in self.captured]}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def webhook_receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


# --- the live sandbox -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def sandbox_url(webhook_receiver):
    """Base URL of a sandbox started in a thread on a free port (``sandbox.server.make_server``)."""
    try:
        from sandbox.server import make_server
    except ImportError as exc:
        need_service(f"sandbox.server is not importable yet: {exc}")
    wanted = {"host": "127.0.0.1", "port": 0, "callback_base": webhook_receiver.base_url}
    accepted = inspect.signature(make_server).parameters
    server = make_server(**{name: value for name, value in wanted.items() if name in accepted})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(sandbox_url, webhook_receiver):
    """A sandbox back at its start state, with an empty receiver."""
    requests.post(f"{sandbox_url}/_control/reset", timeout=10).raise_for_status()
    webhook_receiver.clear()
    return sandbox_url
