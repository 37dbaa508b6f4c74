"""Our iCal export per unit: an unguessable URL whose feed closes every taken night.

The feed carries no guest data: a stay is "Reserved", a block or a stop-sold stretch "Not available".
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from adapters import registry
from adapters.base import Capability
from adapters.ical.feed import ExportEvent, build_calendar
from channelmgr.models import ChannelConnection, IcalExport
from pms_core.models import Booking, CalendarDay, Unit

log = logging.getLogger(__name__)

# Nights that ended longer ago than this are left out: importers only care about the future.
PAST_DAYS = 30


def ical_export_for(unit: Unit) -> IcalExport:
    """The unit's export, created with a fresh 256-bit token the first time it is asked for."""
    found = IcalExport.objects.filter(unit=unit).first()
    if found:
        return found
    try:
        with transaction.atomic():
            return IcalExport.objects.create(unit=unit, token=secrets.token_urlsafe(32))
    except IntegrityError:
        return IcalExport.objects.get(unit=unit)  # created concurrently


def ical_export_url(export: IcalExport, token: str | None = None, feed: ChannelConnection | None = None) -> str:
    """The export's URL; with ``feed`` (a calendar this unit imports), the one to give that feed's platform."""
    url = settings.PUBLIC_BASE_URL + reverse("ical-export", kwargs={"token": token or export.token})
    return f"{url}?for={feed.pk}" if feed is not None else url


def ical_export_feeds(export: IcalExport) -> list[ChannelConnection]:
    """The calendars this unit imports (live iCal feed connections): each platform behind one gets its own
    export URL, without the blocks imported from it (``ical_feed``)."""
    return list(
        ChannelConnection.objects.filter(
            unit_id=export.unit_id, platform_type__in=registry.slugs(Capability.SNAPSHOT_FEED)
        )
        .exclude(status=ChannelConnection.Status.DELETED)
        .order_by("pk")
    )


def _grace() -> dt.timedelta:
    return dt.timedelta(hours=settings.ICAL_EXPORT_GRACE_HOURS)


def ical_export_previous_until(export: IcalExport) -> dt.datetime | None:
    """Until when the token the last rotation replaced still answers; None when none does any more."""
    if not export.previous_token or export.rotated_at is None:
        return None
    until = export.rotated_at + _grace()
    return until if timezone.now() < until else None


_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")  # what ``secrets.token_urlsafe(32)`` gives (43 characters)


def ical_export_by_token(token: str) -> IcalExport | None:
    """The export ``token`` opens: its current token, or the one its last rotation replaced while that
    is in its grace period (``ICAL_EXPORT_GRACE_HOURS``). None for anything else."""
    if not _TOKEN.fullmatch(token):  # before any query: a NUL in a text parameter is a Postgres error
        return None
    found = IcalExport.objects.select_related("unit").filter(token=token).first()
    if found is not None:
        return found
    since = timezone.now() - _grace()
    return IcalExport.objects.select_related("unit").filter(previous_token=token, rotated_at__gt=since).first()


def ical_export_rotate(*, unit: Unit) -> IcalExport:
    """Give the unit's export a new unguessable token (say, after its URL leaked). The old URL keeps
    answering for ``ICAL_EXPORT_GRACE_HOURS``, time to give the importing platforms the new one; a
    token replaced earlier stops at once. Creates the export when the unit has none yet."""
    with transaction.atomic():
        export = IcalExport.objects.select_for_update().filter(unit=unit).first()
        if export is None:
            return ical_export_for(unit)
        export.previous_token, export.token = export.token, secrets.token_urlsafe(32)
        export.rotated_at = timezone.now()
        export.save(update_fields=["token", "previous_token", "rotated_at"])
    log.info("iCal export of unit %s rotated; the old URL answers until %s", unit.pk, export.rotated_at + _grace())
    return export


def _stop_sell_events(unit: Unit, since: dt.date) -> list[ExportEvent]:
    days = CalendarDay.objects.filter(unit=unit, stop_sell=True, date__gte=since).order_by("date")
    events: list[ExportEvent] = []
    start = end = None
    for day in days.values_list("date", flat=True):
        if start is not None and day == end:
            end = day + dt.timedelta(days=1)
            continue
        if start is not None:
            events.append(ExportEvent(f"closed-{unit.pk}-{start:%Y%m%d}", start, end))
        start, end = day, day + dt.timedelta(days=1)
    if start is not None:
        events.append(ExportEvent(f"closed-{unit.pk}-{start:%Y%m%d}", start, end))
    if events and events[0].start == since:
        # A stretch that began before the look-back keeps the UID of its true start: keyed by where the
        # look-back cuts it, it changed every day, and importers dropped and re-added it each time.
        first = events[0]
        events[0] = ExportEvent(f"closed-{unit.pk}-{_stretch_start(unit, since):%Y%m%d}", first.start, first.end)
    return events


def _stretch_start(unit: Unit, day: dt.date) -> dt.date:
    """The first night of the stop-sold stretch that holds ``day``."""
    earlier = CalendarDay.objects.filter(unit=unit, stop_sell=True, date__lt=day).order_by("-date")
    for stop_sold in earlier.values_list("date", flat=True).iterator(chunk_size=366):
        if stop_sold != day - dt.timedelta(days=1):
            break
        day = stop_sold
    return day


def ical_uid_domain() -> str:
    """The domain of the UIDs our export gives its events (``booking-<pk>@<domain>``): the importer knows
    our own events by it when a feed reads them back."""
    return settings.PUBLIC_BASE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "channel-manager"


def ical_feed(export: IcalExport, without: ChannelConnection | None = None) -> str:
    """The RFC 5545 text of the export's unit, as of now. ``without``: a calendar this unit imports, whose
    blocks are left out. Its platform is given this feed: a block the host lifts there must not come back
    to it from us, keeping the platform's own export (and so our block) closed for good."""
    unit = export.unit
    since = timezone.localdate() - dt.timedelta(days=PAST_DAYS)
    # Every active stay, overbooked ones too: each holds its nights (pms_core.selectors.held_stays).
    stays = Booking.objects.active().filter(unit=unit, check_out__gt=since)
    if without is not None:
        from channelmgr.inbound.importer import ical_blocks  # the importer knows which blocks a feed holds

        stays = stays.exclude(pk__in=ical_blocks(without).values("pk"))
    events = [
        ExportEvent(
            key=f"booking-{stay.pk}",
            start=stay.check_in,
            end=stay.check_out,
            summary="Reserved" if stay.kind == Booking.Kind.RESERVATION else "Not available",
        )
        for stay in stays.only("pk", "kind", "check_in", "check_out")
    ]
    events += _stop_sell_events(unit, since)
    return build_calendar(unit.name, events, uid_domain=ical_uid_domain())
