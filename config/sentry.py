"""Error tracking with sentry-sdk, started by the settings only when ``SENTRY_DSN`` is set.

Nothing personal or secret leaves: no default PII (users, cookies, IPs, auth headers), no request bodies
(they carry platform credentials and guests' details), no local variables of stack frames (they hold
decrypted credentials during a platform call), no query strings, iCal feed tokens in paths replaced, and
no breadcrumbs of outgoing HTTP (iCal feed URLs are credentials).
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

# Key names sentry-sdk's scrubber does not know but our payloads and settings use.
EXTRA_DENYLIST = [
    "access_token",
    "refresh_token",
    "webhook_secret",
    "webhook_secrets",
    "client_secret",
    "oauth_client_secret",
    "ical_url",
    "feed_url",
    "signature",
    "idempotency_key",
]
_ICAL_TOKEN = re.compile(r"(/ical/)[^/]+(\.ics)")
_QUERY = re.compile(r"\?.*$")


def _scrub_url(url: str) -> str:
    return _ICAL_TOKEN.sub(r"\1[redacted]\2", _QUERY.sub("", url))


def _before_send(event, hint):
    request = event.get("request") or {}
    if "url" in request:
        request["url"] = _scrub_url(request["url"])
    request.pop("query_string", None)
    request.pop("data", None)
    request.pop("cookies", None)
    for span in event.get("spans") or []:  # transactions: outgoing calls' URLs and queries
        data = span.get("data") or {}
        data.pop("http.query", None)
        if "url" in data:
            data["url"] = _scrub_url(data["url"])
        if span.get("description"):
            span["description"] = _scrub_url(span["description"])
    return event


def _before_breadcrumb(crumb, hint):
    return None if crumb.get("category") in ("httplib", "subprocess") else crumb


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float, transport=None) -> None:
    """Start sentry-sdk (Django and Dramatiq integrations). Raises ``ImproperlyConfigured`` for a bad DSN."""
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.dramatiq import DramatiqIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber
    from sentry_sdk.utils import BadDsn

    try:
        sentry_sdk.init(
            dsn=dsn,
            environment=environment,
            traces_sample_rate=traces_sample_rate,
            # send_default_pii stays False, its default: sentry-sdk 2.75 warns when it is set at all (it
            # prefers data_collection, which would turn off the scrubber below).
            include_local_variables=False,
            max_request_body_size="never",
            event_scrubber=EventScrubber(denylist=DEFAULT_DENYLIST + EXTRA_DENYLIST, recursive=True),
            before_send=_before_send,
            before_send_transaction=_before_send,
            before_breadcrumb=_before_breadcrumb,
            integrations=[DjangoIntegration(), DramatiqIntegration()],
            transport=transport,
        )
    except BadDsn as exc:  # the DSN holds a key: name the variable, not the value
        raise ImproperlyConfigured("SENTRY_DSN: invalid value (expected https://<key>@<host>/<project>)") from exc
