from __future__ import annotations

from django.db import models
from django.db.models import Q

from adapters import registry
from adapters.base import BookingIdScope
from channelmgr import price_rules
from channelmgr.crypto import EncryptedTextField
from pms_core.models import Organization, Unit

# ``feed_url``: an iCal feed's URL carries its owner's secret token, so it is a credential too.
CREDENTIAL_FIELDS = (
    "access_token",
    "refresh_token",
    "api_key",
    "username",
    "password",
    "webhook_secret",
    "feed_url",
)
# Written by the sync engine, the health check and pause/resume, never by staff or a request body:
# the admin shows them read-only and the API refuses them.
ENGINE_FIELDS = (
    "status",
    "closeouts_only",
    "healthy",
    "last_health_check_at",
    "last_error",
    "last_sync_at",
    "sync_cursor",
    "last_polled_at",
    "pulled_through",
    "last_push_at",
)


def listing_ids_unique(platform_type: str) -> bool:
    """Whether a listing id names one listing on the whole platform, so only one live connection may
    hold it. A platform whose booking ids are unique only per connection (a feed: any number of
    units may read feeds under the same label) has no such rule. An unknown platform is held to it."""
    platform = registry.adapters().get(platform_type)
    return platform is None or platform.booking_id_scope != BookingIdScope.CONNECTION


def listing_key(platform_type: str, listing_id: str, metadata) -> str | None:
    """The ``listing_key`` column: what names one listing on the platform (a Booking.com hotel's room
    type is hotel and room), or None where listing ids need not be unique."""
    if not listing_ids_unique(platform_type):
        return None
    platform = registry.adapters().get(platform_type)
    return platform.listing_key(listing_id, metadata or {}) if platform is not None else listing_id


