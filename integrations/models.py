"""Integrators' webhooks: subscriptions, the events (an outbox), and every delivery attempt."""

from __future__ import annotations

from django.db import models

from channelmgr.crypto import EncryptedTextField
from integrations.events import EVENT_TYPES
from pms_core.models import Organization


class EventSequence(models.Model):
    """The last sequence number given to one organization's events; locked to give the next one."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.organization_id}: {self.last}"


class WebhookEvent(models.Model):
    """One event as integrators receive it, recorded in the transaction of the change (the outbox)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_events")
    sequence = models.PositiveBigIntegerField()
    event_type = models.CharField(max_length=40, choices=[(t, t) for t in EVENT_TYPES])
    occurred_at = models.DateTimeField()
    # {"object": <as the API shows it>, ...}: a snapshot at the change, replays send it unchanged.
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Outbox bookkeeping (pms_core.outbox.outbox_hand_over): set once the broker took it.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "sequence"], name="webhook_event_sequence_unique")
        ]
        indexes = [
            models.Index(fields=["dispatched_at", "created_at"], name="webhook_event_undispatched"),
            models.Index(fields=["created_at"], name="webhook_event_created_idx"),  # the prune, every 5 s
        ]

    def __str__(self):
        return f"{self.event_type} #{self.sequence}"


class WebhookSubscription(models.Model):
    """Where an organization wants its events, and how far delivery has got (``delivered_sequence``).

    Events go out one at a time in sequence order: the next one waits until the one before it was
    delivered, so a receiver sees sequence numbers increase even across retries.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    url = models.URLField(max_length=2000)
    event_types = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    secret = EncryptedTextField()
    # After a rotation the old secret signs too (a second v1=) until it expires.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Every event of this organization up to here was delivered or is not one this subscription takes.
    delivered_sequence = models.PositiveBigIntegerField(default=0)
    failed_attempts = models.PositiveIntegerField(default=0)  # of the event at the head, in a row
    failing_since = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # One delivery run at a time: a run holds the subscription until then (a crashed run lets go).
    delivering_until = models.DateTimeField(null=True, blank=True)
    # A replay re-sends up to here; attempts for these events are marked as replays.
    replay_until = models.PositiveBigIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["active", "next_attempt_at"], name="webhook_subscription_due")]

    def __str__(self):
        return self.url


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one subscription: the delivery log."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveIntegerField()
    replay = models.BooleanField(default=False)
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_recent")]

    def __str__(self):
        return f"{self.event} -> {self.subscription_id} ({self.status_code or self.error[:40]})"
