"""Force a full push of the sync window to one or every connection that takes pushes."""

from django.core.management.base import BaseCommand, CommandError

from channelmgr.accounts import sync_window
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.sync.outbound import mark_dirty, push_schedule_many
from channelmgr.sync.push import push_connection


class Command(BaseCommand):
    help = (
        "Mark the next N days dirty on connections and push them (now with --now, else queued); a connection "
        "held to close-outs gets its availability only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--connection", type=int, help="only this connection id")
        parser.add_argument("--days", type=int, default=365, help="how many nights ahead to push (1-730)")
        parser.add_argument("--now", action="store_true", help="push in this process instead of queueing")

    def handle(self, *args, connection, days, now, **options):
        import datetime as dt

        if not 1 <= days <= 730:
            raise CommandError("--days must be between 1 and 730")
        # A connection held to close-outs gets its window too, in that form: a night reopened on its
        # platform is what this command is for, and there it would be sold twice.
        connections = ChannelConnection.objects.filter(ChannelConnection.receives_pushes(DirtyRange.Kind.AVAILABILITY))
        if connection is not None:
            connections = connections.filter(pk=connection)
            if not connections.exists():
                raise CommandError(
                    f"no connection with id {connection} that takes pushes (active, or held to close-outs)"
                )
        queued: dict[str, list[int]] = {DirtyRange.Kind.AVAILABILITY: [], DirtyRange.Kind.PRICING: []}
        # By unit: a unit's connections go in one drain, which reads its nights once for all of them.
        for conn in connections.select_related("unit__property").order_by("unit_id", "pk"):
            start, _ = sync_window(conn)
            kinds = [kind for kind in queued if conn.receives(kind)]  # a held one: availability only
            # Queued, the pushes go as drains of many connections (one message per DRAIN_SIZE), not one each.
            mark_dirty(connection=conn, kinds=kinds, start=start, end=start + dt.timedelta(days=days), schedule=now)
            if now:
                for kind in kinds:
                    result = push_connection(connection_id=conn.pk, kind=kind)
                    self.stdout.write(f"connection {conn.pk} {kind}: {result.status}, {result.requests} request(s)")
            else:
                for kind in kinds:
                    queued[kind].append(conn.pk)
                held = "" if len(kinds) == len(queued) else " (close-outs only: held until resumed)"
                self.stdout.write(f"connection {conn.pk}: full push queued{held}")
        for kind, connection_ids in queued.items():
            if connection_ids:
                push_schedule_many(connection_ids=connection_ids, kind=kind)
