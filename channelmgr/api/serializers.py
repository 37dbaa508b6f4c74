"""Serializers shared by the connection operations (each operation's own input lives with its view).

Credentials are write-only: a response says whether each one is set (``credentials_set``), never its value.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from adapters.registry import choices as platform_choices
from channelmgr.accounts import redact, secrets_of
from channelmgr.models import CREDENTIAL_FIELDS, ENGINE_FIELDS, ChannelConnection, SyncLog
from channelmgr.price_rules import AMOUNT_LIMIT, PERCENT_LIMITS, PRICE_RULE_FIELDS, Rounding
from channelmgr.services.connections import RATE_LIMIT_BOUNDS, RATE_WINDOW_BOUNDS, metadata_storable
from channelmgr.services.mapping import settings_ignored
from channelmgr.services.oauth import oauth_supported
from pms_core.api.base import OwnedField, RefuseReadOnly
from pms_core.api.schema import MAX_ID
from pms_core.api.units import units_of

# Never set by a request body: ownership, what the sync engine writes, and what the server stamps.
REFUSED = ("id", "organization", *ENGINE_FIELDS, "listing_key", "credentials_set", "created_at", "updated_at")
LIVE_STATUSES = [(value, label) for value, label in ChannelConnection.Status.choices if value != "deleted"]


class PlatformField(serializers.ChoiceField):
    """A platform slug, checked against the registry when the request is validated (like the model's
    callable ``choices``), so a platform registered after start-up is accepted too."""

    def __init__(self, **kwargs):
        super().__init__(choices=platform_choices(), **kwargs)

    def to_internal_value(self, data):
        self.choices = platform_choices()
        return super().to_internal_value(data)


class CredentialsSetSerializer(serializers.Serializer):
    access_token = serializers.BooleanField()
    refresh_token = serializers.BooleanField()
    api_key = serializers.BooleanField()
    username = serializers.BooleanField()
    password = serializers.BooleanField()
    webhook_secret = serializers.BooleanField()
    feed_url = serializers.BooleanField()


class ConnectionOutputSerializer(serializers.ModelSerializer):
    property_id = serializers.IntegerField(source="unit.property_id", read_only=True)
    credentials_set = serializers.SerializerMethodField()
    oauth_start_url = serializers.SerializerMethodField()
    ignored_settings = serializers.SerializerMethodField(
        help_text="PMS settings this platform's push cannot carry: they never reach it (e.g. `closed_to_arrival`)."
    )

    class Meta:
        model = ChannelConnection
        fields = [
            "id",
            "unit",
            "property_id",
            "platform_type",
            "platform_listing_id",
            "platform_metadata",
            "credentials_set",
            "token_expires_at",
            "status",
            "closeouts_only",
            "healthy",
            "last_health_check_at",
            "last_error",
            "last_sync_at",
            "rate_limit",
            "rate_window",
            *PRICE_RULE_FIELDS,
            "oauth_start_url",
            "ignored_settings",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(CredentialsSetSerializer)
    def get_credentials_set(self, connection) -> dict:
        return {name: bool(getattr(connection, name)) for name in CREDENTIAL_FIELDS}

    def get_ignored_settings(self, connection) -> list[str]:
        return [setting.name for setting in settings_ignored(connection.platform_type)]

    def get_oauth_start_url(self, connection) -> str | None:
        """Where a person goes to (re)connect an OAuth platform; null for the others."""
        if not oauth_supported(connection.platform_type):
            return None
        return reverse("connection-oauth-start", kwargs={"id": connection.pk})


class ConnectionWriteSerializer(RefuseReadOnly, serializers.Serializer):
    """The writable fields; credentials left out are kept, an empty string clears one."""

    platform_listing_id = serializers.CharField(max_length=200, help_text="The listing's id on the platform.")
    platform_metadata = serializers.JSONField(
        required=False, help_text="Platform extras, e.g. room_id/rate_plan_id. A feed's URL goes in `feed_url`."
    )
    access_token = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=4096)
    refresh_token = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=4096)
    token_expires_at = serializers.DateTimeField(required=False, allow_null=True)
    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=4096)
    username = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=512)
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=4096, trim_whitespace=False
    )
    webhook_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=4096)
    feed_url = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=2048,
        help_text="An iCal feed's URL (required for a feed). Write-only: it carries its owner's secret token.",
    )
    rate_limit = serializers.IntegerField(
        min_value=RATE_LIMIT_BOUNDS[0], max_value=RATE_LIMIT_BOUNDS[1], required=False, allow_null=True
    )
    rate_window = serializers.FloatField(
        min_value=RATE_WINDOW_BOUNDS[0], max_value=RATE_WINDOW_BOUNDS[1], required=False, allow_null=True
    )
    # The price rule (channelmgr/price_rules.py); refused with a 400 naming the field when it would give
    # a price of zero or less, or above 100x, for one of the unit's prices.
    price_rule_percent = serializers.DecimalField(
        max_digits=8,
        decimal_places=3,
        min_value=PERCENT_LIMITS[0],
        max_value=PERCENT_LIMITS[1],
        required=False,
        allow_null=True,
        help_text="Markup in percent of the PMS price (negative: a discount), e.g. 15 for +15%.",
    )
    price_rule_amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=3,
        min_value=-AMOUNT_LIMIT,
        max_value=AMOUNT_LIMIT,
        required=False,
        allow_null=True,
        help_text="Fixed amount per night in the property's currency, added after the percentage.",
    )
    price_rule_rounding = serializers.ChoiceField(
        choices=Rounding.choices,
        required=False,
        help_text="none; whole: to a whole unit; x9: up to a whole amount ending in 9 (172.50 -> 179); "
        "x99: up to an amount ending in .99 (172.50 -> 172.99).",
    )

    class Meta:
        refused = REFUSED

    def validate_platform_metadata(self, value):
        try:
            metadata_storable(value)  # the service's check, so the admin refuses the same
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["platform_metadata"]) from None
        return value

    def split(self) -> tuple[dict, dict]:
        """(plain fields, credentials) of the validated data."""
        data = dict(self.validated_data)
        credentials = {name: data.pop(name) for name in CREDENTIAL_FIELDS if name in data}
        return data, credentials


class ConnectionCreateInputSerializer(ConnectionWriteSerializer):
    unit = OwnedField(scope=units_of, help_text="A unit of your organization.")
    property_id = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Optional; must be the unit's property."
    )
    platform_type = PlatformField()

    def validate(self, attrs):
        if "property_id" in attrs and attrs["property_id"] != attrs["unit"].property_id:
            raise serializers.ValidationError({"property_id": "Not the unit's property."})
        return attrs


class ConnectionUpdateInputSerializer(ConnectionWriteSerializer):
    """``unit`` and ``platform_type`` may be sent (a PUT of what GET returned) but not changed."""

    unit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    property_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    platform_type = PlatformField(required=False)

    def validate(self, attrs):
        connection = self.context["connection"]
        current = {
            "unit": connection.unit_id,
            "property_id": connection.unit.property_id,
            "platform_type": connection.platform_type,
        }
        changed = {name: "Cannot be changed: create a new connection." for name in current if name in attrs}
        changed = {name: msg for name, msg in changed.items() if attrs[name] != current[name]}
        if changed:
            raise serializers.ValidationError(changed)
        for name in current:
            attrs.pop(name, None)
        return attrs


class SyncLogOutputSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()

    class Meta:
        model = SyncLog
        fields = [
            "id",
            "direction",
            "kind",
            "status",
            "started_at",
            "finished_at",
            "duration_ms",
            "request_count",
            "error",
            "correlation_id",
        ]
        read_only_fields = fields

    def get_error(self, entry) -> str:
        # The engine redacts before writing; this is the second line of defence.
        connection = self.context.get("connection")
        return redact(entry.error, secrets_of(connection)) if connection and entry.error else entry.error
