"""Compare every connection with the PMS and print the drift; ``--fix`` imports and re-pushes."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from channelmgr.models import ChannelConnection
from channelmgr.scheduler import still_leading
from channelmgr.sync.reconcile import reconcile_connection


class Command(BaseCommand):
    help = "Report drift between each platform and the PMS (bookings, unpushed nights); --fix repairs it."

    def add_arguments(self, parser):
        parser.add_argument("--connection", type=int, help="only this connection id")
        parser.add_argument("--days", type=int, default=365, help="how many nights ahead to compare (1-730)")
        parser.add_argument("--fix", action="store_true", help="import missing bookings and mark differing dates dirty")

    def handle(self, *args, connection, days, fix, **options):
        if not 1 <= days <= 730:
            raise CommandError("--days must be between 1 and 730")
        # A connection held to close-outs is compared too: its credentials work, and for a platform that
        # only sends webhooks this is the one net for a booking whose webhook was lost.
        connections = ChannelConnection.objects.filter(ChannelConnection.credentials_work()).select_related(
            "unit__property"
        )
        if connection is not None:
            connections = connections.filter(pk=connection)
            if not connections.exists():
                raise CommandError(
                    f"no connection with id {connection} that can be compared (active, or held to close-outs)"
                )
        total = 0
        results = []
        for conn in tqdm(list(connections), desc="reconciling", unit="connection", file=self.stderr._out):
            if not still_leading():
                # Run by a scheduler that lost its lease (a SIGTERM hand-over): the new holder runs its own.
                raise CommandError(f"stopped after {len(results)} connection(s): this scheduler lost its lease")
            drift = reconcile_connection(connection=conn, days=days, fix=fix)
            results.append((conn, drift))
            total += drift.total
        for conn, drift in results:
            name = f"connection {conn.pk} {conn.platform_type} {conn.platform_listing_id}"
            self.stdout.write(f"{name}: drift {drift.total} - {drift.describe()}")
        self.stdout.write(f"total drift: {total}{' (fixes queued)' if fix and total else ''}")
        unreadable = [conn.pk for conn, drift in results if drift.error]
        if unreadable:
            # Drift that could not be measured is not zero drift: say so and fail the run.
            raise CommandError(f"could not compare connection(s) {', '.join(map(str, unreadable))}")
