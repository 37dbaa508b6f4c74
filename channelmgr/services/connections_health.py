"""Record a connection's health after a platform answered."""

from __future__ import annotations

from channelmgr.models import ChannelConnection


def connection_mark_needs_attention(*, connection_id: int, error: BaseException | str) -> bool:
    """Flag a connection a person must look at (a permanent platform error); False if it is gone or deleted.

    One queryset ``update()``: no read, no ``save()`` racing the sync engine's own updates.
    """
    updated = (
        ChannelConnection.objects.filter(pk=connection_id)
        .exclude(status=ChannelConnection.Status.DELETED)
        .update(status=ChannelConnection.Status.NEEDS_ATTENTION, last_error=str(error)[:2000], healthy=False)
    )
    return updated == 1
