"""The feed URL is typed in by a person: it must not reach our own network."""

import http.server
import threading

import pytest

from adapters import safe_http
from adapters.base import PlatformAPIError
from adapters.ical.fetch import MAX_BYTES, fetch_feed

from .conftest import FEED_URL

CALENDAR = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nEND:VCALENDAR\r\n"


def assert_refused(url, **kwargs):
    with pytest.raises(PlatformAPIError) as caught:
        fetch_feed(url, **kwargs)
    assert caught.value.permanent
    return caught.value


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed.ics",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/feed.ics",
        "http://192.168.1.10/feed.ics",
        "http://[::1]/feed.ics",
        "http://[::ffff:127.0.0.1]/feed.ics",
        "http://0.0.0.0/feed.ics",
        "http://2130706433/feed.ics",  # 127.0.0.1 as one decimal number
        "http://224.0.0.1/feed.ics",
        "http://[2002:7f00:1::1]/feed.ics",  # 6to4: a relay hands it to 127.0.0.1
        "http://[2002:a9fe:a9fe::]/latest/meta-data/",  # 6to4 of 169.254.169.254
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 of 169.254.169.254
    ],
)
def test_it_refuses_non_public_addresses(http, url):
    assert assert_refused(url).code == "refused_url"
    assert len(http.calls) == 0


def test_a_6to4_address_of_a_public_ipv4_is_public():
    assert safe_http.is_public("2002:808:808::1")  # 8.8.8.8 behind 6to4: refused only where the IPv4 is
    assert safe_http.is_public("64:ff9b::808:808")  # and behind NAT64


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/feed.ics", "gopher://example.com/", "feed.ics", "http:///x"]
)
def test_it_refuses_other_schemes_and_urls_without_host(http, url):
    assert_refused(url)


@pytest.mark.parametrize("url", ["webcal://[::1/feed.ics", "https://[feeds.example.test]/x.ics", "https://a..b/x.ics"])
def test_it_refuses_a_malformed_url_rather_than_crashing(http, url):
    assert assert_refused(url).code == "refused_url"
    assert len(http.calls) == 0


def test_it_refuses_a_hostname_that_resolves_to_loopback(http, caplog):
    message = assert_refused("http://localhost/feed.ics").args[0]
    assert "localhost resolves to a non-public address" in message and "127.0.0.1" not in message
    assert "127.0.0.1" in caplog.text  # our log has it


def test_it_refuses_a_hostname_with_one_private_address_among_public_ones(http, monkeypatch):
    monkeypatch.setattr(safe_http, "resolve", lambda host, port: ["93.184.216.34", "10.1.2.3"])
    assert_refused("https://feeds.example.test/x.ics")


def test_it_refuses_a_redirect(http, public_dns):
    http.get(FEED_URL, status=302, headers={"Location": "http://169.254.169.254/"})
    error = assert_refused(FEED_URL)
    assert "redirect" in str(error)
    assert len(http.calls) == 1


def test_it_stops_reading_a_feed_larger_than_the_cap(http, public_dns):
    http.get(FEED_URL, body=b"X" * (MAX_BYTES + 1), auto_calculate_content_length=False)
    assert "larger" in str(assert_refused(FEED_URL))


def test_it_refuses_a_declared_length_over_the_cap_before_reading(http, public_dns):
    http.get(FEED_URL, body=CALENDAR, headers={"Content-Length": str(MAX_BYTES + 1)})
    assert "larger" in str(assert_refused(FEED_URL))


def test_a_netrc_file_sends_no_credentials_to_a_feeds_host(http, public_dns, monkeypatch, tmp_path):
    """A feed's URL is whatever its owner typed: a ``default`` entry in the worker host's ``~/.netrc``
    must not go there as Basic credentials (requests' own default)."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("default login host-user password host-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    http.get(FEED_URL, body=CALENDAR)

    assert fetch_feed(FEED_URL) == CALENDAR
    assert "Authorization" not in http.calls[0].request.headers


def test_webcal_is_read_as_https(http, public_dns):
    http.get(FEED_URL, body=CALENDAR)
    assert fetch_feed(FEED_URL.replace("https://", "webcal://")) == CALENDAR


@pytest.fixture
def local_feed():
    class Feed(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(CALENDAR)))
            self.end_headers()
            self.wfile.write(CALENDAR)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.ics"
    server.shutdown()
    server.server_close()


def test_the_private_network_switch_lets_a_local_feed_through(local_feed):
    assert fetch_feed(local_feed, allow_private_network=True) == CALENDAR


def test_it_refuses_a_connection_that_landed_on_a_private_address(local_feed, public_dns):
    # DNS said public, the socket says loopback: a rebinding attack between the check and the connect.
    assert "connected to a non-public address" in str(assert_refused(local_feed.replace("127.0.0.1", "localhost")))


@pytest.fixture
def dripping_feed():
    """A feed that declares 400 bytes and sends one every 50 ms (20 s in all), counting what it sent."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    sent = {"bytes": 0, "done": threading.Event()}

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\nContent-Type: text/calendar\r\n\r\n")
            try:
                for _ in range(400):
                    conn.sendall(b"X")
                    sent["bytes"] += 1
                    if sent["done"].wait(0.05):
                        break
            except OSError:  # the client hung up
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed.ics", sent
    sent["done"].set()
    thread.join(5)
    listener.close()


def test_the_time_cap_holds_against_a_feed_sent_a_byte_at_a_time(dripping_feed, monkeypatch):
    """Reading stops once the cap has passed, not after a whole 16 KiB chunk (or the body) arrived: a
    host sending a byte every few seconds would otherwise hold a worker for hours."""
    import adapters.ical.fetch as fetch

    url, sent = dripping_feed
    monkeypatch.setattr(fetch, "MAX_SECONDS", 0.3)
    with pytest.raises(PlatformAPIError) as caught:
        fetch_feed(url, allow_private_network=True)
    assert caught.value.code == "timeout" and not caught.value.permanent
    assert sent["bytes"] < 400  # it gave up while the body was still arriving


@pytest.fixture
def dripping_headers():
    """A host whose answer's headers come one byte every 50 ms (20 s in all), counting what it sent."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    sent = {"bytes": 0, "done": threading.Event()}

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                for _ in range(400):
                    conn.sendall(b"x")
                    sent["bytes"] += 1
                    if sent["done"].wait(0.05):
                        break
            except OSError:  # the client hung up
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed.ics", sent
    sent["done"].set()
    thread.join(5)
    listener.close()


def test_the_whole_exchange_is_cut_off_even_while_headers_still_trickle_in(dripping_headers, monkeypatch):
    """Each socket read has its timeout, but the exchange as a whole has a deadline too: a host that
    sends its headers a byte at a time cannot hold a worker."""
    url, sent = dripping_headers
    monkeypatch.setattr(safe_http, "is_public", lambda address: True)  # the checked session, on loopback
    monkeypatch.setattr(safe_http, "MAX_EXCHANGE_SECONDS", 0.5)
    with pytest.raises(PlatformAPIError) as caught:
        fetch_feed(url)
    assert caught.value.code == "timeout" and not caught.value.permanent
    assert sent["bytes"] < 400  # it gave up while the headers were still arriving
