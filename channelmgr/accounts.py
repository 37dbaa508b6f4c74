"""Build what an adapter needs from one connection: decrypted credentials plus settings, and the
window of nights we keep in step with the platform.

The ``PlatformAccount`` holds secrets in clear text for the duration of one call. Never log it, put it
in a SyncLog, or hand it to a serializer.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings

from adapters.base import Credentials, PlatformAccount, PlatformAdapter
from adapters.registry import adapter_class
from channelmgr.models import CREDENTIAL_FIELDS, ChannelConnection
from pms_core.services.catalog import property_today

# A feed URL's query value or path segment this long may be its token (Airbnb's are 32+ characters,
# Booking.com's 32, Vrbo's a UUID); shorter ones ("ical", "calendar") are ordinary words.
MIN_TOKEN = 16


def sync_window(connection: ChannelConnection) -> tuple[dt.date, dt.date]:
    """The nights we keep a platform in step with: the property's today up to SYNC_WINDOW_DAYS ahead.
    Pushes, imports and reconciliation all use this one window."""
    today = property_today(connection.unit.property)
    return today, today + dt.timedelta(days=settings.SYNC_WINDOW_DAYS)


def credentials_of(connection: ChannelConnection) -> Credentials:
    return Credentials(
        access_token=connection.access_token,
        refresh_token=connection.refresh_token,
        access_token_expires_at=connection.token_expires_at,
        api_key=connection.api_key,
        username=connection.username,
        password=connection.password,
        webhook_secret=connection.webhook_secret,
        feed_url=connection.feed_url,
    )


def account_for(connection: ChannelConnection) -> PlatformAccount:
    """The adapter's view of ``connection`` (a feed's URL is a credential, not the API base)."""
    platform = settings.PLATFORMS.get(connection.platform_type, {})
    metadata = dict(connection.platform_metadata or {})
    return PlatformAccount(
        listing_id=connection.platform_listing_id,
        credentials=credentials_of(connection),
        base_url=platform.get("base_url", ""),
        metadata=metadata,
        oauth_client_id=platform.get("oauth_client_id", ""),
        oauth_client_secret=platform.get("oauth_client_secret", ""),
        allow_private_network=settings.ALLOW_PRIVATE_NETWORK_FETCH,
        timezone=connection.unit.property.timezone,
    )


def adapter_for(connection: ChannelConnection) -> PlatformAdapter:
    """Raises ``KeyError`` for a platform the registry does not know."""
    return adapter_class(connection.platform_type)(account_for(connection))


def secrets_of(connection: ChannelConnection) -> list[str]:
    """Every secret a message about ``connection`` could accidentally contain (for redaction)."""
    platform = settings.PLATFORMS.get(connection.platform_type, {})
    values = [getattr(connection, name) for name in CREDENTIAL_FIELDS]
    values.append(platform.get("oauth_client_secret", ""))
    values += url_secrets(connection.feed_url)
    # Very short values would redact ordinary words; real credentials are longer than this.
    return [value for value in values if value and len(value) >= 4]


def url_secrets(url: str) -> list[str]:
    """The parts of a feed URL that may carry its token, as a message could quote them: the whole URL,
    its path with the query (what an HTTP client's debug line shows), each query value and each long
    path segment (``/calendar/ical/<token>.ics``)."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:  # malformed (an unbalanced "[" host): a platform that reads no feed keeps it as sent
        return [url]
    found = [url, parts.path + (f"?{parts.query}" if parts.query else "")]
    found += [value for _name, value in parse_qsl(parts.query) if len(value) >= MIN_TOKEN]
    for segment in parts.path.split("/"):
        stem = segment.rsplit(".", 1)[0]
        if len(stem) >= MIN_TOKEN:
            found.append(stem)
    if parts.query:
        found.append(parts.query)
    return found


def redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text
