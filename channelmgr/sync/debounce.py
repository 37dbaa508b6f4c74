"""When a push may go: the leading edge for changes that close nights, the trailing debounce for the rest.

The state is a few keys in the shared cache, so every web and worker process sees the same edges. If
the cache is down, pushes go out at once rather than not at all.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

from adapters import registry
from adapters.base import Capability
from channelmgr.resilience.guard import pushes_paced

log = logging.getLogger(__name__)


def scheduled_key(kind: str, connection_id: int) -> str:
    """Set while a debounced push of ``kind`` is waiting for this connection."""
    return f"push-scheduled:{kind}:{connection_id}"


def leading_key(kind: str, connection_id: int) -> str:
    """Set while an immediate (leading-edge) push is on its way."""
    return f"push-leading:{kind}:{connection_id}"


def _last_push_key(kind: str, connection_id: int) -> str:
    return f"push-last:{kind}:{connection_id}"


def batch_group_key(connection) -> str | None:
    """The batch group a connection's pushes travel in (``BATCH_LISTINGS``: a hotel's room types), named
    across platforms; None where its platform sends each listing alone."""
    platform = registry.adapters().get(connection.platform_type)
    if platform is None or Capability.BATCH_LISTINGS not in platform.capabilities:
        return None
    group = platform.batch_group(connection.platform_listing_id, connection.platform_metadata or {})
    return f"{connection.platform_type}:{group}"


def push_edge(connection) -> str:
    """Whose edge a push is on: its connection's, or its batch group's where the platform batches
    listings and its pushes are paced (Booking.com's 15 a minute). There a hotel's room types go out
    together, so a burst of bookings across its rooms is one burst: the first goes at once, what follows
    is coalesced into the next push, rather than each room taking the leading edge and the hotel's rate
    limit with it. Where pushes are plentiful (Expedia's 50 a second) each room keeps its own leading
    edge, so a close-out never waits for a sibling's, and its push still carries what the siblings have due."""
    group = batch_group_key(connection)
    if group is not None and pushes_paced(connection):
        return group
    return str(connection.pk)


def push_is_leading_edge(*, connection_id: int, kind: str, edge: str | None = None) -> bool:
    """True when no push of ``kind`` claimed this connection's nights (its ``edge``'s, when given) within
    the last debounce period."""
    return bool(push_leading_edges(kind=kind, edges=[edge or str(connection_id)]))


def push_leading_edges(*, kind: str, edges: list[str]) -> set[str]:
    """Those of ``edges`` on their leading edge (``push_is_leading_edge``), in one read of the cache."""
    try:
        last = cache.get_many([_last_push_key(kind, edge) for edge in edges])
    except Exception:
        return set(edges)
    now = time.time()
    return {
        edge
        for edge in edges
        if (at := last.get(_last_push_key(kind, edge))) is None or now - at >= settings.PUSH_DEBOUNCE_SECONDS
    }


def push_mark_sent(*, connection_id: int, kind: str, edge: str | None = None) -> None:
    """A push is claiming this connection's nights now: changes in the next debounce period trail it, and
    the leading push it may be is no longer on its way (for a batch group, no task clears that flag)."""
    push_mark_sent_many(kind=kind, edges=[edge or str(connection_id)])


def push_mark_sent_many(*, kind: str, edges: list[str]) -> None:
    """``push_mark_sent`` of several edges, in two calls to the cache."""
    try:
        now = time.time()
        cache.set_many(
            {_last_push_key(kind, edge): now for edge in edges}, timeout=int(settings.PUSH_MAX_WAIT_SECONDS) + 60
        )
        cache.delete_many([leading_key(kind, edge) for edge in edges])
    except Exception as exc:
        log.warning("could not record the %s push of %s: %s", kind, ", ".join(edges), exc)
