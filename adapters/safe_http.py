"""Requests to a URL that a person typed in, without letting them reach our own network (SSRF).

Shared by iCal feeds and integrators' webhooks. Only http and https. The host is resolved and every
address must be public unless ``allow_private_network`` (a setting, never user input). Each new connection's
peer address is checked again before the request is sent on it, so a DNS answer that changed between
our check and the connect (rebinding) gets nothing. No redirects are followed (a redirect could point
anywhere). A body is streamed and cut off at a size and a time cap.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from adapters import http
from adapters.base import PlatformAPIError

log = logging.getLogger(__name__)
CHUNK = 16 * 1024
# A checked exchange (connect, headers, body) is cut off by then, whatever the peer does: connect and read
# timeouts bound each socket operation only, so a peer sending its headers a byte every few seconds would
# hold a worker for hours. Above iCal's and webhooks' own caps, below a webhook run's 60 s lease.
MAX_EXCHANGE_SECONDS = 45.0
_exchange = threading.local()  # the sockets of the exchange this thread is in (see guarded_request)


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def refused(what: str, message: str) -> PlatformAPIError:
    return PlatformAPIError(f"{what} refused: {message}", permanent=True, code="refused_url")


# Blocks IANA's special-purpose registry marks "not globally reachable" that ``ipaddress`` counts as global
# on the Python we run (3.11 before gh-113171): 192.0.0.0/24 holds a cloud's instance metadata address
# (192.0.0.192). Listed here, they are refused whatever the Python version.
NOT_GLOBAL = tuple(
    ipaddress.ip_network(block)
    for block in ("192.0.0.0/24", "64:ff9b:1::/48", "2001::/23", "2001:db8::/32", "100::/64", "fc00::/7", "fe80::/10")
)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    # An IPv6 address that carries an IPv4 one reaches that one: IPv4-mapped, 6to4 (2002::/16) or NAT64's
    # well-known prefix (64:ff9b::/96); Python counts the last two as global whatever they wrap.
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif (ip.ipv4_mapped or ip.sixtofour) is not None:
            ip = ip.ipv4_mapped or ip.sixtofour
    if any(ip in block for block in NOT_GLOBAL if block.version == ip.version):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to avoid real DNS)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        # "No such name" will not fix itself; a failing resolver might.
        permanent = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME))
        raise PlatformAPIError(f"cannot resolve {host}: {exc}", permanent=permanent, code="dns") from exc
    except ValueError as exc:  # UnicodeError from the idna codec: an empty label or one over 63 characters
        raise refused("url", f"{host} is not a valid host name") from exc
    return sorted({info[4][0] for info in infos})


def _literal(host: str) -> list[str]:
    """``[host]`` when it is an IP address written out (no DNS to ask), else ``[]``."""
    try:
        return [str(ipaddress.ip_address(host.split("%", 1)[0]))]
    except ValueError:
        return []


def checked_url(url: str, *, allow_private_network: bool, what: str = "url") -> str:
    """The URL to request, or ``PlatformAPIError`` (permanent, code ``refused_url``) when it may not be."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:  # an unbalanced or non-IP "[...]" host
        raise refused(what, "malformed URL (its host)") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise refused(what, f"scheme {scheme or '(none)'!r} is not http or https")
    if not parts.hostname:
        raise refused(what, "no host in URL")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise refused(what, "invalid port") from exc
    if not allow_private_network:
        for address in _literal(parts.hostname) or resolve(parts.hostname, port):
            if not is_public(address):
                # Which address stays in our log: told to the caller, it would map internal names.
                log.warning("%s refused: %s resolves to the non-public address %s", what, parts.hostname, address)
                raise refused(what, f"{parts.hostname} resolves to a non-public address")
    return urlunsplit(parts)


class NonPublicPeer(Exception):
    """A connection reached a non-public address. Not an ``OSError``, so urllib3 neither retries nor
    wraps it, and nothing was sent on the socket."""

    def __init__(self, address: str):
        super().__init__(address)
        self.address = address


def _refuse_non_public(sock: socket.socket) -> socket.socket:
    address = sock.getpeername()[0]
    if not is_public(address):
        sock.close()
        raise NonPublicPeer(address)
    return sock


def _watch(sock) -> None:
    """Put the socket an exchange waits on under its deadline (a pooled one too, when it is reused)."""
    watched = getattr(_exchange, "sockets", None)
    if watched is not None and sock is not None:
        watched.append(sock)


