"""POST /channel-connections/{id}/test runs the adapter's health check and records it."""

import pytest
import responses
from django.conf import settings

from adapters.airbnb.adapter import AirbnbAdapter
from adapters.base import PlatformAPIError
from channelmgr.models import SyncLog
from tests.channelmgr.api.conftest import SECRETS


def _me_url():
    return f"{settings.PLATFORMS['airbnb']['base_url']}/v2/users/me"


@responses.activate
def test_a_healthy_platform_is_recorded_as_healthy(alice_api, connection):
    responses.get(_me_url(), json={"user": {"id": 77}})
    answer = alice_api.post(f"/channel-connections/{connection.pk}/test")
    assert answer.status_code == 200
    assert answer.json()["healthy"] is True
    connection.refresh_from_db()
    assert connection.healthy is True and connection.last_health_check_at and connection.last_error == ""
    log = SyncLog.objects.get()
    assert (log.kind, log.status, log.request_count) == ("health", "success", 1)
    assert log.finished_at is not None


@responses.activate
def test_a_refused_token_is_unhealthy_with_a_message_and_no_error_status(alice_api, connection):
    responses.get(_me_url(), status=403, json={"error": "forbidden", "error_message": "no access"})
    answer = alice_api.post(f"/channel-connections/{connection.pk}/test")
    assert answer.status_code == 200
    body = answer.json()
    assert body["healthy"] is False and body["message"]
    connection.refresh_from_db()
    assert connection.healthy is False and connection.last_error == body["message"]
    assert SyncLog.objects.get().status == "failed"


def test_a_platform_error_that_quotes_a_secret_is_redacted(alice_api, connection, monkeypatch):
    def leaky(self):
        raise PlatformAPIError(f"refused token {SECRETS['access_token']} for {SECRETS['username']}", permanent=True)

    monkeypatch.setattr(AirbnbAdapter, "check_health", leaky)
    answer = alice_api.post(f"/channel-connections/{connection.pk}/test")
    assert answer.json()["healthy"] is False
    stored = [answer.content.decode(), SyncLog.objects.get().error]
    connection.refresh_from_db()
    stored.append(connection.last_error)
    for text in stored:
        assert "[redacted]" in text
        assert all(secret not in text for secret in SECRETS.values())


def test_an_adapter_crash_is_an_unhealthy_result_not_a_500(alice_api, connection, monkeypatch):
    monkeypatch.setattr(AirbnbAdapter, "check_health", lambda self: 1 / 0)
    answer = alice_api.post(f"/channel-connections/{connection.pk}/test")
    assert answer.status_code == 200
    assert answer.json() == {"healthy": False, "message": "health check failed (ZeroDivisionError)"}


@pytest.mark.parametrize("sync_type", ["full", "availability", "pricing", "bookings"])
def test_a_sync_request_returns_the_sync_logs_it_created(alice_api, connection, sync_type):
    answer = alice_api.post(f"/channel-connections/{connection.pk}/sync", {"sync_type": sync_type}, format="json")
    assert answer.status_code == 202
    ids = answer.json()["sync_logs"]
    assert ids and set(SyncLog.objects.filter(connection=connection).values_list("id", flat=True)) == set(ids)


def test_a_paused_connection_is_not_synced(alice_api, connection):
    alice_api.post(f"/channel-connections/{connection.pk}/pause")
    answer = alice_api.post(f"/channel-connections/{connection.pk}/sync", {"sync_type": "full"}, format="json")
    assert answer.status_code == 409
    assert answer.json()["error"] == "conflict"
    assert not SyncLog.objects.exists()


def test_sync_logs_are_paginated_newest_first(alice_api, connection):
    for kind in ("availability", "pricing", "bookings"):
        SyncLog.objects.create(connection=connection, direction="outbound", kind=kind)
    body = alice_api.get(f"/channel-connections/{connection.pk}/sync-logs").json()
    assert body["count"] == 3
    assert [entry["kind"] for entry in body["results"]] == ["bookings", "pricing", "availability"]


# --- through the call gateway: breaker, limiter and token refresh ---------------------------------


