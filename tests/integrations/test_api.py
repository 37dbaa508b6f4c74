"""The webhook-subscriptions API: the secret shown once, tenancy, rotation, replay, the delivery log,
and fuzzed input that never gets a 5xx nor writes anything when refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.delivery import subscription_deliver
from integrations.events import EVENT_TYPES
from integrations.models import WebhookSubscription
from integrations.outbox import event_record

HOOK = "https://hooks.example.test/in"
pytestmark = pytest.mark.usefixtures("public_dns")


def create(api, url=HOOK, event_types=("booking.created",), **extra):
    return api.post("/webhook-subscriptions", {"url": url, "event_types": list(event_types), **extra}, format="json")


def test_the_secret_is_shown_at_creation_and_never_again(alice_api):
    answer = create(alice_api)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["secret"].startswith("whsec_") and body["active"] is True
    shown = alice_api.get(f"/webhook-subscriptions/{body['id']}").json()
    assert "secret" not in shown and shown["url"] == HOOK
    listed = alice_api.get("/webhook-subscriptions").json()["results"]
    assert [s["id"] for s in listed] == [body["id"]] and "secret" not in listed[0]
    assert WebhookSubscription.objects.get().secret == body["secret"]


def test_the_secret_is_stored_encrypted(alice_api):
    from django.db import connection

    secret = create(alice_api).json()["secret"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_webhooksubscription")
        (stored,) = cursor.fetchone()
    assert secret not in stored


def test_another_organization_sees_none_of_it(alice_api, charlie_api):
    pk = create(alice_api).json()["id"]
    assert charlie_api.get("/webhook-subscriptions").json()["results"] == []
    for method, path in [
        ("get", f"/webhook-subscriptions/{pk}"),
        ("patch", f"/webhook-subscriptions/{pk}"),
        ("delete", f"/webhook-subscriptions/{pk}"),
        ("post", f"/webhook-subscriptions/{pk}/rotate-secret"),
        ("post", f"/webhook-subscriptions/{pk}/replay?since=0"),
        ("get", f"/webhook-subscriptions/{pk}/deliveries"),
    ]:
        assert getattr(charlie_api, method)(path, {}, format="json").status_code == 404, (method, path)
    assert WebhookSubscription.objects.get().active


def test_a_teammate_shares_the_organizations_subscriptions(alice_api, bob_api):
    pk = create(alice_api).json()["id"]
    assert bob_api.get(f"/webhook-subscriptions/{pk}").status_code == 200


def test_changing_and_deleting(alice_api):
    pk = create(alice_api).json()["id"]
    answer = alice_api.patch(
        f"/webhook-subscriptions/{pk}", {"event_types": ["booking.cancelled", "sync.failed"]}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["event_types"] == ["booking.cancelled", "sync.failed"]
    refused = alice_api.patch(f"/webhook-subscriptions/{pk}", {"url": "http://10.0.0.1/x"}, format="json")
    assert refused.status_code == 400 and "url" in refused.json()["fields"]
    assert alice_api.patch(f"/webhook-subscriptions/{pk}", {"secret": "mine"}, format="json").status_code == 400
    assert alice_api.delete(f"/webhook-subscriptions/{pk}").status_code == 204
    assert alice_api.get(f"/webhook-subscriptions/{pk}").status_code == 404


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_for_the_grace(alice_api):
    created = create(alice_api).json()
    answer = alice_api.post(
        f"/webhook-subscriptions/{created['id']}/rotate-secret", {"grace_seconds": 600}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["secret"] != created["secret"] and answer.json()["secret_rotating_until"]
    subscription = WebhookSubscription.objects.get()
    assert subscription.previous_secret == created["secret"]
    too_long = alice_api.post(
        f"/webhook-subscriptions/{created['id']}/rotate-secret", {"grace_seconds": 10**9}, format="json"
    )
    assert too_long.status_code == 400


def test_replay_and_the_delivery_log(alice_api, org_a, settings):
    import responses

    pk = create(alice_api).json()["id"]
    for _ in range(3):
        event_record(organization_id=org_a.pk, event_type="booking.created", data={"object": {}})
    with responses.RequestsMock() as http:
        http.post(HOOK, body="ok")
        assert subscription_deliver(subscription_id=pk).delivered == 3
    answer = alice_api.post(f"/webhook-subscriptions/{pk}/replay?since=1")
    assert answer.status_code == 202 and answer.json() == {"since": 1, "until": 3}
    assert alice_api.post(f"/webhook-subscriptions/{pk}/replay?since=4").status_code == 400
    for bad in ("", "?since=-1", "?since=x", "?since=99999999999999999999999"):
        assert alice_api.post(f"/webhook-subscriptions/{pk}/replay{bad}").status_code == 400, bad
    log = alice_api.get(f"/webhook-subscriptions/{pk}/deliveries").json()["results"]
    assert [(d["sequence"], d["status_code"], d["succeeded"]) for d in log] == [
        (3, 200, True),
        (2, 200, True),
        (1, 200, True),
    ]
    assert log[0]["response_excerpt"] == "ok" and log[0]["duration_ms"] is not None


def test_replay_of_an_inactive_subscription_is_a_conflict(alice_api):
    pk = create(alice_api, active=False).json()["id"]
    answer = alice_api.post(f"/webhook-subscriptions/{pk}/replay?since=0")
    assert answer.status_code == 409


def test_unknown_event_types_and_private_urls_are_400s_naming_the_field(alice_api):
    assert "event_types" in create(alice_api, event_types=["booking.exploded"]).json()["fields"]
    assert "event_types" in create(alice_api, event_types=[]).json()["fields"]
    assert "url" in create(alice_api, url="http://127.0.0.1/x").json()["fields"]
    assert WebhookSubscription.objects.count() == 0


urls = st.one_of(
    st.text(max_size=60),
    st.builds(
        "{}://{}{}".format,
        st.sampled_from(["http", "https", "ftp", "file", "", "HTTP", "javascript"]),
        st.sampled_from(["hooks.example.test", "127.0.0.1", "[::1]", "10.0.0.1", "", "a:b@c", "x:99999"]),
        st.text(max_size=20),
    ),
)
event_types = st.one_of(
    st.lists(st.sampled_from(EVENT_TYPES), max_size=12),
    st.lists(st.text(max_size=20), max_size=3),
    st.text(max_size=10),
    st.none(),
    st.integers(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=urls, types=event_types, active=st.one_of(st.booleans(), st.text(max_size=5), st.none()))
def test_fuzzed_subscriptions_are_201_or_400_and_a_400_writes_nothing(alice_api, url, types, active):
    before = WebhookSubscription.objects.count()
    body = {"url": url, "event_types": types}
    if active is not None:
        body["active"] = active
    answer = alice_api.post("/webhook-subscriptions", body, format="json")
    assert answer.status_code in (201, 400), answer.content
    if answer.status_code == 400:
        assert answer.json()["error"] == "invalid"
        assert WebhookSubscription.objects.count() == before
    else:
        assert set(answer.json()["event_types"]) <= set(EVENT_TYPES)
        assert answer.json()["url"].startswith(("http://", "https://", "HTTP://"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
patch_bodies = st.fixed_dictionaries(
    {},
    optional={
        "url": urls,
        "event_types": event_types,
        "active": json_values,
        "description": json_values,
        "secret": json_values,
        "delivered_sequence": json_values,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=patch_bodies)
def test_fuzzed_changes_are_200_or_400_and_a_400_changes_nothing(alice_api, body):
    pk = create(alice_api).json()["id"]
    try:
        before = alice_api.get(f"/webhook-subscriptions/{pk}").json()
        answer = alice_api.patch(f"/webhook-subscriptions/{pk}", body, format="json")
        assert answer.status_code in (200, 400), answer.content
        if answer.status_code == 400:
            assert alice_api.get(f"/webhook-subscriptions/{pk}").json() == before
        else:
            assert set(answer.json()["event_types"]) <= set(EVENT_TYPES)
            assert WebhookSubscription.objects.get(pk=pk).delivered_sequence == before["delivered_sequence"]
    finally:  # the examples share one database, and an organization has at most MAX_SUBSCRIPTIONS
        WebhookSubscription.objects.filter(pk=pk).delete()


def test_a_malformed_url_is_a_400_naming_the_field(alice_api):
    answer = create(alice_api, url="http://[::1/hook")
    assert answer.status_code == 400 and "url" in answer.json()["fields"]
    assert WebhookSubscription.objects.count() == 0
