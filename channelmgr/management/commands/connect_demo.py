"""Services mode's half of what ``make run`` does by itself: connect the demo to the running sandbox."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from channelmgr.demo import DemoConnectError, demo_connect


class Command(BaseCommand):
    help = (
        "Connect the demo (seed_demo) to the platform sandbox at SANDBOX_URL: create its listings there, "
        "publish the demo iCal feed, authorize the OAuth connections, resume demo connections in "
        "needs_attention and queue a full sync of each. Safe to run again, e.g. after restarting the sandbox."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait",
            type=float,
            default=30.0,
            help="seconds to wait for the sandbox to answer (default 30; 0 asks once)",
        )

    def handle(self, *args, wait, **options):
        if not settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is not set: in embedded mode `make run` (run_embedded) connects the demo itself, "
                "and the syncs queued here would stay in this command's own in-memory broker"
            )
        try:
            result = demo_connect(wait=max(0.0, wait))
        except DemoConnectError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
        if result.failed:
            raise CommandError("; ".join(f"{step}: {why}" for step, why in result.failed.items()))
        self.stdout.write(self.style.SUCCESS(f"the demo is connected to the sandbox at {settings.SANDBOX_URL}"))
