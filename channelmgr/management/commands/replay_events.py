"""Re-process stored webhook events: ones that failed, or whose import never ran (a broker outage).

    python manage.py replay_events                 # events still "received" (their import was lost)
    python manage.py replay_events --failed        # failed ones instead
    python manage.py replay_events --id 17 --id 18 # exactly these, whatever their status
    python manage.py replay_events --failed --since 2027-07-01T00:00 --platform airbnb --now

Replaying is safe: an import is idempotent per booking and version, so an event that is re-run
changes nothing that is already in the PMS.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from adapters import registry
from adapters.base import PlatformAPIError
from channelmgr.inbound.dispatch import import_enqueue
from channelmgr.inbound.processing import inbound_event_process
from channelmgr.models import InboundEvent
from pms_core.api.schema import MAX_ID


def _since(value: str) -> dt.datetime:
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = dt.datetime.combine(day, dt.time.min)
        if moment is not None:
            # In UTC, as the database compares it: an aware moment at the calendar's ends overflows there.
            return moment.replace(tzinfo=dt.UTC) if timezone.is_naive(moment) else moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # well-formed but impossible: 2027-02-30, +25:00
        pass
    raise CommandError(f"--since: {value!r} is not an ISO date or date-time")


class Command(BaseCommand):
    help = "Re-enqueue (or with --now, run inline) the imports of stored webhook events."

    def add_arguments(self, parser):
        parser.add_argument("--failed", action="store_true", help="replay failed events (default: unprocessed ones)")
        parser.add_argument("--since", help="only events received at or after this ISO date or date-time")
        parser.add_argument("--platform", help="only this platform's events (its slug)")
        parser.add_argument("--id", type=int, action="append", dest="ids", help="this event (repeatable)")
        parser.add_argument("--now", action="store_true", help="run the imports in this process, not on workers")

    def handle(self, *args, **options):
        events = self._select(options)
        replayed = 0
        for event in events:
            InboundEvent.objects.filter(pk=event.pk).update(status=InboundEvent.Status.RECEIVED, error="")
            if options["now"]:
                outcome = self._run(event)
            else:
                outcome = "enqueued" if import_enqueue(event.pk) else "NOT enqueued (broker unavailable)"
            replayed += 1
            self.stdout.write(f"event {event.pk} {event.platform} {event.event_key}: {outcome}")
        self.stdout.write(self.style.SUCCESS(f"{replayed} event(s) replayed"))

    def _select(self, options):
        platform = options["platform"]
        # An empty filter (a script's unset variable) is refused, never dropped: that would widen the set.
        if platform is not None and platform not in registry.adapters():
            raise CommandError(f"--platform: unknown platform {platform!r}; one of {', '.join(registry.adapters())}")
        events = InboundEvent.objects.order_by("received_at", "id")
        if options["ids"]:
            # An id beyond a bigint is no row (and would crash the SQLite driver): it is reported missing.
            events = events.filter(pk__in=[pk for pk in options["ids"] if 1 <= pk <= MAX_ID])
            missing = set(options["ids"]) - set(events.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"--id: no inbound event {', '.join(map(str, sorted(missing)))}")
        elif options["failed"]:
            events = events.filter(status=InboundEvent.Status.FAILED)
        else:
            events = events.filter(status=InboundEvent.Status.RECEIVED)
        if options["since"] is not None:
            events = events.filter(received_at__gte=_since(options["since"]))
        if platform:
            events = events.filter(platform=platform)
        return list(events)

    def _run(self, event: InboundEvent) -> str:
        try:
            return inbound_event_process(event_id=event.pk)
        except PlatformAPIError as exc:
            return f"failed for now ({exc}); left received"
        except Exception as exc:  # e.g. Backpressure: the event stays received for the next replay
            return f"deferred ({type(exc).__name__}: {exc}); left received"