class ChannelConnection(models.Model):
    """One unit's listing on one platform, with the credentials to reach it."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        NEEDS_ATTENTION = "needs_attention"
        DELETED = "deleted"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="connections")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="connections")
    # The callable, so a new platform folder needs no migration.
    platform_type = models.CharField(max_length=32, choices=registry.choices)
    platform_listing_id = models.CharField(max_length=200)
    # ``platform_listing_id`` (with the room type where the adapter says so: ``listing_key()``) where
    # listing ids are unique on the platform (``listing_ids_unique``), else null; kept by ``save()``.
    # The listing constraint below is on this column, so the database holds the rule without naming a
    # platform (nulls never collide).
    listing_key = models.CharField(max_length=200, null=True, blank=True, editable=False)  # noqa: DJ001
    platform_metadata = models.JSONField(default=dict, blank=True)

    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    api_key = EncryptedTextField(blank=True, default="")
    username = EncryptedTextField(blank=True, default="")
    password = EncryptedTextField(blank=True, default="")
    webhook_secret = EncryptedTextField(blank=True, default="")
    feed_url = EncryptedTextField(blank=True, default="")

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_health_check_at = models.DateTimeField(null=True, blank=True)
    healthy = models.BooleanField(null=True, blank=True)
    # Needs attention because the platform refused one of our values for good (a price, a minimum stay),
    # not the connection itself: until a person resumes it, it still gets the nights booked elsewhere as
    # closed, and nothing else (``receives_pushes``). A refused value must not let a night be sold twice.
    closeouts_only = models.BooleanField(default=False, editable=False)
    # When it last went back to active (a resume, a recovery): a push begun before then was refused for a
    # value a person may since have fixed, so its refusal is not recorded (``channelmgr.sync.push``).
    resumed_at = models.DateTimeField(null=True, blank=True, editable=False)

    # The price rule of this channel (``channelmgr.price_rules``): the PMS price marked up by a percentage
    # and/or a fixed amount per night, then rounded, when it is pushed. Null means no markup.
    price_rule_percent = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    price_rule_amount = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    price_rule_rounding = models.CharField(
        max_length=8, choices=price_rules.Rounding.choices, default=price_rules.Rounding.NONE
    )

    # Per-connection override of the platform's rate limit (requests per window seconds).
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    rate_window = models.FloatField(null=True, blank=True)

    # Sync engine bookkeeping.
    sync_cursor = models.CharField(max_length=500, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)  # the last poll claimed, whatever came of it
    # When the last pull that read everything the platform offered began: the next reads what changed
    # since then (less an overlap), so a poll that failed or stopped part way loses nothing.
    pulled_through = models.DateTimeField(null=True, blank=True, editable=False)
    last_push_at = models.DateTimeField(null=True, blank=True)
    # The sync window's end up to which its nights were marked to push (``channelmgr.sync.window``): the
    # window moves a day each day, and the nights entering it go out then. Null until first looked at.
    window_marked_until = models.DateField(null=True, blank=True, editable=False)
    # An iCal feed that suddenly lost most of its blocks: the removal held back until the next poll
    # sees the same feed again or staff confirm it (``channelmgr.inbound.importer``). Which blocks,
    # why, since when; null when nothing is held.
    ical_hold = models.JSONField(null=True, blank=True, editable=False)
    # A feed's events that echo our own export back (``channelmgr.inbound.importer``: UID -> [start, end]),
    # ignored while they stay in the feed unchanged.
    ical_echoes = models.JSONField(default=dict, blank=True, editable=False)
    # What the last reconcile found (``channelmgr.sync.reconcile``): total, description, error. The staff
    # home shows it; null until a reconcile ran.
    last_reconcile_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_reconcile = models.JSONField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "platform_type"],
                condition=~Q(status="deleted"),
                name="connection_one_per_unit_and_platform",
            ),
            models.UniqueConstraint(
                fields=["platform_type", "listing_key"],
                condition=~Q(status="deleted"),
                name="connection_listing_unique_per_platform",
            ),
        ]
        ordering = ["id"]

    def __str__(self):
        return f"{self.get_platform_type_display()} {self.platform_listing_id} ({self.unit})"

    def save(self, *args, **kwargs):
        self.listing_key = listing_key(self.platform_type, self.platform_listing_id, self.platform_metadata)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"platform_type", "platform_listing_id", "platform_metadata"} & set(
            update_fields
        ):
            kwargs["update_fields"] = {*update_fields, "listing_key"}
        super().save(*args, **kwargs)

    @staticmethod
    def receives_pushes(kind: str, prefix: str = "") -> Q:
        """The connections a push of ``kind`` (a ``DirtyRange.Kind``) goes to: the active ones, and for
        availability also those held to close-outs (``closeouts_only``). ``prefix``: the lookup path to
        the connection (``"connection__"`` from its dirty ranges)."""
        active = Q(**{f"{prefix}status": ChannelConnection.Status.ACTIVE})
        if kind != DirtyRange.Kind.AVAILABILITY:
            return active
        return active | Q(
            **{f"{prefix}status": ChannelConnection.Status.NEEDS_ATTENTION, f"{prefix}closeouts_only": True}
        )

    @staticmethod
    def credentials_work() -> Q:
        """The connections whose credentials the platform takes: the active ones, and those held to
        close-outs (only a value was refused). They are pulled and their tokens kept fresh: a held hotel
        still sells rooms, and its close-outs need a valid token."""
        held = Q(status=ChannelConnection.Status.NEEDS_ATTENTION, closeouts_only=True)
        return Q(status=ChannelConnection.Status.ACTIVE) | held

    def receives(self, kind: str) -> bool:
        """Whether a push of ``kind`` goes to this connection (``receives_pushes``)."""
        return self.status == self.Status.ACTIVE or (
            kind == DirtyRange.Kind.AVAILABILITY and self.status == self.Status.NEEDS_ATTENTION and self.closeouts_only
        )


class SyncLog(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "outbound"
        INBOUND = "inbound"

    class Kind(models.TextChoices):
        AVAILABILITY = "availability"
        PRICING = "pricing"
        BOOKINGS = "bookings"
        FULL = "full"
        HEALTH = "health"

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCESS = "success"
        FAILED = "failed"
        SKIPPED = "skipped"

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="sync_logs")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    kind = models.CharField(max_length=14, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    request_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    correlation_id = models.CharField(max_length=32, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        # The sweep looks for rows left running every 30 s (``sync_logs_end_abandoned``): the few running
        # ones, not every row older than ``STALE_CLAIM``.
        indexes = [
            models.Index(fields=["started_at"], condition=Q(status="running"), name="synclog_running_idx"),
            # A connection's newest logs (its admin page, GET /channel-connections/{id}/sync-logs).
            models.Index(fields=["connection", "-started_at"], name="synclog_connection_recent_idx"),
            # The staff home's sync lag: pushes done in the last hour, newest first.
            models.Index(
                fields=["-finished_at"],
                condition=Q(direction="outbound", status="success"),
                name="synclog_push_done_idx",
            ),
        ]

    def __str__(self):
        return f"{self.direction} {self.kind} {self.status}"


class InboundEvent(models.Model):
    """One webhook delivery, stored before it is answered. Unique per (platform, event key)."""

    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSED = "processed"
        IGNORED = "ignored"
        FAILED = "failed"

    platform = models.CharField(max_length=32, choices=registry.choices)
    event_key = models.CharField(max_length=255)
    connection = models.ForeignKey(
        ChannelConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_events"
    )
    kind = models.CharField(max_length=32, blank=True)
    channel_booking_id = models.CharField(max_length=128, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When its import was handed to the broker. The webhook was answered 2xx, so the platform never sends
    # it again: one the broker refused is re-sent by the scheduler (``dispatch.inbound_relay_step``).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    correlation_id = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "event_key"], name="inbound_event_unique_per_platform")
        ]
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"{self.platform} {self.event_key}"


class DirtyRange(models.Model):
    """Nights of one connection whose current state has to be pushed. Merged and claimed by a push."""

    class Kind(models.TextChoices):
        AVAILABILITY = "availability"  # open/closed and restrictions
        PRICING = "pricing"

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="dirty_ranges")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    start = models.DateField()
    end = models.DateField()
    # The change that made these nights dirty, so the push's logs and SyncLog carry it on.
    correlation_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_by = models.CharField(max_length=32, blank=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Not to be pushed before this: the push once more after one that failed in flight, or that another
    # push of the connection overlapped (see push.py).
    not_before = models.DateTimeField(null=True, blank=True)
    # A new or moved stay closed these nights: pushed on the leading edge, with no debounce (push.py).
    closes = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["connection", "claimed_by"], name="dirty_range_claim_idx")]

    def __str__(self):
        return f"{self.connection_id} {self.start}..{self.end}"

    @staticmethod
    def pushed() -> Q:
        """The dirty ranges a push would send: their connection receives pushes of their kind
        (``ChannelConnection.receives_pushes``). The others (a held connection's prices) wait for a person."""
        receiving = Q()
        for kind in DirtyRange.Kind.values:
            receiving |= Q(kind=kind) & ChannelConnection.receives_pushes(kind, prefix="connection__")
        return receiving


class TaskAttempt(models.Model):
    """Attempts per message, kept in the database so a poison message is capped even when a killed
    worker's redelivery bypasses dramatiq's own retry count (dramatiq #213)."""

    message_id = models.CharField(max_length=64, unique=True)
    actor_name = models.CharField(max_length=100)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["updated_at"], name="taskattempt_updated_idx")]  # the hourly purge

    def __str__(self):
        return f"{self.actor_name} {self.message_id} x{self.attempts}"


