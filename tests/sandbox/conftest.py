"""Fixtures for the sandbox tests: one sandbox and one webhook receiver per session, reset before every test.

These tests need no Django: run them with `-p no:django`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from lxml import etree

from sandbox.server import make_server
from sandbox.xml import default_reference_dir
from tests.conftest import need_service

CI = os.environ.get("CI", "").lower() == "true"
REFERENCE = default_reference_dir()
FAST_BACKOFF = (0.05, 0.05, 0.05, 0.05)
CLIENTS = {
    "airbnb": ("sandbox-airbnb-client", "sandbox-airbnb-secret"),
    "google": ("sandbox-google-client", "sandbox-google-secret"),
}
BOOKING_AUTH = ("sandbox-booking", "sandbox-booking-pass")


def need_reference() -> Path:
    """Skip without ../shared/reference on a laptop; fail under CI=true."""
    if not REFERENCE.is_dir():
        if CI:
            pytest.fail(f"reference folder {REFERENCE} missing under CI=true")
        need_service(f"reference folder {REFERENCE} not found")  # ../shared is required under CI
    return REFERENCE


def assert_valid(schema: str, xml: bytes | etree._Element) -> None:
    root = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    compiled = etree.XMLSchema(etree.parse(str(need_reference() / schema)))
    assert compiled.validate(root), compiled.error_log


class Receiver:
    """A tiny webhook receiver: records every request, answers with queued statuses (then 200)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.statuses.clear()
            self.delay = 0.0

    def wait_for(self, count: int, path: str | None = None, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = [r for r in self.received if path is None or r["path"] == path]
            if len(got) >= count:
                return got
            time.sleep(0.01)
        raise AssertionError(f"expected {count} webhooks to {path}, got {len(got)}")


class SandboxClient:
    """HTTP access to a running sandbox, with the dev credentials from docs/platforms.md."""

    def __init__(self, server) -> None:
        self.server = server
        self.app = server.sandbox
        self.url = server.base_url
        self.http = requests.Session()
        self.http.trust_env = False

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.url + path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.http.post(self.url + path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.http.put(self.url + path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.http.delete(self.url + path, **kw)

    def tokens(self, slug: str) -> dict:
        client_id, secret = CLIENTS[slug]
        answer = self.get(
            f"/{slug}/oauth2/authorize",
            params={
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": "http://cm.test/cb",
                "state": "s1",
            },
            allow_redirects=False,
        )
        code = parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://cm.test/cb",
            "client_id": client_id,
            "client_secret": secret,
        }
        return self.post(f"/{slug}/oauth2/token", data=form).json()

    def bearer(self, slug: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens(slug)['access_token']}"}

    def listing(self, slug: str, listing_id: str, **extra) -> None:
        answer = self.post(f"/_control/{slug}/listings", json={"listing_id": listing_id, **extra})
        assert answer.status_code in (200, 201), answer.text

    def book(self, slug: str, listing_id: str, check_in: str, check_out: str, **extra) -> requests.Response:
        payload = {
            "listing_id": listing_id,
            "check_in": check_in,
            "check_out": check_out,
            "guest_name": "Ada Lovelace",
            "total": "300.00",
            **extra,
        }
        return self.post(f"/_control/{slug}/reservations", json=payload)

    def stats(self, slug: str) -> dict:
        return self.get(f"/_state/{slug}/stats").json()

    def calendar(self, slug: str, listing_id: str, start: str, end: str) -> list[dict]:
        return self.get(f"/_state/{slug}/listings/{listing_id}/calendar", params={"start": start, "end": end}).json()[
            "days"
        ]


def start(callback_base: str, **options):
    server = make_server("127.0.0.1", 0, callback_base, **options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def receiver():
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture(scope="session")
def shared_server(receiver):
    server = start(receiver.base_url, webhook_backoff=FAST_BACKOFF)
    yield server
    server.shutdown()


@pytest.fixture
def sandbox(shared_server, receiver) -> SandboxClient:
    """The sandbox with the doc's defaults (limits included), reset to its start state."""
    # A delivery still in flight would land in this test (and count in its stats): wait for it first.
    shared_server.sandbox.webhooks.wait_idle(2.0)
    shared_server.sandbox.reset()
    receiver.reset()
    return SandboxClient(shared_server)


@pytest.fixture
def tuned_sandbox(receiver):
    """A fresh sandbox with the given options, e.g. tuned_sandbox(rate_limits={"airbnb": (3, 0.5)})."""
    servers = []

    def build(**options) -> SandboxClient:
        receiver.reset()
        server = start(receiver.base_url, **{"webhook_backoff": FAST_BACKOFF, **options})
        servers.append(server)
        return SandboxClient(server)

    yield build
    for server in servers:
        server.shutdown()


def ota(body: str) -> bytes:
    return body.strip().encode()


def json_of(answer: requests.Response) -> dict:
    return json.loads(answer.content)
