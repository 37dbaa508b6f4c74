from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

import money


def validate_currency(value: str) -> None:
    if not money.is_currency(value):
        raise ValidationError("Not an ISO 4217 currency that prices can be in (three upper-case letters, e.g. EUR).")


class Organization(models.Model):
    """The tenant: every property, connection, booking and API token belongs to exactly one."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class User(AbstractUser):
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )


class Property(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="properties")
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="Europe/Berlin")
    # Decides how many decimals every amount of the property may have (ISO 4217 minor units).
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "properties"

    def __str__(self):
        return self.name


class Unit(models.Model):
    """One rentable listing with an inventory of one. Its defaults apply to every calendar day."""

    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="units")
    name = models.CharField(max_length=200)
    # Three decimal places hold every currency's minor units (KWD has 3); money.exact() refuses more
    # decimals than the property's currency has.
    base_price = models.DecimalField(max_digits=11, decimal_places=3, validators=[MinValueValidator(Decimal("0"))])
    default_min_stay = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    # The longest stay a guest may book arriving on a night; null: no maximum.
    default_max_stay = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    max_guests = models.PositiveSmallIntegerField(default=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(base_price__gte=0), name="unit_base_price_not_negative"),
            models.CheckConstraint(condition=Q(default_min_stay__gte=1), name="unit_min_stay_at_least_one"),
            models.CheckConstraint(
                condition=Q(default_max_stay__isnull=True) | Q(default_max_stay__gte=F("default_min_stay")),
                name="unit_max_stay_not_below_min_stay",
            ),
        ]

    def __str__(self):
        return f"{self.property.name} / {self.name}"


class CalendarDay(models.Model):
    """A day whose values differ from the unit's defaults. Null means "the unit's default"."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="calendar_days")
    date = models.DateField()
    price = models.DecimalField(max_digits=11, decimal_places=3, null=True, blank=True)
    min_stay = models.PositiveSmallIntegerField(null=True, blank=True)
    max_stay = models.PositiveSmallIntegerField(null=True, blank=True)
    closed_to_arrival = models.BooleanField(null=True, blank=True)
    closed_to_departure = models.BooleanField(null=True, blank=True)
    stop_sell = models.BooleanField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["unit", "date"], name="calendar_day_unique_per_unit"),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gte=0), name="calendar_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(min_stay__isnull=True) | Q(min_stay__gte=1), name="calendar_min_stay_at_least_one"
            ),
            models.CheckConstraint(
                condition=Q(max_stay__isnull=True) | Q(max_stay__gte=1), name="calendar_max_stay_at_least_one"
            ),
        ]
        ordering = ["unit", "date"]

    def __str__(self):
        return f"{self.unit_id} {self.date}"


class BookingQuerySet(models.QuerySet):
    def active(self):
        """Stays that hold their nights: confirmed or overbooked (the one definition of "held")."""
        return self.filter(status__in=Booking.ACTIVE_STATUSES)

    def overlapping(self, start: dt.date, end: dt.date):
        """Stays with a night in ``[start, end)``."""
        return self.filter(check_in__lt=end, check_out__gt=start)


