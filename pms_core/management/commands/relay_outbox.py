"""Hand every outbox event that never reached the broker to it. Once, or as a loop."""

import math
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from pms_core.outbox import outbox_relay_step

# A missed event closes no nights until relayed: a loop slower than an hour is a mistyped value.
MAX_INTERVAL = 3600.0


class Command(BaseCommand):
    help = "Re-send outbox events that were not handed to the broker (for example while it was down)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="relay what is pending now, then exit")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="seconds between passes in loop mode (at most an hour)"
        )

    def handle(self, *args, once, interval, **options):
        # Checked before the first pass: NaN compares False with everything, and time.sleep refuses it.
        if not (math.isfinite(interval) and 0 < interval <= MAX_INTERVAL):
            raise CommandError(f"--interval must be a number of seconds above 0 and at most {MAX_INTERVAL:.0f}")
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        if not once:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        while True:
            handed = 0
            while batch := outbox_relay_step():
                handed += batch
            if handed or once:
                self.stdout.write(f"relayed {handed} event(s)")
            if once or stopping:
                return
            close_old_connections()
            time.sleep(interval)
