"""The scheduler process (services mode): polling, outbox relay, push sweep, token refresh, reconcile.

Any number may run: the one holding the scheduler's lease (in Redis) runs the jobs, the others stand
by and take over within ``SCHEDULER_LEASE_SECONDS`` of its death. ``-v 2`` logs every job run with the
lease's owner and term.
"""

import logging
import signal
import threading

from apscheduler.schedulers.background import BackgroundScheduler
from django.core.management.base import BaseCommand, CommandError

from channelmgr.scheduler import add_jobs, lead, scheduler_lease


class Command(BaseCommand):
    help = "Run the periodic jobs until SIGTERM, while this process holds the scheduler's lease."

    def handle(self, *args, verbosity=1, **options):
        if verbosity >= 2:
            for name in ("channelmgr.scheduler", "channelmgr.resilience.lease"):
                logging.getLogger(name).setLevel(logging.DEBUG)
        lease = scheduler_lease()
        scheduler = BackgroundScheduler(timezone="UTC")
        add_jobs(scheduler, lease)
        keeper = lead(scheduler, lease)
        stop = threading.Event()

        def on_signal(*_):
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        scheduler.start(paused=True)
        keeper.start()
        self.stdout.write(
            f"scheduler {lease.owner} running (jobs run while it holds the {lease.ttl:g} s lease): "
            + ", ".join(job.id for job in scheduler.get_jobs())
        )
        try:
            while not stop.wait(1.0):
                if not keeper.alive():
                    raise CommandError("the lease keeper stopped")
        finally:
            # No job starts any more. Running ones may finish while the keeper still renews the lease, for
            # one lease at most; then it is given back, so a standby takes over at once. A long job (the
            # daily reconcile) must not keep the lease for a scheduler that runs nothing: its polls and
            # relays would wait until the pod is killed. A job still running stops sending
            # (``still_leading``) once the lease is gone.
            stopping = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
            stopping.start()
            stopping.join(lease.ttl)
            keeper.stop(release=True)
