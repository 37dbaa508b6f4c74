"""The scheduler process (services mode): polling, outbox relay, push sweep, token refresh, reconcile."""

import signal

from apscheduler.schedulers.blocking import BlockingScheduler
from django.core.management.base import BaseCommand

from channelmgr.scheduler import add_jobs


class Command(BaseCommand):
    help = "Run the periodic jobs until SIGTERM."

    def handle(self, *args, **options):
        scheduler = BlockingScheduler(timezone="UTC")
        add_jobs(scheduler)

        def stop(*_):
            scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("scheduler running: " + ", ".join(job.id for job in scheduler.get_jobs()))
        scheduler.start()
