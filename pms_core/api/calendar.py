"""Set prices and restrictions over ranges (one transaction per request), and block or reopen nights.

Blocks are their own endpoints rather than a ``closed`` flag on a calendar value: a block is a stay
with an id (it can clash, answer 409 and be cancelled), while the values here are per-night settings.
``stop_sell`` closes nights without a block.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from pms_core.api.base import ApiView, OwnedField, RefuseReadOnly
from pms_core.api.bookings import CLASH, BookingOutputSerializer, api_actor
from pms_core.api.money_fields import AmountField, more_than_zero
from pms_core.api.units import units_of
from pms_core.services import calendar_block, calendar_set, calendar_unblock
from pms_core.services.calendar import NIGHT_BOUNDS

VALUE_FIELDS = ("price", "min_stay", "max_stay", "closed_to_arrival", "closed_to_departure", "stop_sell")
# The longest stay a guest may book anywhere (Airbnb's own maximum is 1125 nights).
MAX_VALUES = 500


class RangeSerializer(serializers.Serializer):
    unit = OwnedField(scope=units_of, help_text="A unit of your organization.")
    start = serializers.DateField(help_text="First night.")
    end = serializers.DateField(help_text="The night after the last one (half-open range).")

    def validate(self, attrs):
        nights = (attrs["end"] - attrs["start"]).days
        if nights < 1:
            raise serializers.ValidationError({"end": "end must be after start."})
        if nights > settings.CALENDAR_MAX_DAYS:
            raise serializers.ValidationError({"end": f"At most {settings.CALENDAR_MAX_DAYS} nights."})
        return attrs


class CalendarValueSerializer(RangeSerializer):
    """A field left out is unchanged; ``null`` resets it to the unit's default."""

    price = AmountField(
        validators=[more_than_zero],
        required=False,
        allow_null=True,
        help_text="In the property's currency, with at most its ISO 4217 decimals (JPY none, EUR 2, KWD 3).",
    )
    min_stay = serializers.IntegerField(
        min_value=NIGHT_BOUNDS["min_stay"][0], max_value=NIGHT_BOUNDS["min_stay"][1], required=False, allow_null=True
    )
    max_stay = serializers.IntegerField(
        min_value=NIGHT_BOUNDS["max_stay"][0],
        max_value=NIGHT_BOUNDS["max_stay"][1],
        required=False,
        allow_null=True,
        help_text="The longest stay arriving on these nights; not below their minimum stay. null: the unit's.",
    )
    closed_to_arrival = serializers.BooleanField(required=False, allow_null=True)
    closed_to_departure = serializers.BooleanField(required=False, allow_null=True)
    stop_sell = serializers.BooleanField(required=False, allow_null=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not any(name in attrs for name in VALUE_FIELDS):
            raise serializers.ValidationError({"non_field_errors": f"Set at least one of {', '.join(VALUE_FIELDS)}."})
        low, high = attrs.get("min_stay"), attrs.get("max_stay")
        if low is not None and high is not None and high < low:
            raise serializers.ValidationError({"max_stay": "Must not be below min_stay."})
        return attrs


class CalendarSetApi(ApiView):
    class InputSerializer(RefuseReadOnly, serializers.Serializer):
        values = serializers.ListField(child=CalendarValueSerializer(), min_length=1, max_length=MAX_VALUES)

        class Meta:
            refused = ()

    class OutputSerializer(serializers.Serializer):
        changed_days = serializers.IntegerField(help_text="Days whose stored values changed.")

    @extend_schema(
        operation_id="calendar_set",
        request=InputSerializer,
        responses=OutputSerializer,
        description="All values in one transaction: a bad value fails the whole request with 400, its errors "
        'under `fields.values.<index>.<field>`, e.g. `{"values": {"3": {"price": ["..."]}}}`.',
    )
    def post(self, request):
        values = self.validated(self.InputSerializer)["values"]
        changed = 0
        with transaction.atomic():
            for index, value in enumerate(values):
                fields = {name: value[name] for name in VALUE_FIELDS if name in value}
                try:
                    changed += calendar_set(unit=value["unit"], start=value["start"], end=value["end"], **fields)
                except DjangoValidationError as exc:
                    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
                    raise serializers.ValidationError({"values": {str(index): detail}}) from exc
        return Response({"changed_days": changed})


class CalendarBlockApi(ApiView):
    class InputSerializer(RefuseReadOnly, RangeSerializer):
        note = serializers.CharField(max_length=200, required=False, allow_blank=True)

        class Meta:
            refused = ("id", "status", "source", "kind")

    @extend_schema(
        operation_id="calendar_block",
        request=InputSerializer,
        responses={201: BookingOutputSerializer, **CLASH},
        description="Close `[start, end)` with a block (owner stay, maintenance): a booking of kind `block`. "
        "Cancel it with `POST /bookings/{id}/cancel` or reopen nights with `POST /calendar/unblock`.",
    )
    def post(self, request):
        data = self.validated(self.InputSerializer)
        block = calendar_block(
            unit=data["unit"], start=data["start"], end=data["end"], note=data.get("note", ""), actor=api_actor(request)
        )
        return Response(BookingOutputSerializer(block).data, status=status.HTTP_201_CREATED)


class CalendarUnblockApi(ApiView):
    class OutputSerializer(serializers.Serializer):
        blocks_touched = serializers.IntegerField()

    @extend_schema(
        operation_id="calendar_unblock",
        request=RangeSerializer,
        responses=OutputSerializer,
        description="Reopen `[start, end)` by trimming, splitting or cancelling our own (direct) blocks. "
        "Blocks imported from a platform and guest stays are left alone.",
    )
    def post(self, request):
        data = self.validated(RangeSerializer)
        touched = calendar_unblock(unit=data["unit"], start=data["start"], end=data["end"], actor=api_actor(request))
        return Response({"blocks_touched": touched})
