"""python -m sandbox --port 8900 --callback-base http://127.0.0.1:8000"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from sandbox.server import make_server


def port(value: str) -> int:
    """A TCP port (0 picks a free one); anything else is a usage error, not a traceback from bind()."""
    number = int(value)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535)")
    return number


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Strict simulator of the booking platforms")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port, default=8900)
    parser.add_argument("--callback-base", default="http://127.0.0.1:8000", help="where webhooks go")
    parser.add_argument("--reference-dir", default=None, help="shared/reference (default: $SHARED_REFERENCE_DIR)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        server = make_server(args.host, args.port, args.callback_base, args.reference_dir)
    except OSError as exc:  # the port is taken, the host does not resolve: a message, not a traceback
        parser.exit(1, f"python -m sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n")
    # shutdown() waits for serve_forever() to return, so it must run on another thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    logging.getLogger("sandbox").info("sandbox on %s, webhooks to %s", server.base_url, args.callback_base)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        threading.Thread(target=server.shutdown, daemon=True).start()
    finally:
        server.sandbox.close()
        server.server_close()


if __name__ == "__main__":
    main()
