"""Fetch a feed URL that a person typed in, without letting it reach our own network (SSRF).

``webcal://`` is read as https; the rest is ``adapters/safe_http.py`` (public addresses only, the peer
checked after connecting, no redirects), with the body cut off at ``MAX_BYTES`` and ``MAX_SECONDS``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from adapters import http, safe_http
from adapters.base import PlatformAPIError

PLATFORM = "ical"
WHAT = "ical feed"
MAX_BYTES = 2 * 1024 * 1024
MAX_SECONDS = 20.0
TIMEOUT = (3.05, 10.0)


def feed_url(url: str) -> str:
    """``webcal://`` is the same feed over https."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # malformed: safe_http refuses it, naming no part of it
        return url
    return parts._replace(scheme="https").geturl() if parts.scheme.lower() == "webcal" else url


def fetch_feed(url: str, *, allow_private_network: bool = False, endpoint: str = "fetch_feed") -> bytes:
    """The feed's bytes. Raises ``PlatformAPIError``: permanent for refused URLs, redirects, 4xx and
    oversized feeds; transient for timeouts, connection errors, 429 and 5xx."""
    with safe_http.guarded_request(
        "GET",
        feed_url(url),
        allow_private_network=allow_private_network,
        what=WHAT,
        platform=PLATFORM,
        endpoint=endpoint,
        timeout=TIMEOUT,
        headers={"Accept": "text/calendar, text/plain;q=0.5, */*;q=0.1"},
    ) as response:
        if response.status_code >= 400:
            # Not http.raise_for_response: it reads the whole error body, which has no size cap here.
            status = response.status_code
            raise PlatformAPIError(
                f"ical feed: HTTP {status}",
                permanent=not (status == 429 or status >= 500),
                status=status,
                retry_after=http.retry_after_seconds(response),
            )
        return safe_http.read_body(response, max_bytes=MAX_BYTES, max_seconds=MAX_SECONDS, what=WHAT)