@pytest.fixture
def guards(connection):
    """The platform's breaker and the account's limiter, reset before and after (they live in the cache)."""
    from channelmgr.resilience.breaker import breaker_for
    from channelmgr.resilience.limiter import limiter_for
    from channelmgr.resilience.platform_calls import rate_limit_account

    breaker = breaker_for(connection.platform_type)
    limiter = limiter_for(
        platform=connection.platform_type, account=rate_limit_account(connection), connection=connection
    )
    breaker.reset()
    limiter.reset()
    yield breaker, limiter
    breaker.reset()
    limiter.reset()


def _open(breaker):
    for _ in range(50):
        if breaker.get_state() == "open":
            return
        admission = breaker.admit()
        breaker.record_failure(admission, PlatformAPIError("platform down", permanent=False, status=503))
    raise AssertionError("the breaker did not open")


def _not_checked(alice_api, connection, monkeypatch):
    def no_request(self):
        raise AssertionError("the platform was called")

    monkeypatch.setattr(AirbnbAdapter, "check_health", no_request)
    answer = alice_api.post(f"/channel-connections/{connection.pk}/test")
    assert answer.status_code == 200
    body = answer.json()
    assert body["healthy"] is False and body["message"].startswith("not checked:")
    log = SyncLog.objects.get(kind="health")
    assert (log.status, log.request_count, log.error) == ("skipped", 0, body["message"])
    connection.refresh_from_db()
    # Nothing was learnt about the connection: its health fields stay as the last real check left them.
    assert (connection.healthy, connection.last_health_check_at, connection.last_error) == (None, None, "")
    return body["message"]


def test_an_open_breaker_is_reported_unhealthy_without_calling_the_platform(alice_api, connection, guards, monkeypatch):
    breaker, _limiter = guards
    _open(breaker)
    message = _not_checked(alice_api, connection, monkeypatch)
    assert "circuit breaker open" in message and "try again in" in message


def test_a_full_rate_limit_is_reported_unhealthy_without_calling_the_platform(
    alice_api, connection, guards, monkeypatch
):
    _breaker, limiter = guards
    limiter.pause(30)
    message = _not_checked(alice_api, connection, monkeypatch)
    assert "rate limit" in message and "try again in" in message


def test_a_failing_health_check_counts_against_the_breaker(alice_api, connection, guards, monkeypatch):
    breaker, _limiter = guards

    def down(self):
        raise PlatformAPIError("platform down", permanent=False, status=503)

    monkeypatch.setattr(AirbnbAdapter, "check_health", down)
    for _ in range(breaker.failure_threshold):
        assert alice_api.post(f"/channel-connections/{connection.pk}/test").json()["healthy"] is False
    assert breaker.get_state() == "open"


def test_an_expired_token_is_refreshed_once_through_the_gateways_refresh(alice_api, connection, guards, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    from adapters.base import HealthResult, TokenSet
    from channelmgr.resilience import platform_calls

    def check_health(self):
        if self.account.credentials.access_token != "fresh-access-token":
            raise PlatformAPIError("token expired", permanent=True, status=401, code="token_expired")
        return HealthResult(healthy=True, message="ok")

    refreshes = []
    real_refresh = platform_calls.token_refresh

    def token_refresh(**kwargs):  # the single-use refresh, under its lock
        refreshes.append(kwargs)
        return real_refresh(**kwargs)

    monkeypatch.setattr(AirbnbAdapter, "check_health", check_health)
    monkeypatch.setattr(
        AirbnbAdapter,
        "refresh_access_token",
        lambda self: TokenSet("fresh-access-token", "fresh-refresh-token", timezone.now() + dt.timedelta(hours=1)),
    )
    monkeypatch.setattr(platform_calls, "token_refresh", token_refresh)

    answer = alice_api.post(f"/channel-connections/{connection.pk}/test")

    assert answer.json() == {"healthy": True, "message": "ok"}
    assert [kwargs["expired_token"] for kwargs in refreshes] == [SECRETS["access_token"]]
    connection.refresh_from_db()
    assert (connection.access_token, connection.refresh_token) == ("fresh-access-token", "fresh-refresh-token")
