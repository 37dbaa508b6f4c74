"""HTTP plumbing: a threading HTTP server that hands every request to the Sandbox and writes its answer."""

from __future__ import annotations

import logging
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox.app import Sandbox
from sandbox.exchange import Request, Response

log = logging.getLogger(__name__)

MAX_BODY = 10 * 1024 * 1024


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox):
        self.sandbox = sandbox
        super().__init__(address, SandboxHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        super().serve_forever(poll_interval)  # a short poll makes shutdown() quick

    def shutdown(self) -> None:
        """Stop serving, then stop the webhook workers and close the socket."""
        super().shutdown()
        self.sandbox.close()
        self.server_close()


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so benchmarks measure the API rather than TCP set-up
    server_version = "PlatformSandbox/1.0"
    # One buffered write per answer and no Nagle: otherwise keep-alive clients wait ~40 ms for delayed ACKs.
    wbufsize = -1
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._write(Response.json(411, {"error": "send a Content-Length, chunked bodies are not accepted"}))
            return
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            self._write(Response.json(413, {"error": f"body larger than {MAX_BODY} bytes"}))
            return
        body = self.rfile.read(int(length)) if length else b""
        request = Request.build(self.command, self.path, dict(self.headers.items()), body)
        try:
            response = self.server.sandbox.dispatch(request)
        except Exception:  # a sandbox bug must not kill the connection silently
            log.exception("sandbox failed on %s %s", self.command, self.path)
            response = Response.json(500, {"error": "sandbox internal error (a bug in the sandbox)"})
        self._write(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def make_server(
    host: str,
    port: int,
    callback_base: str,
    reference_dir: str | os.PathLike | None = None,
    **options,
) -> SandboxServer:
    """A ready server; call serve_forever() (in a thread if you like) and shutdown().

    `options` go to Sandbox: rate_limits, token_ttl, webhook_backoff, webhook_history, fallback_seconds.
    """
    return SandboxServer((host, port), Sandbox(callback_base, reference_dir, **options))
