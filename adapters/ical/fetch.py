"""Fetch a feed URL that a person typed in, without letting it reach our own network (SSRF).

Only http and https (``webcal://`` is read as https). The host is resolved and every address must be
public unless ``allow_private_network`` (settings only: the sandbox runs on 127.0.0.1). After
connecting, the socket's peer address is checked again, so a DNS answer that changed between our
check and the connect (rebinding) is refused too. No redirects are followed (a redirect could point
anywhere). The body is streamed and cut off at ``MAX_BYTES`` and ``MAX_SECONDS``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit, urlunsplit

import requests

from adapters import http
from adapters.base import PlatformAPIError

PLATFORM = "ical"
MAX_BYTES = 2 * 1024 * 1024
MAX_SECONDS = 20.0
TIMEOUT = (3.05, 10.0)
CHUNK = 16 * 1024


def refused(message: str) -> PlatformAPIError:
    return PlatformAPIError(f"ical feed refused: {message}", permanent=True, code="refused_url")


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to avoid real DNS)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        # "No such name" will not fix itself; a failing resolver might.
        permanent = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME))
        raise PlatformAPIError(f"ical feed: cannot resolve {host}: {exc}", permanent=permanent, code="dns") from exc
    return sorted({info[4][0] for info in infos})


def checked_url(url: str, *, allow_private_network: bool) -> str:
    """The URL to fetch, or ``PlatformAPIError`` (permanent) when it may not be fetched."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "webcal":
        scheme = "https"
        parts = parts._replace(scheme=scheme)
    if scheme not in ("http", "https"):
        raise refused(f"scheme {scheme or '(none)'!r} is not http or https")
    if not parts.hostname:
        raise refused("no host in URL")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise refused("invalid port") from exc
    if not allow_private_network:
        for address in resolve(parts.hostname, port):
            if not is_public(address):
                raise refused(f"{parts.hostname} resolves to a non-public address {address}")
    return urlunsplit(parts)


def peer_address(response: requests.Response) -> str | None:
    """The IP the response came from, when the transport exposes its socket (real ones do; the
    connection is gone from ``_connection`` when the server closes after the answer, so the socket
    under the body stream is the fallback)."""
    raw = response.raw
    candidates = (
        getattr(getattr(raw, "_connection", None), "sock", None),
        getattr(getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None), "_sock", None),
    )
    for sock in candidates:
        if sock is not None:
            try:
                return sock.getpeername()[0]
            except OSError:
                continue
    return None


def read_body(response: requests.Response) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BYTES:
        raise refused(f"feed is larger than {MAX_BYTES} bytes")
    deadline = time.monotonic() + MAX_SECONDS
    body = bytearray()
    try:
        for chunk in response.iter_content(CHUNK):
            body += chunk
            if len(body) > MAX_BYTES:
                raise refused(f"feed is larger than {MAX_BYTES} bytes")
            if time.monotonic() > deadline:
                raise PlatformAPIError(
                    f"ical feed: download took longer than {MAX_SECONDS:.0f}s", permanent=False, code="timeout"
                )
    except requests.RequestException as exc:
        raise PlatformAPIError(f"ical feed: {type(exc).__name__} while reading", permanent=False) from exc
    return bytes(body)


def fetch_feed(url: str, *, allow_private_network: bool = False, endpoint: str = "fetch_feed") -> bytes:
    """The feed's bytes. Raises ``PlatformAPIError``: permanent for refused URLs, redirects, 4xx and
    oversized feeds; transient for timeouts, connection errors, 429 and 5xx."""
    target = checked_url(url, allow_private_network=allow_private_network)
    response = http.request(
        "GET",
        target,
        platform=PLATFORM,
        endpoint=endpoint,
        timeout=TIMEOUT,
        stream=True,
        raise_for_status=False,
        headers={"Accept": "text/calendar, text/plain;q=0.5, */*;q=0.1"},
    )
    with response:
        # Through a proxy the peer is the proxy, which is ours to trust.
        proxied = bool(requests.utils.get_environ_proxies(target))
        peer = None if proxied else peer_address(response)
        if not allow_private_network and peer is not None and not is_public(peer):
            raise refused(f"connected to a non-public address {peer}")
        if response.is_redirect or 300 <= response.status_code < 400:
            raise refused(f"the feed answered with a redirect (HTTP {response.status_code}); use the final URL")
        if response.status_code >= 400:
            # Not http.raise_for_response: it reads the whole error body, which has no size cap here.
            status = response.status_code
            raise PlatformAPIError(
                f"ical feed: HTTP {status}",
                permanent=not (status == 429 or status >= 500),
                status=status,
                retry_after=http.retry_after_seconds(response),
            )
        return read_body(response)
