"""Who gets the alerts of an organization, what was alerted, and the mails that carried it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from pms_core.models import Organization


class AlertKind(models.TextChoices):
    OVERBOOKING = "overbooking", "Overbooking"
    CONNECTION = "connection", "Connection needs attention"
    UNACKNOWLEDGED = "unacknowledged", "Booking not acknowledged"


class AlertRecipient(models.Model):
    """An address of the organization's choosing, and the kinds of alert it wants."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alert_recipients")
    email = models.EmailField()
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField("active", default=True)
    overbookings = models.BooleanField(default=True, help_text="A booking holds nights another stay holds too.")
    connections = models.BooleanField(
        default=True, help_text="A connection stopped syncing and needs someone (reconnect, re-test, resume)."
    )
    unacknowledged = models.BooleanField(
        "unacknowledged bookings",
        default=True,
        help_text="Booking.com or Expedia still waits for a booking's acknowledgement after 30 minutes.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "email"], name="alert_recipient_once")]
        ordering = ["organization", "email"]

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.name else self.email


# The recipient's flag that subscribes it to each kind.
SUBSCRIPTION_FLAG = {
    AlertKind.OVERBOOKING: "overbookings",
    AlertKind.CONNECTION: "connections",
    AlertKind.UNACKNOWLEDGED: "unacknowledged",
}


class AlertMail(models.Model):
    """One e-mail: the first alert of a kind at once, or the digest of the ones held in its window."""

    class Status(models.TextChoices):
        SENDING = "sending", "sending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed (its alerts go in the next mail)"
        NO_RECIPIENTS = "no_recipients", "not sent: the organization chose no recipient for this kind"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alert_mails")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SENDING)
    # When its alerts were claimed: a grouping window starts here.
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.TextField(blank=True)
    subject = models.CharField(max_length=300)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "kind", "created_at"], name="alert_mail_window_idx"),
            # ``alert_mails_unstick`` every minute, and the hourly purge.
            models.Index(fields=["status", "created_at"], name="alert_mail_status_idx"),
        ]
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.subject


class Alert(models.Model):
    """One thing staff must hear of. ``mail`` is null until a mail claims it.

    ``key`` names what it is about where a check could find it twice (a pending acknowledgement seen by
    every sweep); alerts that a signal records once each leave it empty."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    key = models.CharField(max_length=200, blank=True)
    summary = models.CharField(max_length=300)
    details = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)  # a path on this site, e.g. the booking's admin page
    created_at = models.DateTimeField()
    mail = models.ForeignKey(AlertMail, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "key"], condition=~Q(key=""), name="alert_once_per_key"
            )
        ]
        indexes = [models.Index(fields=["organization", "kind", "mail"], name="alert_pending_idx")]
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.summary