class IcalExport(models.Model):
    """The unguessable URL of one unit's iCal export (``/ical/<token>.ics``).

    Rotating it (``channelmgr.services.ical_export.ical_export_rotate``) keeps the token it replaced
    answering for ``ICAL_EXPORT_GRACE_HOURS`` after ``rotated_at``, so the platforms importing the old URL
    can be given the new one without a gap."""

    unit = models.OneToOneField(Unit, on_delete=models.CASCADE, related_name="ical_export")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    previous_token = models.CharField(max_length=64, blank=True, db_index=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"iCal export of unit {self.unit_id}"


class BookingAcknowledgement(models.Model):
    """A booking a platform wants acknowledged (``Capability.ACKNOWLEDGE``: Booking.com, Expedia), and
    whether it has been. Booking.com falls back to e-mailing the property after 30 minutes without one,
    so staff see the pending ones (``channelmgr.inbound.acknowledgements``). A new delivery of the same
    booking (a modification) makes it pending again."""

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="acknowledgements")
    booking = models.ForeignKey("pms_core.Booking", on_delete=models.CASCADE, related_name="acknowledgements")
    received_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "booking"], name="acknowledgement_one_per_booking")
        ]
        indexes = [models.Index(fields=["acknowledged_at", "received_at"], name="acknowledgement_pending_idx")]

    def __str__(self):
        state = "acknowledged" if self.acknowledged_at else "pending"
        return f"booking {self.booking_id} on connection {self.connection_id}: {state}"
