"""What a platform call leaves in the log: the URL with its port (never a user, password or query), and
for a transient failure that will be retried one WARNING line instead of an ERROR with a traceback."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from adapters import http
from adapters.base import PlatformAPIError
from channelmgr.resilience.retry_logs import WORKER_LOGGER
from testkit import wait_for
from tests.channelmgr.sync.conftest import worker  # noqa: F401  (fixture, used by name)

hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
)


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=hosts,
    port=st.none() | st.integers(1, 65535),
    path=st.from_regex(r"(/[A-Za-z0-9._-]{1,12}){0,4}", fullmatch=True),
    user=st.none() | st.from_regex(r"[a-z]{1,8}:[A-Za-z0-9]{1,12}", fullmatch=True),
    query=st.none() | st.from_regex(r"token=[A-Za-z0-9]{4,20}", fullmatch=True),
)
def test_a_logged_url_keeps_host_port_and_path_and_drops_credentials_and_query(scheme, host, port, path, user, query):
    netloc = f"{user + '@' if user else ''}{host}{f':{port}' if port is not None else ''}"
    url = f"{scheme}://{netloc}{path}{'?' + query if query else ''}"
    logged = http._public_url(url)
    assert logged == f"{scheme}://{host.lower()}{f':{port}' if port is not None else ''}{path}"


def test_a_malformed_port_does_not_break_the_log_line():
    assert http._public_url("http://127.0.0.1:99999999/x") == "http://127.0.0.1/x"


@responses.activate
def test_the_platform_call_line_names_the_port_it_called(caplog):
    responses.add(responses.GET, "http://127.0.0.1:8900/google/ping", status=200)
    caplog.set_level(logging.INFO, logger="adapters.http")
    http.request("GET", "http://127.0.0.1:8900/google/ping?key=s3cret", platform="google", endpoint="ping")
    lines = [r.getMessage() for r in caplog.records if r.name == "adapters.http"]
    assert lines == [lines[0]] and "http://127.0.0.1:8900/google/ping -> 200" in lines[0], lines
    assert "s3cret" not in lines[0]


@pytest.fixture
def fewo_connection(transactional_db, org_a, unit):
    from channelmgr.models import ChannelConnection, DirtyRange

    connection = ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="fewo_direkt", platform_listing_id="fewo-503", api_key="k-1"
    )
    start = dt.date.today() + dt.timedelta(days=10)
    DirtyRange.objects.create(
        connection=connection, kind=DirtyRange.Kind.AVAILABILITY, start=start, end=start + dt.timedelta(days=3)
    )
    return connection


def test_a_push_that_meets_a_503_logs_one_warning_line_and_is_retried(fewo_connection, worker, caplog, settings):  # noqa: F811
    from channelmgr.tasks import update_channel_availability

    base = settings.PLATFORMS["fewo_direkt"]["base_url"]
    caplog.set_level(logging.INFO)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as platform:
        platform.add(responses.Response(method=re.compile(".*"), url=re.compile(re.escape(base) + ".*"), status=503))
        update_channel_availability.send(fewo_connection.pk)

        def failures():
            return [r for r in caplog.records if r.name == WORKER_LOGGER]

        assert wait_for(failures, timeout=20), "the push never failed"
    [record] = failures()[:1]
    assert record.levelno == logging.WARNING, record.getMessage()
    assert record.exc_info is None and record.exc_text is None  # no traceback
    message = record.getMessage()
    assert "\n" not in message and "retry 1 of 12 follows" in message and "update_channel_availability" in message
    assert "503" in message or "transient" in message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    calls = [r.getMessage() for r in caplog.records if r.name == "adapters.http"]
    assert calls and all(":8900/fewo_direkt/" in line for line in calls), calls


def test_the_last_try_keeps_dramatiqs_error_and_traceback():
    """Nothing follows the last try: that failure is for a person, with its traceback."""
    from channelmgr.resilience.retry_logs import TransientRetryLog
    from channelmgr.tasks import update_channel_availability

    message = update_channel_availability.message(1).copy(options={"retries": 12})
    try:
        raise PlatformAPIError("fewo_direkt update: HTTP 503", permanent=False, status=503)
    except PlatformAPIError:
        import sys

        record = logging.LogRecord(
            WORKER_LOGGER, logging.ERROR, __file__, 1, "Failed to process message %s with unhandled exception.",
            (message,), sys.exc_info(),
        )  # fmt: skip
    assert TransientRetryLog().filter(record) and record.levelno == logging.ERROR and record.exc_info
