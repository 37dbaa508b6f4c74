from django.conf import settings
from django.core.management.base import BaseCommand

from channelmgr.demo import DEMO_USER, demo_seed


class Command(BaseCommand):
    help = "Create the demo organization, login, properties, units and sandbox connections (once)."

    def handle(self, *args, **options):
        org, created = demo_seed()
        self.stdout.write(f"demo data {'created' if created else 'already present'}: {org.name}")
        self.stdout.write(f"login: {DEMO_USER[0]} / {DEMO_USER[1]}")
        if settings.REDIS_URL:
            # Services mode: nothing starts the sandbox for us (run_embedded connects the demo by itself).
            self.stdout.write(
                "next: start the sandbox, then `manage.py connect_demo` creates the demo's listings, feed "
                "and OAuth tokens there"
            )
