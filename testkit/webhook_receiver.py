"""An integrator's webhook receiver on localhost, verifying signatures with the snippet that
docs/integrators.md publishes (read from that file, so the docs and the tests cannot drift apart).

``fail_next(n)`` makes the next ``n`` deliveries answer 500; ``received`` holds every delivery
that was accepted (verified and answered 200), in arrival order.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "integrators.md"


@cache
def documented_verifier():
    """``verify_webhook(body, header, secret, now=None)`` exactly as docs/integrators.md shows it."""
    blocks = re.findall(r"^```python\n(.*?)^```", DOCS.read_text(), flags=re.DOTALL | re.MULTILINE)
    snippet = next(block for block in blocks if "def verify_webhook" in block)
    namespace: dict = {}
    exec(compile(snippet, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_webhook"]


@dataclass
class Delivery:
    envelope: dict
    headers: dict
    verified: bool


@dataclass
class Receiver:
    secret: str = ""
    failures_left: int = 0
    received: list[Delivery] = field(default_factory=list)
    refused: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def fail_next(self, n: int) -> None:
        with self.lock:
            self.failures_left = n

    def sequences(self) -> list[int]:
        with self.lock:
            return [d.envelope["sequence"] for d in self.received]

    def of_type(self, event_type: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.received if d.envelope["type"] == event_type]

    def handle(self, body: bytes, headers: dict) -> int:
        verified = documented_verifier()(body, headers.get("Webhook-Signature", ""), self.secret)
        delivery = Delivery(json.loads(body), headers, verified)
        with self.lock:
            if not verified or self.failures_left > 0:
                self.failures_left = max(self.failures_left - 1, 0)
                self.refused.append(delivery)
                return 400 if not verified else 500
            self.received.append(delivery)
            return 200

    def start(self) -> Receiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.handle(body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
