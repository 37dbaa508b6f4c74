"""Error tracking (sentry-sdk) is off unless SENTRY_DSN is set; when on, an error reaches Sentry without any
credential, token, guest detail or request body."""

from __future__ import annotations

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from config.sentry import sentry_init
from tests.channelmgr.api.conftest import SECRETS
from tests.config.test_settings import manage

GUEST_EMAIL = "guest.weber@example.org"


class Captured(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


@pytest.fixture
def sentry():
    transport = Captured()
    sentry_init(
        dsn="https://public0key@sentry.example.com/1", environment="test", traces_sample_rate=1.0, transport=transport
    )
    assert not sentry_sdk.get_client().should_send_default_pii()
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)  # inactive again for the rest of the run


def test_sentry_is_off_without_a_dsn():
    result = manage("shell", "-c", "import sentry_sdk; print('active', sentry_sdk.get_client().is_active())")
    assert result.stdout.strip().endswith("active False"), result.stdout + result.stderr


@pytest.mark.django_db
def test_an_error_reaches_sentry_without_secrets_pii_or_the_body(sentry, alice_api, unit, monkeypatch):
    from channelmgr.api import connections

    def crash(**kwargs):
        credentials = kwargs["credentials"]  # a frame local holding every secret
        raise RuntimeError(f"cannot store {len(credentials)} credentials")

    monkeypatch.setattr(connections, "connection_create", crash)
    alice_api.raise_request_exception = False
    body = {"unit": unit.pk, "platform_type": "airbnb", "platform_listing_id": "AIR-1", **SECRETS}
    answer = alice_api.post(
        f"/channel-connections?access_token={SECRETS['access_token']}&email={GUEST_EMAIL}",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY="key-for-sentry",
    )
    assert answer.status_code == 500
    sentry_sdk.flush()

    sent = b"".join(envelope.serialize() for envelope in sentry.envelopes).decode()
    assert "cannot store" in sent and "RuntimeError" in sent  # the error itself did go out
    token = alice_api._credentials["HTTP_AUTHORIZATION"].split()[1]
    for secret in [*SECRETS.values(), token, GUEST_EMAIL, "key-for-sentry"]:
        assert secret not in sent, f"{secret} sent to Sentry"


def test_a_malformed_dsn_stops_start_up_without_printing_it():
    result = manage("check", SENTRY_DSN="not-a-dsn-but-a-secret-1234")
    assert result.returncode != 0
    assert "SENTRY_DSN" in result.stderr and "not-a-dsn-but-a-secret-1234" not in result.stderr


def test_the_traces_sample_rate_is_a_fraction():
    result = manage("check", SENTRY_TRACES_SAMPLE_RATE="2")
    assert result.returncode != 0 and "SENTRY_TRACES_SAMPLE_RATE" in result.stderr
