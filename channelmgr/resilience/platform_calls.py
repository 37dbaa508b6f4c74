"""Every request to a platform goes through here: the rate limiter, the circuit breaker, and one token
refresh when the platform says the access token expired."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.utils import timezone

from adapters.base import Capability, PlatformAdapter, PlatformAPIError, TokenRefreshError
from adapters.registry import adapter_class
from channelmgr.accounts import adapter_for
from channelmgr.models import ChannelConnection
from channelmgr.resilience.guard import Purpose, guarded_call

log = logging.getLogger(__name__)
T = TypeVar("T")
REFRESH_WAIT_SECONDS = 15  # how long a caller waits for another process's refresh
# How long the refresh lock lives: longer than a refresh can take (its one request's connect and read
# timeouts, with room for the guard). A lock that lapsed mid-refresh let a second process trade the same
# single-use refresh token, and the platform refused it: the connection stopped.
REFRESH_LOCK_SECONDS = 60


def rate_limit_account(connection: ChannelConnection) -> str:
    """Who the platform counts requests against: our OAuth app, or the connection's own credential."""
    if Capability.OAUTH in adapter_class(connection.platform_type).capabilities:
        return "app"
    secret = connection.api_key or connection.username or str(connection.pk)
    # A hash, so the cache key never holds a credential.
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def platform_call(
    connection: ChannelConnection,
    call: Callable[[PlatformAdapter], T],
    *,
    purpose: Purpose | None = None,
    refresh_token: bool = True,
) -> T:
    """Run ``call(adapter)`` as one guarded request; refresh an expired token once and retry.

    A platform that declares no ``rate_limit`` (a feed) is called unguarded: it has no shared limit,
    and each feed lives on its own host, so one breaker for every feed would let one broken feed stop
    them all. ``purpose`` (push or pull) draws on that purpose's share of the limit (see ``guard``).
    ``refresh_token=False`` raises the expired token's error instead: a refresh writes to the database,
    which a caller sending from several threads keeps to its own.
    """
    if adapter_class(connection.platform_type).rate_limit is None:
        return call(adapter_for(connection))
    used_token = connection.access_token
    try:
        return _guarded(connection, call, purpose)
    except PlatformAPIError as exc:
        if exc.code != "token_expired" or not refresh_token:
            raise
    token_refresh(connection=connection, expired_token=used_token)
    connection.refresh_from_db()
    return _guarded(connection, call, purpose)


def _guarded(connection: ChannelConnection, call: Callable[[PlatformAdapter], T], purpose: Purpose | None = None) -> T:
    adapter = adapter_for(connection)
    return guarded_call(
        platform=connection.platform_type,
        account=rate_limit_account(connection),
        connection=connection,
        fn=lambda: call(adapter),
        purpose=purpose,
    )


def token_refresh(*, connection: ChannelConnection, expired_token: str | None = None) -> None:
    """Trade the refresh token for a new pair and store it (encrypted). A refused refresh means a
    person has to reconnect: the connection is marked as needing attention.

    Refresh tokens are single-use, so only one process refreshes a connection at a time: the others
    wait for its result. ``expired_token`` is the token a caller saw fail; if the stored one differs,
    someone already refreshed it.
    """
    lock = f"token-refresh:{connection.pk}"
    deadline = time.monotonic() + REFRESH_WAIT_SECONDS
    while not cache.add(lock, 1, timeout=REFRESH_LOCK_SECONDS):
        if time.monotonic() > deadline:
            raise PlatformAPIError(f"token refresh of connection {connection.pk} is taking long", permanent=False)
        time.sleep(0.2)
    try:
        connection.refresh_from_db()
        if expired_token is not None and connection.access_token != expired_token:
            return  # another process refreshed it while we waited
        _refresh(connection)
    finally:
        cache.delete(lock)


def _refresh(connection: ChannelConnection) -> None:
    try:
        tokens = _guarded(connection, lambda adapter: adapter.refresh_access_token())
    except TokenRefreshError as exc:
        from channelmgr.services.connections_health import connection_mark_needs_attention, safe_message

        # Redacted: the platform's answer may quote the refresh token, and the reason reaches integrators.
        reason = safe_message(connection, f"token refresh refused: {exc}")
        connection_mark_needs_attention(connection_id=connection.pk, error=reason)
        raise
    connection.access_token = tokens.access_token
    connection.refresh_token = tokens.refresh_token
    connection.token_expires_at = tokens.expires_at
    connection.save(update_fields=["access_token", "refresh_token", "token_expires_at", "updated_at"])
    log.info("refreshed the access token of connection %s (expires %s)", connection.pk, tokens.expires_at)


def token_needs_refresh(connection: ChannelConnection, *, margin_seconds: int = 600) -> bool:
    expires = connection.token_expires_at
    return bool(connection.refresh_token) and (
        expires is None or (expires - timezone.now()).total_seconds() < margin_seconds
    )
