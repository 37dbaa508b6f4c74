"""The sync window's edge: the window (``accounts.sync_window``, the property's today up to
``SYNC_WINDOW_DAYS`` ahead) moves a day each day, and the nights entering it must go out.

A push sends only nights inside the window and drops the rest of what it claimed (a platform takes no
more), so a stay booked, a block set or a price changed beyond the window never reached the platform,
and neither did the PMS's state of a night nobody touched: once such a night entered the window the
platform kept its own default (open, at the listing's base price) and could sell it twice. The
scheduler's ``window_edges`` job marks each connection's newly entered nights dirty, from where it marked
last (``ChannelConnection.window_marked_until``) to the window's end: a day missed (the scheduler down)
is caught up, and a night is marked once.
"""

from __future__ import annotations

import logging

from django.db import transaction

from channelmgr.accounts import sync_window
from channelmgr.models import ChannelConnection
from channelmgr.sync.outbound import mark_dirty, push_schedule_many
from channelmgr.sync.push import pushed_kinds

log = logging.getLogger(__name__)


def window_edges_mark() -> int:
    """Mark the nights that entered each live connection's window since it was last marked, for every
    kind it pushes, and schedule those pushes. A connection seen for the first time has its whole window
    marked: one made through the API may never have had a full sync, and one from before this job
    missed every night that entered since its last. Returns how many connections were marked."""
    moved: dict[str, list[int]] = {}
    connections = ChannelConnection.objects.exclude(status=ChannelConnection.Status.DELETED).select_related(
        "unit__property"
    )
    for connection in connections.iterator(chunk_size=500):
        start, end = sync_window(connection)
        marked = connection.window_marked_until
        if marked == end:
            continue
        if marked is not None and marked > end:
            # The window shrank (its property moved west, so its today stepped back): a change announced
            # for the window since then missed the nights past its end, so they are marked again when
            # they re-enter it.
            ChannelConnection.objects.filter(pk=connection.pk, window_marked_until=marked).update(
                window_marked_until=end
            )
            continue
        kinds = pushed_kinds(connection.platform_type)
        with transaction.atomic():
            # Guarded by the value read: a second scheduler (a lease handed over mid-run) marks nothing twice.
            if not ChannelConnection.objects.filter(pk=connection.pk, window_marked_until=marked).update(
                window_marked_until=end
            ):
                continue
            if not kinds:
                continue
            first = start if marked is None else max(marked, start)
            mark_dirty(connection=connection, kinds=kinds, start=first, end=end, schedule=False)
        for kind in kinds:
            moved.setdefault(kind, []).append(connection.pk)
    for kind, ids in moved.items():
        push_schedule_many(connection_ids=ids, kind=kind)
    marked_now = len({pk for ids in moved.values() for pk in ids})
    if marked_now:
        log.info("sync window: the new nights of %s connections marked to push", marked_now)
    return marked_now


def window_edges_note_timezone(sender, *, prop, unit=None, **kwargs) -> None:
    """``pms_core.signals.property_timezone_changed``: a property moved west has a shorter window at once
    (its today stepped back). Its connections' marks come down to the new end now, not at the next
    ``window_edges`` run: a change announced in between covers only the shorter window, and had the job
    not run before the day turned (the scheduler down), the night in between was never marked again.
    ``unit``: only that unit moved, to ``prop`` in another time zone."""
    marked = ChannelConnection.objects.filter(unit__property=prop, window_marked_until__isnull=False)
    if unit is not None:  # one unit moved to ``prop``
        marked = marked.filter(unit=unit)
    for connection in marked.exclude(status=ChannelConnection.Status.DELETED).select_related("unit"):
        connection.unit.property = prop  # the one just saved, with its new time zone
        _start, end = sync_window(connection)
        ChannelConnection.objects.filter(pk=connection.pk, window_marked_until__gt=end).update(window_marked_until=end)
