"""Book as a guest on one sandbox platform, then show what every other platform holds for those nights."""

import datetime as dt
import math
import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from adapters import registry
from adapters.base import Capability
from channelmgr.models import ChannelConnection
from pms_core.models import Booking
from pms_core.services.stays import find_clash

MAX_WAIT_SECONDS = 3600


def _sandbox(send, path: str, **kwargs) -> requests.Response:
    """The sandbox's answer, or a ``CommandError`` if it is not running."""
    try:
        return send(f"{settings.SANDBOX_URL}{path}", **kwargs)
    except requests.RequestException as exc:
        raise CommandError(
            f"the sandbox at {settings.SANDBOX_URL} does not answer ({type(exc).__name__}): is `make run` up?"
        ) from exc


class Command(BaseCommand):
    help = "Demo: a guest books on one platform; within seconds every other platform closes those nights."

    def add_arguments(self, parser):
        guest_platforms = registry.slugs(Capability.WEBHOOKS)
        parser.add_argument(
            "--platform",
            default=guest_platforms[0] if guest_platforms else None,
            choices=guest_platforms,
            help=f"where the guest books (default {guest_platforms[0] if guest_platforms else 'none'})",
        )
        parser.add_argument("--nights", type=int, default=3, help="length of the stay (1 to MAX_STAY_NIGHTS)")
        parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for every platform")

    def handle(self, *args, platform, nights, wait, **options):
        if not 1 <= nights <= settings.MAX_STAY_NIGHTS:
            raise CommandError(f"--nights must be between 1 and {settings.MAX_STAY_NIGHTS} (MAX_STAY_NIGHTS)")
        if not (math.isfinite(wait) and 0 <= wait <= MAX_WAIT_SECONDS):  # checked before anything is booked
            raise CommandError(f"--wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}")
        origin = ChannelConnection.objects.filter(platform_type=platform, status="active").order_by("pk").first()
        if origin is None:
            raise CommandError(f"no active {platform} connection: run `make run` (it seeds the demo) first")
        others = list(
            ChannelConnection.objects.filter(unit=origin.unit, status="active")
            .exclude(pk=origin.pk)
            .filter(platform_type__in=registry.slugs(Capability.PUSH_AVAILABILITY))
        )
        check_in = self._free_nights(origin, nights)
        check_out = check_in + dt.timedelta(days=nights)
        answer = _sandbox(
            requests.post,
            f"/_control/{platform}/reservations",
            json={
                "listing_id": origin.platform_listing_id,
                "check_in": check_in.isoformat(),
                "check_out": check_out.isoformat(),
                "guest_name": "Familie Demo",
                "total": "540.00",
            },
            timeout=10,
        )
        if answer.status_code != 201:
            raise CommandError(f"the {platform} sandbox refused the booking: {answer.status_code} {answer.text}")
        reservation = answer.json()["id"]
        self.stdout.write(f"guest booked {check_in}..{check_out} on {platform} (reservation {reservation})")
        started = time.monotonic()
        closed = {}
        while time.monotonic() - started < wait:
            closed = {c.platform_type: self._platform_nights(c, check_in, check_out) for c in others}
            if all(all(not day["available"] for day in days) for days in closed.values() if days):
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        booking = Booking.objects.filter(source=platform, channel_booking_id=reservation).first()
        self.stdout.write(f"PMS: {booking or 'not imported yet'}")
        for slug, days in closed.items():
            state = ", ".join(f"{d['date']} {'open' if d['available'] else 'closed'}" for d in days)
            self.stdout.write(f"  {slug:12} {state}")
        all_closed = closed and all(days and all(not d["available"] for d in days) for days in closed.values())
        if not all_closed:
            raise CommandError(f"not every platform closed the nights within {wait:.0f}s")
        self.stdout.write(self.style.SUCCESS(f"every other platform closed the nights within {elapsed:.1f}s"))

    def _free_nights(self, connection, nights):
        day = dt.date.today() + dt.timedelta(days=14)
        for _ in range(200):
            end = day + dt.timedelta(days=nights)
            if find_clash(unit_id=connection.unit_id, check_in=day, check_out=end) is None:
                return day
            day += dt.timedelta(days=1)
        raise CommandError("no free nights found in the next 200 days")

    def _platform_nights(self, connection, start, end):
        answer = _sandbox(
            requests.get,
            f"/_state/{connection.platform_type}/listings/{connection.platform_listing_id}/calendar",
            params={"start": start.isoformat(), "end": end.isoformat()},
            timeout=5,
        )
        return answer.json().get("days", []) if answer.ok else []
