"""Webhook URLs follow iCal feeds' rules (adapters/safe_http.py): public addresses only, checked when the
subscription is made and again at every delivery, no redirects, the answer capped."""

from __future__ import annotations

import pytest
import responses
from django.conf import settings as django_settings

from adapters import safe_http
from integrations.delivery import MAX_RESPONSE_BYTES, subscription_deliver
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.outbox import event_record
from integrations.subscriptions import SubscriptionError, subscription_create

HOOK = "https://hooks.example.test/in"
PRIVATE = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.0.0.1/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://224.0.0.1/hook",
]


def test_private_urls_are_refused_unless_a_setting_allows_them_and_it_is_off_by_default():
    assert django_settings.INTEGRATIONS_ALLOW_PRIVATE_URLS is False


@pytest.mark.parametrize("url", PRIVATE)
def test_a_private_or_loopback_url_is_refused_at_subscription(org_a, url):
    with pytest.raises(SubscriptionError) as caught:
        subscription_create(organization_id=org_a.pk, url=url, event_types=["booking.created"])
    assert caught.value.field == "url"
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "hooks", "http:///x"]
)
def test_other_schemes_and_urls_without_a_host_are_refused(org_a, url):
    with pytest.raises(SubscriptionError):
        subscription_create(organization_id=org_a.pk, url=url, event_types=["booking.created"])


def test_a_hostname_resolving_to_a_private_address_is_refused(org_a, monkeypatch, caplog):
    """Refused, naming the host but not the address: told to the caller, it would map our internal DNS.
    Our own log has it."""
    monkeypatch.setattr(safe_http, "resolve", lambda host, port: ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(SubscriptionError) as caught:
        subscription_create(organization_id=org_a.pk, url=HOOK, event_types=["booking.created"])
    assert "non-public address" in str(caught.value) and "10.1.2.3" not in str(caught.value)
    assert "10.1.2.3" in caplog.text


@pytest.fixture
def hook(org_a, public_dns):
    subscription, _ = subscription_create(organization_id=org_a.pk, url=HOOK, event_types=["booking.created"])
    event_record(organization_id=org_a.pk, event_type="booking.created", data={"object": {}})
    return subscription


def attempt_of(subscription) -> WebhookDelivery:
    outcome = subscription_deliver(subscription_id=subscription.pk)
    assert outcome.delivered == 0 and outcome.retry_in is not None
    return WebhookDelivery.objects.get(subscription=subscription)


@responses.activate
def test_a_host_that_later_resolves_to_a_private_address_is_refused_at_delivery(hook, monkeypatch):
    monkeypatch.setattr(safe_http, "resolve", lambda host, port: ["192.168.0.7"])
    log = attempt_of(hook)
    assert "non-public address" in log.error and "192.168.0.7" not in log.error and not log.succeeded
    assert len(responses.calls) == 0


@responses.activate
def test_a_redirect_to_a_private_address_is_not_followed(hook):
    responses.post(HOOK, status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    log = attempt_of(hook)
    assert "redirect" in log.error
    assert len(responses.calls) == 1  # the redirect's target was never asked


@responses.activate
def test_an_oversized_answer_is_cut_off_and_counts_as_a_failure(hook):
    responses.post(HOOK, body=b"X" * (MAX_RESPONSE_BYTES + 1), auto_calculate_content_length=False)
    log = attempt_of(hook)
    assert "larger" in log.error and not log.succeeded


@responses.activate
def test_an_oversized_declared_length_is_refused_before_reading(hook):
    responses.post(HOOK, body=b"ok", headers={"Content-Length": str(MAX_RESPONSE_BYTES + 1)})
    assert "larger" in attempt_of(hook).error


def test_a_connection_that_lands_on_loopback_is_refused(org_a, public_dns, receiver):
    # DNS said public, the socket says loopback: a rebinding attack between the check and the connect.
    url = receiver.url.replace("127.0.0.1", "localhost")
    subscription, receiver.secret = subscription_create(
        organization_id=org_a.pk, url=url, event_types=["booking.created"]
    )
    event_record(organization_id=org_a.pk, event_type="booking.created", data={"object": {}})
    assert "connected to a non-public address" in attempt_of(subscription).error
    assert receiver.received == []


@responses.activate
def test_a_public_receiver_gets_the_event(hook):
    responses.post(HOOK, body=b"thanks")
    assert subscription_deliver(subscription_id=hook.pk).delivered == 1
    assert WebhookDelivery.objects.get().response_excerpt == "thanks"


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/hook",  # urlsplit: "Invalid IPv6 URL"
        "http://[hooks.example.test]/hook",
        "http://" + "a" * 64 + ".example.test/hook",  # a DNS label over 63 characters: the idna codec fails
        "http://hooks..example.test/hook",
    ],
)
def test_a_malformed_url_is_refused_naming_the_field_not_a_crash(org_a, url):
    with pytest.raises(SubscriptionError) as caught:
        subscription_create(organization_id=org_a.pk, url=url, event_types=["booking.created"])
    assert caught.value.field == "url"
    assert WebhookSubscription.objects.count() == 0