class Booking(models.Model):
    class Kind(models.TextChoices):
        RESERVATION = "reservation"
        BLOCK = "block"

    class Status(models.TextChoices):
        CONFIRMED = "confirmed"
        CANCELLED = "cancelled"
        # A platform sold nights we had already sold: kept, shown to staff, never silently dropped.
        OVERBOOKED = "overbooked"

    # A night is held when any active stay or block covers it. An overbooked stay holds its nights too:
    # a guest has them on a platform, so they must stay closed everywhere else.
    ACTIVE_STATUSES = (Status.CONFIRMED, Status.OVERBOOKED)

    class PaymentModel(models.TextChoices):
        PLATFORM_COLLECTS = "platform_collects"  # the platform takes the guest's money and pays out
        PROPERTY_COLLECTS = "property_collects"  # the guest pays the property (at arrival or by card)

    DIRECT = "direct"
    # What a platform told us about the booking beyond the stay (blank or NULL where it said nothing);
    # set together through ``pms_core.booking_details.PlatformDetails``.
    PLATFORM_DETAIL_FIELDS = (
        "taxes_amount",
        "fees_amount",
        "adults",
        "children",
        "infants",
        "special_requests",
        "sub_channel",
        "payment_model",
        "platform_status",
    )

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="bookings")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.RESERVATION)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CONFIRMED)
    check_in = models.DateField()
    check_out = models.DateField()
    guest_name = models.CharField(max_length=200, blank=True)
    guest_email = models.EmailField(blank=True)
    guest_phone = models.CharField(max_length=50, blank=True)
    guests_count = models.PositiveSmallIntegerField(default=1)
    total_amount = models.DecimalField(max_digits=15, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    note = models.CharField(max_length=200, blank=True)
    # Three decimals: a platform may bill in a currency with three minor units (KWD).
    taxes_amount = models.DecimalField(max_digits=15, decimal_places=3, null=True, blank=True)
    fees_amount = models.DecimalField(max_digits=15, decimal_places=3, null=True, blank=True)
    adults = models.PositiveSmallIntegerField(null=True, blank=True)
    children = models.PositiveSmallIntegerField(null=True, blank=True)
    infants = models.PositiveSmallIntegerField(null=True, blank=True)
    special_requests = models.JSONField(default=list, blank=True)  # the guest's requests, one string each
    sub_channel = models.CharField(max_length=64, blank=True)  # the brand it was sold on (Hotels.com via Expedia)
    payment_model = models.CharField(max_length=20, choices=PaymentModel.choices, blank=True)
    platform_status = models.CharField(max_length=64, blank=True)  # the platform's own word, e.g. "Commit"
    source = models.CharField(max_length=32, default=DIRECT, db_index=True)
    # NULL for direct bookings, so uniqueness per source only binds where a platform id exists.
    channel_booking_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    # The platform's version of this booking (revision or last-modified), to ignore stale deliveries.
    source_version = models.CharField(max_length=64, blank=True)
    # For an overbooked stay: the active stay that holds its nights before it.
    clashes_with = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # When an overbooked stay started waiting: the earlier claim gets free nights first.
    overbooked_at = models.DateTimeField(null=True, blank=True)
    # Staff accepted this overbooking knowingly: it keeps holding its nights but waits for no decision.
    overbooking_accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BookingQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "channel_booking_id"],
                condition=Q(channel_booking_id__isnull=False),
                name="booking_channel_id_unique_per_source",
            ),
            models.CheckConstraint(
                condition=Q(check_out__gt=models.F("check_in")), name="booking_check_out_after_check_in"
            ),
            models.CheckConstraint(
                condition=Q(total_amount__isnull=True) | Q(total_amount__gte=0), name="booking_total_not_negative"
            ),
            # The exclusion constraint against overlapping confirmed stays is Postgres-only and lives in
            # migration 0002 (SQLite checks the same inside an IMMEDIATE transaction).
        ]
        indexes = [models.Index(fields=["unit", "status", "check_in", "check_out"], name="booking_unit_stay_idx")]
        ordering = ["-check_in"]

    def __str__(self):
        return f"#{self.pk} {self.kind} {self.check_in}..{self.check_out} ({self.source}, {self.status})"

    @property
    def nights(self) -> int:
        return (self.check_out - self.check_in).days

    def covers(self, night: dt.date) -> bool:
        return self.check_in <= night < self.check_out

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class BookingTransition(models.Model):
    """One change of a booking's status, or a staff decision on an overbooking: who, when and why."""

    class Action(models.TextChoices):
        CREATED = "created"
        OVERBOOKED = "overbooked"  # it clashed when created or moved
        PROMOTED = "promoted"  # its nights became free, so it is confirmed now
        CANCELLED = "cancelled"
        REINSTATED = "reinstated"  # moved off a clash onto free nights
        MOVED = "moved"  # staff moved it to another unit
        ACCEPTED = "accepted"  # staff accepted the overbooking knowingly

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(max_length=16, choices=Action.choices)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    # A staff user's name, "api:<name>", a platform slug for an import, or "system".
    actor = models.CharField(max_length=150)
    # A move's unit of departure: a platform naming that unit's listing afterwards says nothing new.
    moved_from = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"#{self.booking_id} {self.action}: {self.from_status or '-'} -> {self.to_status} by {self.actor}"


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change it describes.

    Handed to the broker on commit (``dispatched_at``); ``relay_outbox`` re-sends what was not.
    Consumers mark ``consumed_at`` with a conditional update, so a second delivery changes nothing.
    """

    class Type(models.TextChoices):
        BOOKING_CONFIRMED = "booking.confirmed"
        # A stay that clashed when it arrived: it holds its nights, but staff must decide.
        BOOKING_OVERBOOKED = "booking.overbooked"
        BOOKING_CANCELLED = "booking.cancelled"
        BOOKING_MODIFIED = "booking.modified"
        PRICING_UPDATED = "pricing.updated"
        AVAILABILITY_UPDATED = "availability.updated"

    event_type = models.CharField(max_length=32, choices=Type.choices)
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="+")
    # The affected nights, half-open. A modify covers both the old and the new stay.
    start = models.DateField()
    end = models.DateField()
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Where the change came from ("direct" or a platform slug): that channel already knows.
    source = models.CharField(max_length=32, default="direct")
    payload = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(dispatched_at__isnull=True), name="outbox_undispatched_idx"
            ),
            # The relay's look for events handed over but never consumed (``outbox_unconsumed``).
            models.Index(fields=["dispatched_at"], condition=Q(consumed_at__isnull=True), name="outbox_unconsumed_idx"),
            models.Index(fields=["correlation_id"], name="outbox_correlation_idx"),  # the staff home's sync lag
            models.Index(fields=["consumed_at"], name="outbox_consumed_idx"),  # the hourly purge
        ]

    def __str__(self):
        return f"{self.event_type} unit {self.unit_id} {self.start}..{self.end}"


class BookingRevision(models.Model):
    """One change of a booking (``pms_core.signals.CHANGES``) with the booking as the API showed it right
    after: the revision feed a polling integrator reads in order and acknowledges (pms_core/revisions.py).

    Written by a receiver of ``booking_changed``, in the change's transaction: no change without its
    revision, no revision of a change that rolled back. Ordered by id, so one booking's revisions come in
    the order its changes committed (a change holds its unit's lock).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="revisions")
    change = models.CharField(max_length=12)
    actor = models.CharField(max_length=150)
    # The booking as ``BookingOutputSerializer`` rendered it after the change (plain JSON).
    snapshot = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The feed (an organization's unacknowledged revisions in order) and the overdue count.
            models.Index(
                fields=["organization", "id"],
                condition=Q(acknowledged_at__isnull=True),
                name="booking_revision_unacked_idx",
            ),
            models.Index(
                fields=["created_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="booking_revision_overdue_idx",
            ),
            models.Index(fields=["acknowledged_at"], name="booking_revision_acked_idx"),  # the hourly purge
        ]

    def __str__(self):
        return f"#{self.pk} booking {self.booking_id} {self.change}"
