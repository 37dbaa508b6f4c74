"""CORS (django-cors-headers) is off by default and, once CORS_ALLOWED_ORIGINS names an origin, lets that
origin's pages call the API only (with the Idempotency-Key header), never the admin or the webhooks."""

from __future__ import annotations

import pytest

from tests.config.test_settings import manage

APP = "https://pms.example.com"


def _preflight(client, path, origin=APP):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )


@pytest.mark.django_db
def test_cors_is_off_by_default(client, settings):
    assert settings.CORS_ALLOWED_ORIGINS == []
    for answer in (client.get("/bookings", HTTP_ORIGIN=APP), _preflight(client, "/bookings")):
        assert not answer.has_header("Access-Control-Allow-Origin")


@pytest.mark.django_db
def test_an_allowed_origin_may_call_the_api_with_an_idempotency_key(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    preflight = _preflight(client, "/bookings")
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == APP
    assert "idempotency-key" in preflight["Access-Control-Allow-Headers"]
    answer = client.get("/bookings", HTTP_ORIGIN=APP)
    assert answer.status_code == 401  # CORS opens the door to the API, not its authentication
    assert answer["Access-Control-Allow-Origin"] == APP
    assert "Idempotent-Replayed" in answer["Access-Control-Expose-Headers"]
    assert not answer.has_header("Access-Control-Allow-Credentials")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/webhooks/airbnb", "/metrics", "/healthz"])
def test_the_admin_webhooks_and_probes_never_answer_cors(client, settings, path):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    assert not _preflight(client, path).has_header("Access-Control-Allow-Origin")


@pytest.mark.django_db
def test_another_origin_gets_no_cors_headers(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    assert not _preflight(client, "/bookings", origin="https://evil.example.net").has_header(
        "Access-Control-Allow-Origin"
    )


@pytest.mark.parametrize("value", ["pms.example.com", "https://pms.example.com/app", "*"])
def test_a_malformed_origin_stops_start_up_with_the_variables_name(value):
    result = manage("check", CORS_ALLOWED_ORIGINS=value)
    assert result.returncode != 0
    assert "CORS_ALLOWED_ORIGINS" in result.stderr


def test_origins_with_ports_and_several_origins_are_accepted():
    result = manage("check", CORS_ALLOWED_ORIGINS="https://pms.example.com,http://localhost:5173")
    assert result.returncode == 0, result.stderr