def _cut(watched: list, fired: threading.Event) -> None:
    fired.set()
    for sock in watched:
        try:  # the plain socket's shutdown: the thread blocked reading it gets EOF at once
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _refuse_non_public(super()._new_conn())

    def getresponse(self, *args, **kwargs):
        _watch(self.sock)
        return super().getresponse(*args, **kwargs)


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _refuse_non_public(super()._new_conn())

    def getresponse(self, *args, **kwargs):
        _watch(self.sock)
        return super().getresponse(*args, **kwargs)


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class PeerCheckedAdapter(HTTPAdapter):
    """Checks the address every new connection reached before a byte of the request is sent: a DNS
    answer that changed between ``checked_url`` and the connect (rebinding) gets nothing, not even a POST."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


_checked_session = requests.Session()
# No environment: its proxies are not used here (a proxied URL takes the shared session), and a ~/.netrc
# ``default`` entry would send the host's credentials to whatever host a feed's owner names.
_checked_session.trust_env = False
_checked_session.headers.update(http._session.headers)
_checked_session.mount("http://", PeerCheckedAdapter())
_checked_session.mount("https://", PeerCheckedAdapter())


def read_body(response: requests.Response, *, max_bytes: int, max_seconds: float, what: str = "url") -> bytes:
    """The body, or ``PlatformAPIError``: permanent when it is larger than ``max_bytes``, transient
    when it takes longer than ``max_seconds`` or the connection breaks."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise refused(what, f"the answer is larger than {max_bytes} bytes")
    deadline = time.monotonic() + max_seconds
    body = bytearray()
    try:
        for chunk in _arriving(response):
            body += chunk
            if len(body) > max_bytes:
                raise refused(what, f"the answer is larger than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise PlatformAPIError(
                    f"{what}: download took longer than {max_seconds:.0f}s", permanent=False, code="timeout"
                )
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise PlatformAPIError(f"{what}: {type(exc).__name__} while reading", permanent=False) from exc
    return bytes(body)


def _arriving(response: requests.Response) -> Iterator[bytes]:
    """The (decoded) body as it arrives, one socket read at a time. Not ``iter_content``: it waits for a
    whole chunk, so a peer sending a byte every few seconds would hold us hours past ``max_seconds``."""
    while chunk := response.raw.read1(CHUNK, decode_content=True):
        yield chunk


@contextmanager
def guarded_request(
    method: str,
    url: str,
    *,
    allow_private_network: bool,
    what: str,
    platform: str,
    endpoint: str,
    timeout: tuple[float, float],
    **kwargs,
) -> Iterator[requests.Response]:
    """An open, streamed response from a checked URL whose peer is public and that is no redirect.

    Raises ``PlatformAPIError`` (permanent, ``refused_url``) for a refused URL, a private peer or a
    redirect; transient for timeouts and connection errors, and (code ``timeout``) when the exchange
    through the checked session outlasts ``MAX_EXCHANGE_SECONDS``. The caller reads the body with ``read_body``.
    """
    target = checked_url(url, allow_private_network=allow_private_network, what=what)
    # Through a proxy the peer is the proxy, which is ours to trust.
    proxied = bool(requests.utils.get_environ_proxies(target))
    _exchange.sockets = watched = []
    fired = threading.Event()
    deadline = threading.Timer(MAX_EXCHANGE_SECONDS, _cut, args=(watched, fired))
    deadline.daemon = True
    deadline.start()
    try:
        try:
            response = http.request(
                method,
                target,
                platform=platform,
                endpoint=endpoint,
                timeout=timeout,
                stream=True,
                raise_for_status=False,
                session=None if allow_private_network or proxied else _checked_session,
                **kwargs,
            )
        except NonPublicPeer as exc:
            log.warning("%s refused: connected to the non-public address %s", what, exc.address)
            raise refused(what, "connected to a non-public address") from None
        with response:
            if response.is_redirect or 300 <= response.status_code < 400:
                raise refused(what, f"the answer was a redirect (HTTP {response.status_code}); use the final URL")
            yield response
            if fired.is_set():  # cut off, the peer's answer may have looked complete (EOF ends headers or body)
                raise PlatformAPIError(
                    f"{what}: no complete answer within {MAX_EXCHANGE_SECONDS:.0f}s", permanent=False, code="timeout"
                )
    except PlatformAPIError as exc:
        if not fired.is_set() or exc.code == "timeout":
            raise
        raise PlatformAPIError(
            f"{what}: no complete answer within {MAX_EXCHANGE_SECONDS:.0f}s", permanent=False, code="timeout"
        ) from exc
    finally:
        deadline.cancel()
        _exchange.sockets = None
