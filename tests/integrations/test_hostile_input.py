"""Hostile input on the integrators' surface: the webhook-subscriptions API and its deliveries, and the
parts of the PMS and connection APIs integrators call most.

Each test states what the standards ask (a clear 4xx that changes nothing, never a 5xx, nothing lost or
duplicated silently, no SSRF, no leaked secrets or internal addresses). Found in review (2026-12-04); each
failed on the code before it.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import responses
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters import safe_http
from channelmgr.models import ChannelConnection
from integrations.delivery import subscription_deliver
from integrations.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from integrations.outbox import event_record
from integrations.relay import EVENT_RETENTION, events_prune
from pms_core.models import Booking, CalendarDay

HOOK = "https://hooks.example.test/in"
pytestmark = pytest.mark.usefixtures("public_dns")


def create(api, url=HOOK, event_types=("booking.created",), **extra):
    return api.post("/webhook-subscriptions", {"url": url, "event_types": list(event_types), **extra}, format="json")


def snapshot(pk: int) -> dict:
    """Every column of a subscription, secrets included: 'changes nothing' means all of them."""
    return WebhookSubscription.objects.filter(pk=pk).values().get()


# --- 1. SSRF: the IETF protocol-assignments block 192.0.0.0/24 passes as "public" ----------------------
#
# IANA's special-purpose registry marks 192.0.0.0/24 "globally reachable: false" (only .9 and .10 are
# exceptions). The Python this project runs (3.11.7) predates the fix of gh-113171, so
# ``ipaddress.ip_address("192.0.0.192").is_global`` is True and ``safe_http.is_public`` lets it through, at
# subscription time and at the connect-time peer check alike. 192.0.0.192 is Oracle Cloud's (Classic)
# instance-metadata address; 192.0.0.8 is the IPv4 dummy address (RFC 7600).

IETF_PROTOCOL_ASSIGNMENTS = [n for n in range(256) if n not in (9, 10)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(last=st.sampled_from(IETF_PROTOCOL_ASSIGNMENTS), path=st.sampled_from(["/", "/latest/meta-data/", "/hook"]))
@example(last=192, path="/latest/meta-data/")
def test_a_webhook_url_in_192_0_0_0_24_is_refused(alice_api, last, path):
    before = WebhookSubscription.objects.count()
    answer = create(alice_api, url=f"http://192.0.0.{last}{path}")
    assert answer.status_code == 400, (last, answer.json())
    assert "url" in answer.json()["fields"]
    assert WebhookSubscription.objects.count() == before


@responses.activate
def test_a_delivery_to_the_oracle_cloud_metadata_address_is_never_sent(org_a):
    # A row stored before the check existed, or written by the admin/an import: the delivery-time check
    # (checked_url + the peer check) is the last line of defence, and it shares is_public's blind spot.
    metadata = "http://192.0.0.192/latest/meta-data/"
    responses.post(metadata, body="ami-id\ninstance-id\n")
    subscription = WebhookSubscription.objects.create(
        organization=org_a, url=metadata, event_types=["booking.created"], secret="whsec_x"
    )
    event_record(organization_id=org_a.pk, event_type="booking.created", data={"object": {}})
    subscription_deliver(subscription_id=subscription.pk)
    assert len(responses.calls) == 0, "the signed event was POSTed to the metadata address"
    log = WebhookDelivery.objects.get(subscription=subscription)
    assert not log.succeeded and "refused" in log.error


# --- 2. A deeply nested JSON body is a 500 on every JSON endpoint ---------------------------------------
#
# DRF's JSONParser catches ValueError only; json.load raises RecursionError past ~1000 levels. The inbound
# webhooks handle it (adapters/webhook_input.py lists RecursionError in MALFORMED); the API does not. 100 kB
# of "[" is far under DATA_UPLOAD_MAX_MEMORY_SIZE, so one small request per endpoint gives a server error.

DEEP = "[" * 100_000


def _post_raw(api, method: str, path: str, body: str, **headers):
    api.raise_request_exception = False
    return getattr(api, method)(path, data=body, content_type="application/json", **headers)


@pytest.mark.parametrize(
    "method,path",
    [
        ("post", "/webhook-subscriptions"),
        ("patch", "/webhook-subscriptions/{pk}"),
        ("post", "/webhook-subscriptions/{pk}/rotate-secret"),
        ("post", "/bookings"),
        ("post", "/calendar"),
        ("post", "/calendar/blocks"),
        ("post", "/channel-connections"),
    ],
)
def test_a_deeply_nested_json_body_is_a_400_and_changes_nothing(alice_api, unit, method, path):
    pk = create(alice_api).json()["id"]
    before = snapshot(pk)
    answer = _post_raw(alice_api, method, path.format(pk=pk), DEEP)
    assert answer.status_code == 400, answer.content[:200]
    assert answer.json()["error"] in ("parse_error", "invalid")
    assert snapshot(pk) == before
    assert WebhookSubscription.objects.count() == 1
    assert not Booking.objects.exists() and not CalendarDay.objects.exists()


def test_a_deeply_nested_value_inside_a_valid_object_is_a_400_too(alice_api):
    # The same through a field, and with an Idempotency-Key (whose fingerprint does handle RecursionError).
    body = f'{{"url": "{HOOK}", "event_types": ["booking.created"], "description": {DEEP}}}'
    answer = _post_raw(alice_api, "post", "/webhook-subscriptions", body, HTTP_IDEMPOTENCY_KEY="deep-1")
    assert answer.status_code == 400, answer.content[:200]
    assert not WebhookSubscription.objects.exists()


# --- 3. platform_metadata nested within the parser's limit crashes the save -----------------------------
#
# 900 levels parse (so the parser fix above does not cover it), pass ``metadata_storable`` (which checks
# NULs, surrogates and size, not depth), then the model's save re-encodes the JSON and hits RecursionError.


@pytest.mark.parametrize("method", ["post", "patch"])
def test_deep_platform_metadata_is_a_400_naming_the_field_not_a_500(alice_api, unit, method):
    deep = "[" * 50 + "]" * 50  # parses (a body nested past the parser is the test above), then is refused
    if method == "post":
        path = "/channel-connections"
        body = (
            f'{{"unit": {unit.pk}, "platform_type": "airbnb", "platform_listing_id": "AIR-9", '
            f'"platform_metadata": {{"x": {deep}}}}}'
        )
    else:
        created = alice_api.post(
            "/channel-connections",
            {"unit": unit.pk, "platform_type": "airbnb", "platform_listing_id": "AIR-9"},
            format="json",
        )
        assert created.status_code == 201, created.json()
        path = f"/channel-connections/{created.json()['id']}"
        body = f'{{"platform_metadata": {{"x": {deep}}}}}'
    before = list(ChannelConnection.objects.values())
    answer = _post_raw(alice_api, method, path, body)
    assert answer.status_code == 400, answer.content[:200]
    assert "platform_metadata" in answer.json().get("fields", {}), answer.json()
    assert list(ChannelConnection.objects.values()) == before


# --- 4. A receiver's 2xx answer with a NUL byte: re-sent forever on Postgres ----------------------------
#
# The excerpt is decoded with errors="replace", which keeps U+0000. Production runs on Postgres only
# (config/settings.py refuses any other DATABASE_URL), whose text columns refuse NUL: the delivery-log
# insert raises *after* the receiver accepted the event, before the cursor moves. The run dies unlogged,
# the relay's sweep starts it again, and the same event goes out again and again while every later event
# waits. The project strips NULs before Postgres elsewhere (pms_core/booking_details.py,
# adapters/webhook_input.py); the delivery log does not. On SQLite the NUL is visible in the stored row;
# with DATABASE_URL on Postgres this test dies inside subscription_deliver with "DataError: PostgreSQL text
# fields cannot contain NUL (0x00) bytes" after the POST went out (checked during the review).


@responses.activate
def test_a_receivers_answer_with_a_nul_byte_is_logged_in_a_form_postgres_stores(org_a, subscribe):
    subscription = subscribe(HOOK)
    event_record(organization_id=org_a.pk, event_type="booking.created", data={"object": {}})
    responses.post(HOOK, body=b"accepted\x00\x00")
    assert subscription_deliver(subscription_id=subscription.pk).delivered == 1
    log = WebhookDelivery.objects.get(subscription=subscription)
    assert log.succeeded
    assert "\x00" not in log.response_excerpt, repr(log.response_excerpt)
    assert "\x00" not in log.error


# --- 5. A replay reaching before the retention window is 202 and silently short ------------------------
#
# relay.events_prune deletes events older than EVENT_RETENTION. subscription_replay only checks
# ``since <= current``: asked to replay from a sequence whose events are gone, it answers
# ``202 {"since": 0, "until": 3}`` as if it covered them all, and the integrator never learns that 1 and 2
# will not come.


@responses.activate
def test_a_replay_from_before_the_retained_events_is_refused_with_a_reason(alice_api, org_a):
    responses.post(HOOK, body="ok")
    pk = create(alice_api, event_types=["booking.created"]).json()["id"]
    for _ in range(3):
        event_record(organization_id=org_a.pk, event_type="booking.created", data={"object": {}})
    assert subscription_deliver(subscription_id=pk).delivered == 3
    old = timezone.now() - EVENT_RETENTION - dt.timedelta(days=1)
    WebhookEvent.objects.filter(sequence__in=[1, 2]).update(created_at=old)
    assert events_prune() == 2
    before = snapshot(pk)
    answer = alice_api.post(f"/webhook-subscriptions/{pk}/replay?since=1")
    assert answer.status_code in (400, 409), answer.json()
    assert "since" in json.dumps(answer.json()) and "oldest kept is 3" in json.dumps(answer.json())
    assert snapshot(pk) == before
    # since=0 asks for everything kept (docs/integrators.md), and gets it.
    answer = alice_api.post(f"/webhook-subscriptions/{pk}/replay?since=0")
    assert answer.status_code == 202 and answer.json() == {"since": 0, "until": 3}


# --- 6. The 400 for a private URL tells the caller what an internal name resolves to -------------------
#
# "postgres.internal resolves to a non-public address 10.20.30.40": any API token turns the webhook
# endpoint into a resolver for our internal DNS (and "cannot resolve" vs "non-public" tells which internal
# names exist). The delivery log repeats it for a host that re-resolves (rebinding) later. The refusal
# should say "not a public address", not which one.


def test_a_refused_url_does_not_reveal_what_an_internal_name_resolves_to(alice_api, monkeypatch):
    monkeypatch.setattr(safe_http, "resolve", lambda host, port: ["10.20.30.40"])
    answer = create(alice_api, url="http://postgres.internal:5432/")
    assert answer.status_code == 400
    assert "url" in answer.json()["fields"]
    assert "10.20.30.40" not in answer.content.decode()
    assert not WebhookSubscription.objects.exists()


@responses.activate
def test_the_delivery_log_does_not_reveal_what_a_rebound_name_resolves_to(alice_api, org_a, monkeypatch):
    pk = create(alice_api).json()["id"]
    event_record(organization_id=org_a.pk, event_type="booking.created", data={"object": {}})
    monkeypatch.setattr(safe_http, "resolve", lambda host, port: ["172.17.0.5"])
    subscription_deliver(subscription_id=pk)
    log = alice_api.get(f"/webhook-subscriptions/{pk}/deliveries").json()["results"]
    assert log and not log[0]["succeeded"]
    assert "172.17.0.5" not in json.dumps(log)


# --- 7. No limit on subscriptions: one event fans out to any number of POSTs ---------------------------
#
# Nothing bounds how many subscriptions an organization registers, nor refuses the same URL twice. One API
# token can register thousands of subscriptions to a third party's URL: every booking change then sends
# that many signed POSTs from our addresses (a reflected flood) and queues that many delivery runs on the
# shared "webhooks" queue, delaying every other tenant's events. Stripe allows 16 endpoints; 100 is generous.

SUBSCRIPTION_CAP = 100


def test_an_organization_cannot_register_an_unbounded_number_of_subscriptions(alice_api):
    statuses = [create(alice_api, url=HOOK).status_code for _ in range(SUBSCRIPTION_CAP + 1)]
    assert any(400 <= code < 500 for code in statuses), f"{statuses.count(201)} subscriptions to one URL accepted"
    assert WebhookSubscription.objects.count() <= SUBSCRIPTION_CAP


# --- 8. A refused token refresh puts the platform's words, unredacted, into webhooks and the API -------
#
# channelmgr/resilience/platform_calls._refresh passes f"token refresh refused: {exc}" to
# connection_mark_needs_attention, which stores ``str(error)`` as last_error and sends it as the
# ``reason`` of a connection.needs_attention event. Every other path goes through
# ``safe_message`` (redacted with the connection's secrets); this one does not, so an OAuth error answer
# that quotes the refresh token (error_description) reaches the integrator's receiver and GET
# /channel-connections/{id}.

REFRESH_TOKEN = "SECRET-refresh-2d8e6b4a0c"


@responses.activate
def test_a_refused_token_refresh_never_sends_the_refresh_token_to_integrators(alice_api, unit):
    from adapters.base import TokenRefreshError
    from channelmgr.resilience import platform_calls
    from channelmgr.services.connections import connection_create

    connection = connection_create(
        organization=unit.property.organization,
        unit=unit,
        platform_type="airbnb",
        platform_listing_id="AIR-7",
        credentials={"access_token": "SECRET-access-7f3a9c1e5b", "refresh_token": REFRESH_TOKEN},
    )
    responses.post(
        re.compile(r".*"),
        status=400,
        json={"error": "invalid_grant", "error_description": f"refresh_token {REFRESH_TOKEN} was revoked"},
    )
    with pytest.raises(TokenRefreshError):
        platform_calls._refresh(connection)
    connection.refresh_from_db()
    assert connection.status == ChannelConnection.Status.NEEDS_ATTENTION
    events = list(WebhookEvent.objects.filter(event_type="connection.needs_attention").values_list("data", flat=True))
    assert events, "the needs-attention event was recorded"
    shown = alice_api.get(f"/channel-connections/{connection.pk}").content.decode()
    assert REFRESH_TOKEN not in shown, "GET /channel-connections/{id} shows it in last_error"
    assert REFRESH_TOKEN not in json.dumps(events), "the connection.needs_attention event carries it"
