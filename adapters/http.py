"""The one way adapters talk HTTP.

A shared ``requests.Session`` with connect and read timeouts. Responses are mapped to errors in one
place: 429 and 5xx (and timeouts, connection errors) are transient, other 4xx are permanent.
Credentials never reach a log line: only the method, the URL without its query string, the status and
the time taken are logged.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests

from adapters.base import PlatformAPIError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 15.0


class _Session(requests.Session):
    """A ``requests.Session`` that takes the proxy settings of the environment (``HTTPS_PROXY``,
    ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``) but never a ``~/.netrc``: a netrc entry for a platform's host,
    or a ``default`` one, would replace the adapter's own ``Authorization`` header with the host's
    credentials. The environment is read once per origin, not on every request: requests walks it
    twice a request (and looks for a netrc file), 2-4 ms of a 15 ms push (``bench/sync.py --only p``),
    and it does not change while the process runs. A request with proxies of its own is merged as usual."""

    _MAX_ORIGINS = 1024  # iCal feeds live on many hosts: past this, resolve each time

    def __init__(self):
        super().__init__()
        self.trust_env = False  # no netrc; the environment's proxies come from ``_environment_of``
        self._environment: dict[tuple, dict] = {}
        self._reader = requests.Session()  # trusts the environment; only ever asked to read it

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if proxies:
            return self._reader.merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        # The origin without its user info: no credential is kept as a key.
        key = (parts.scheme, parts.netloc.rpartition("@")[2].lower(), stream, verify, cert)
        merged = self._environment.get(key)
        if merged is None:
            merged = self._reader.merge_environment_settings(url, {}, stream, verify, cert)
            if len(self._environment) < self._MAX_ORIGINS:
                self._environment[key] = merged
        return {**merged, "proxies": dict(merged["proxies"])}


_session = _Session()
_session.headers["User-Agent"] = "channel-manager/1.0"


@dataclass(frozen=True)
class CallRecord:
    """What observers (metrics) learn about one request; it never holds a credential."""

    platform: str
    endpoint: str
    method: str
    status: int | None
    seconds: float
    error: str | None


# 16 or more characters mixing letters and digits: a token, not a word or a numeric listing id.
TOKEN_LIKE = re.compile(r"^(?=[^.]*[0-9])(?=[^.]*[A-Za-z])[A-Za-z0-9_-]{16,}")

# Observers are called after every request (the metrics module registers one). Plain callables keep
# this module free of Django and Prometheus.
observers: list[Callable[[CallRecord], None]] = []
# Told of a refusal inside a 2xx answer (Booking.com's and Expedia's ``<Errors>``), which the observers
# above saw as a success: (platform, endpoint, error_type).
refusal_observers: list[Callable[[str, str, str], None]] = []


def report_refusal(*, platform: str, endpoint: str, error_type: str) -> None:
    """A 2xx answer that refused the request in its body: counted as a platform error (a bounded
    ``error_type``), where it used to count as a success only."""
    for observer in refusal_observers:
        try:
            observer(platform, endpoint, error_type)
        except Exception:  # metrics must never break a platform call
            log.exception("refusal observer failed")


def _public_url(url: str) -> str:
    """The URL as a log line may show it: scheme, host and port, path; no user, password or query, and
    no path segment that looks like a token (an iCal feed's URL is its owner's secret:
    ``/icalendar/<token>.ics``)."""
    parts = urlsplit(url)
    path = "/".join(TOKEN_LIKE.sub("[token]", segment) for segment in parts.path.split("/"))
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets, or its port would read as part of it
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a malformed port: the request failed on it already, the log must not
        port = None
    return urlunsplit((parts.scheme, host if port is None else f"{host}:{port}", path, "", ""))


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def request(
    method: str,
    url: str,
    *,
    platform: str,
    endpoint: str,
    timeout: tuple[float, float] | None = None,
    raise_for_status: bool = True,
    session: requests.Session | None = None,
    **kwargs,
) -> requests.Response:
    """Send one request. ``endpoint`` names the operation for metrics (``"update_calendar"``).

    Raises ``PlatformAPIError``: transient for timeouts, connection errors, 429 and 5xx; permanent for
    any other status >= 400 (unless ``raise_for_status`` is false, for adapters that read error bodies).
    Never follows redirects: a platform API that redirects is misconfigured, and following one could
    leak the Authorization header to another host. ``session`` replaces the shared one (safe_http's
    checks the address of every connection it opens).
    """
    started = time.monotonic()
    status = None
    error = None
    try:
        response = (session or _session).request(
            method,
            url,
            timeout=timeout or (CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            **kwargs,
        )
        status = response.status_code
    except requests.Timeout as exc:
        error = "timeout"
        raise PlatformAPIError(f"{platform} {endpoint}: timed out", permanent=False) from exc
    except requests.RequestException as exc:
        error = "connection"
        raise PlatformAPIError(f"{platform} {endpoint}: {type(exc).__name__}", permanent=False) from exc
    finally:
        seconds = time.monotonic() - started
        log.info(
            "platform call %s %s %s -> %s in %.3fs",
            platform,
            method,
            _public_url(url),
            status or error,
            seconds,
        )
        record = CallRecord(platform, endpoint, method, status, seconds, error)
        for observer in observers:
            try:
                observer(record)
            except Exception:  # metrics must never break a sync
                log.exception("http observer failed")
    if raise_for_status:
        raise_for_response(response, platform=platform, endpoint=endpoint)
    return response


def raise_for_response(response: requests.Response, *, platform: str, endpoint: str) -> None:
    """Map an HTTP error status to ``PlatformAPIError`` with the right ``permanent`` flag."""
    status = response.status_code
    if status < 400:
        return
    transient = status == 429 or status >= 500
    raise PlatformAPIError(
        f"{platform} {endpoint}: HTTP {status}: {response.text[:200]}",
        permanent=not transient,
        status=status,
        retry_after=retry_after_seconds(response),
    )
