"""``python manage.py sandbox``: start the platform simulator (same as ``python -m sandbox``)."""

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the platform sandbox in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8900, help="0-65535 (0 picks a free port)")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--callback-base", default=settings.PUBLIC_BASE_URL)

    def handle(self, *args, port, host, callback_base, **options):
        if not 0 <= port <= 65535:
            raise CommandError(f"--port: {port} is not a port (0-65535)")
        # exec keeps the sandbox a separate program that imports nothing from this project.
        os.execv(  # noqa: S606
            sys.executable,
            [sys.executable, "-m", "sandbox", "--host", host, "--port", str(port), "--callback-base", callback_base],
        )
