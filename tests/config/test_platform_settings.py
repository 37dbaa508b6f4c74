"""Each platform's settings come from its adapter's declarations and ``<PREFIX>_*`` variables."""

from __future__ import annotations

import pytest

from adapters.registry import adapter_class
from config.platforms import platform_settings

URLS = {"sandbox_url": "http://sandbox.test", "public_base_url": "https://cm.example.com"}


@pytest.fixture
def airbnb(monkeypatch):
    monkeypatch.delenv("AIRBNB_WEBHOOK_SECRETS", raising=False)
    return adapter_class("airbnb")


def test_the_sandboxs_public_webhook_secret_stands_in_only_in_debug(airbnb):
    assert platform_settings(airbnb, debug=True, **URLS)["webhook_secrets"] == ["sandbox-airbnb-webhook"]
    # In production an unset secret refuses every webhook rather than accepting ones anybody can sign.
    assert platform_settings(airbnb, debug=False, **URLS)["webhook_secrets"] == []


def test_a_set_secret_is_used_in_every_mode(airbnb, monkeypatch):
    monkeypatch.setenv("AIRBNB_WEBHOOK_SECRETS", "new-secret,old-secret")
    for debug in (True, False):
        assert platform_settings(airbnb, debug=debug, **URLS)["webhook_secrets"] == ["new-secret", "old-secret"]


def test_declared_defaults_and_prefixed_overrides(monkeypatch):
    google, booking = adapter_class("google"), adapter_class("booking_com")
    monkeypatch.delenv("GOOGLE_PUBSUB_CERTS_URL", raising=False)
    monkeypatch.setenv("BOOKING_COM_POLL_SECONDS", "40")
    assert platform_settings(google, debug=False, **URLS)["PUBSUB_CERTS_URL"] == (
        "https://www.googleapis.com/oauth2/v3/certs"
    )
    assert platform_settings(google, debug=True, **URLS)["PUBSUB_CERTS_URL"] == (
        "http://sandbox.test/google/oauth2/v3/certs"
    )
    assert platform_settings(google, debug=False, **URLS)["PUBSUB_AUDIENCE"] == "https://cm.example.com/webhooks/google"
    values = platform_settings(booking, debug=False, **URLS)
    assert (values["rate_limit"], values["rate_window"], values["poll_seconds"]) == (20, 60.0, 40)
    assert platform_settings(adapter_class("ical"), debug=False, **URLS)["rate_limit"] is None
