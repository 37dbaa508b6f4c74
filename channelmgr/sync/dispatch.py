"""Handing sync work to the broker, without importing the actors that carry it out.

The actors (``channelmgr.tasks``) call the sync services, so the services must not import them back.
Instead ``channelmgr.tasks`` registers its actors here when it is imported, which the app's ``ready()``
does in every process, web and worker alike.
"""

from __future__ import annotations

import math
from typing import Any, Protocol


class Actor(Protocol):
    def send_with_options(self, *, args: tuple = (), delay: int | None = None, **options: Any) -> Any: ...


_push_actors: dict[str, Actor] = {}
_drain_actor: Actor | None = None
_sync_request_actor: Actor | None = None
# The most connections a drain message carries: enough to share its costs (the message, the statements),
# few enough that a backlog's drains run side by side on a worker's threads and processes.
DRAIN_SIZE = 25


def actors_register(*, push: dict[str, Actor], drain: Actor, sync_request: Actor) -> None:
    """Register the push actor of each dirty-range kind, the drain actor (many connections' pushes of one
    kind), and the actor that carries out a requested sync."""
    global _drain_actor, _sync_request_actor
    _push_actors.update(push)
    _drain_actor = drain
    _sync_request_actor = sync_request


def push_enqueue(*, connection_id: int, kind: str, delay_seconds: float) -> None:
    """Send one push of ``kind`` to a connection, run no sooner than ``delay_seconds`` from now.

    No delay goes straight onto the queue: even a delay of 0 would take the broker's delay queue."""
    delay = int(delay_seconds * 1000) if delay_seconds > 0 else None
    _registered(_push_actors.get(kind), f"push of {kind}").send_with_options(args=(connection_id,), delay=delay)


def push_enqueue_many(*, connection_ids: list[int], kind: str, delay_seconds: float) -> None:
    """Send pushes of ``kind`` to many connections: drains (``sync.drain``) of up to ``DRAIN_SIZE``
    connections each, of even size (50 go as 13, 13, 12, 12, not 16, 16, 16, 2: the drains of a backlog
    run side by side, so the largest one sets the pace); a single connection gets its own push.

    Each drain takes a run of ``connection_ids`` as given: callers list a unit's connections together
    (``push_sweep``, ``manage.py sync``), so one drain reads a unit's nights once for all its platforms."""
    if not connection_ids:  # e.g. the sweep found only connections whose pushes are already scheduled
        return
    if len(connection_ids) == 1:
        push_enqueue(connection_id=connection_ids[0], kind=kind, delay_seconds=delay_seconds)
        return
    delay = int(delay_seconds * 1000) if delay_seconds > 0 else None
    drain = _registered(_drain_actor, "drain of pushes")
    drains = math.ceil(len(connection_ids) / DRAIN_SIZE)
    size, larger = divmod(len(connection_ids), drains)  # the first ``larger`` drains take one more
    first = 0
    for i in range(drains):
        last = first + size + (i < larger)
        drain.send_with_options(args=(kind, connection_ids[first:last]), delay=delay)
        first = last


def sync_request_enqueue(*, sync_log_id: int) -> None:
    """Send the requested sync behind ``sync_log_id`` to a worker."""
    _registered(_sync_request_actor, "requested sync").send_with_options(args=(sync_log_id,))


def _registered(actor: Actor | None, what: str) -> Actor:
    if actor is None:
        raise LookupError(f"no actor registered for a {what}: channelmgr.tasks was never imported")
    return actor
