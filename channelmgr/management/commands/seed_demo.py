from django.core.management.base import BaseCommand

from channelmgr.demo import DEMO_USER, demo_seed


class Command(BaseCommand):
    help = "Create the demo organization, login, properties, units and sandbox connections (once)."

    def handle(self, *args, **options):
        org, created = demo_seed()
        self.stdout.write(f"demo data {'created' if created else 'already present'}: {org.name}")
        self.stdout.write(f"login: {DEMO_USER[0]} / {DEMO_USER[1]}")
