"""The OpenAPI schema documents every webhook-subscription endpoint, its status codes and headers, and
what a subscription's URL receives (a callback with the signature header)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/webhook-subscriptions", "get", {"200", "401", "403"}),
        ("/webhook-subscriptions", "post", {"201", "400", "401", "409", "422"}),
        ("/webhook-subscriptions/{id}", "get", {"200", "404"}),
        ("/webhook-subscriptions/{id}", "patch", {"200", "400", "404", "409", "422"}),
        ("/webhook-subscriptions/{id}", "delete", {"204", "404"}),
        ("/webhook-subscriptions/{id}/rotate-secret", "post", {"200", "400", "404"}),
        ("/webhook-subscriptions/{id}/replay", "post", {"202", "400", "404", "409"}),
        ("/webhook-subscriptions/{id}/deliveries", "get", {"200", "404"}),
    ],
)
def test_every_endpoint_and_status_code_is_documented(schema, path, method, codes):
    operation = schema["paths"][path][method]
    assert codes <= set(operation["responses"]), sorted(operation["responses"])
    if method in ("post", "patch"):
        assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}


def test_replay_documents_since(schema):
    parameters = schema["paths"]["/webhook-subscriptions/{id}/replay"]["post"]["parameters"]
    since = next(p for p in parameters if p["name"] == "since")
    assert since["in"] == "query" and since["required"]


def test_the_delivery_and_its_signature_header_are_documented(schema):
    callback = schema["paths"]["/webhook-subscriptions"]["post"]["callbacks"]["event"]
    delivery = callback["{$request.body#/url}"]["post"]
    assert "Webhook-Signature" in delivery["description"] and "300 s" in delivery["description"]
    envelope = schema["components"]["schemas"]["WebhookEnvelope"]
    assert {"id", "type", "sequence", "occurred_at", "data"} <= set(envelope["properties"])
    created = schema["components"]["schemas"]["SubscriptionWithSecret"]
    assert "secret" in created["properties"]
    assert "secret" not in schema["components"]["schemas"]["SubscriptionOutput"]["properties"]
