"""Structured logs: with ``LOG_JSON`` every line is one JSON object carrying the correlation id, one
change keeps one id from the webhook through the import to its pushes, and no secret is ever logged."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import logging.config
import os
import subprocess
import sys

import pytest
from django.conf import settings

from channelmgr.models import CREDENTIAL_FIELDS, ChannelConnection, InboundEvent, SyncLog
from pms_core.models import OutboxEvent
from testkit import oauth_platforms, push_platforms, wait_for

from .conftest import guest_books, imported

PUSHED_TO = tuple(slug for slug in push_platforms() if slug != "airbnb")  # every platform but the one that sold it


@pytest.fixture
def json_logs():
    """Capture every record as the ``LOG_JSON`` console handler formats it; ``json_logs()`` parses the lines."""
    configurator = logging.config.DictConfigurator(settings.LOGGING)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(configurator.configure_formatter(dict(settings.LOGGING["formatters"]["json"])))
    handler.addFilter(configurator.configure_filter(dict(settings.LOGGING["filters"]["correlation"])))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_log_json_switches_the_console_handler_to_the_json_formatter():
    code = "import django; django.setup(); from django.conf import settings; print(settings.LOGGING['handlers'])"
    env = {**os.environ, "LOG_JSON": "true", "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "'formatter': 'json'" in out.stdout and "'correlation'" in out.stdout


def _secrets() -> set[str]:
    """Every credential we hold: the connections' (decrypted) ones and the platforms' client and webhook secrets."""
    values = {
        getattr(connection, name)
        for connection in ChannelConnection.objects.all()
        for name in CREDENTIAL_FIELDS
        if name != "username"  # an account name is no secret
    }
    for platform in settings.PLATFORMS.values():
        values.add(platform.get("oauth_client_secret") or "")
        values.update(platform.get("webhook_secrets") or [])
    return {value for value in values if value}


def _pushes():
    return SyncLog.objects.filter(
        direction=SyncLog.Direction.OUTBOUND, status=SyncLog.Status.SUCCESS, connection__platform_type__in=PUSHED_TO
    )


@pytest.fixture
def booked_on_airbnb(json_logs, sandbox, connected_unit, worker):
    """A guest books on airbnb: webhook -> import -> a push to each other platform. Yields the InboundEvent."""
    reservation = guest_books(
        sandbox, connected_unit, platform="airbnb", check_in=dt.date.today() + dt.timedelta(days=12), nights=3,
        guest_name="Ada Lovelace",
    )  # fmt: skip
    assert wait_for(lambda: imported("airbnb", reservation), timeout=30), "the airbnb booking was not imported"
    assert wait_for(lambda: _pushes().count() >= len(PUSHED_TO), timeout=30), list(_pushes())
    worker.join()  # every actor done, so every line is in
    return InboundEvent.objects.get(platform="airbnb", channel_booking_id=reservation)


@pytest.mark.django_db(transaction=True)
def test_the_import_carries_the_webhooks_correlation_id(booked_on_airbnb, json_logs):
    correlation_id = booked_on_airbnb.correlation_id
    booking = imported("airbnb", booked_on_airbnb.channel_booking_id)
    assert correlation_id

    assert OutboxEvent.objects.get(booking=booking).correlation_id == correlation_id
    inbound = SyncLog.objects.filter(connection__platform_type="airbnb", direction=SyncLog.Direction.INBOUND)
    assert set(inbound.values_list("correlation_id", flat=True)) == {correlation_id}
    records = json_logs()
    import_lines = [r for r in records if r["logger"] == "channelmgr.inbound.importer"]
    assert import_lines and {r["correlation_id"] for r in import_lines} == {correlation_id}, import_lines
    fetch = [
        r for r in records if r["logger"] == "adapters.http" and booked_on_airbnb.channel_booking_id in r["message"]
    ]
    assert fetch and {r["correlation_id"] for r in fetch} == {correlation_id}
    assert all({"time", "level", "logger", "correlation_id", "message"} <= r.keys() for r in records)


@pytest.mark.django_db(transaction=True)
def test_every_push_carries_the_webhooks_correlation_id(booked_on_airbnb, json_logs):
    correlation_id = booked_on_airbnb.correlation_id
    assert set(_pushes().values_list("correlation_id", flat=True)) == {correlation_id}
    push_lines = [r for r in json_logs() if r["logger"] == "channelmgr.sync.push" and r["message"].startswith("pushed")]
    assert len(push_lines) >= len(PUSHED_TO)
    assert {r["correlation_id"] for r in push_lines} == {correlation_id}


@pytest.mark.django_db(transaction=True)
def test_no_credential_appears_in_any_log_line(booked_on_airbnb, json_logs):
    from channelmgr.resilience.platform_calls import token_refresh

    secrets = _secrets()
    for connection in ChannelConnection.objects.filter(platform_type__in=oauth_platforms()):
        token_refresh(connection=connection)  # sends the refresh token and client secret, gets new tokens
    secrets |= _secrets()
    assert len(secrets) >= 10, secrets  # old and new tokens, keys, passwords and platform secrets
    lines = [json.dumps(record) for record in json_logs()]
    assert len([line for line in lines if "oauth2/token" in line]) >= 4  # code exchanges and refreshes were logged
    leaks = [(secret, line) for secret in secrets for line in lines if secret in line]
    assert not leaks, leaks
