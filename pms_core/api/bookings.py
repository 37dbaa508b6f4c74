"""Bookings and blocks of the caller's organization: list, create, read, modify, cancel.

A clash answers 409 naming the stay that holds the nights (config/api_errors.py). Bookings that came
from a platform are read-only here: the platform owns them, and changing our copy would not change theirs.
"""

from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

import money
from pms_core.api.base import ApiView, Conflict, OwnedField, RefuseReadOnly
from pms_core.api.money_fields import AmountField, exact_amount
from pms_core.api.schema import MAX_ID, error
from pms_core.api.units import units_of
from pms_core.models import Booking, BookingTransition
from pms_core.services import booking_cancel, booking_create, booking_modify
from pms_core.services.overbookings import (
    NOT_SHOWN,
    ChangedSinceShown,
    NotOverbooked,
    Resolution,
    overbooking_resolve,
)

REFUSED = (
    "id",
    "status",
    "source",
    "channel_booking_id",
    "source_version",
    "clashes_with",
    "overbooking_accepted_at",
    "nights",
    "created_at",
    "updated_at",
    *Booking.PLATFORM_DETAIL_FIELDS,  # what a platform told us: only an import sets them
)
CLASH = {409: error(409, "The nights are taken: `clash` names the stay or block that holds them.")}


def bookings_of(organization_id: int | None):
    if not organization_id:
        return Booking.objects.none()
    return Booking.objects.filter(unit__property__organization_id=organization_id)


class BookingOutputSerializer(serializers.ModelSerializer):
    nights = serializers.IntegerField(read_only=True)
    total_amount = AmountField(currency_of=lambda booking, _context: booking.currency, read_only=True, allow_null=True)
    taxes_amount = AmountField(
        currency_of=lambda booking, _context: booking.currency,
        max_digits=15,
        read_only=True,
        allow_null=True,
        help_text="Taxes the platform reported for the stay, in `currency`.",
    )
    fees_amount = AmountField(
        currency_of=lambda booking, _context: booking.currency,
        max_digits=15,
        read_only=True,
        allow_null=True,
        help_text="Fees the platform reported (service, resort), in `currency`.",
    )
    # Not format "email" in the schema: it is often blank (blocks, platform bookings without one).
    guest_email = serializers.CharField(read_only=True)
    special_requests = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="The guest's requests as the platform sent them."
    )
    # Blank when the platform does not say (the schema lists "" beside the two models).
    payment_model = serializers.ChoiceField(
        choices=Booking.PaymentModel.choices,
        allow_blank=True,
        read_only=True,
        help_text="Who takes the guest's money: the platform or the property.",
    )

    class Meta:
        model = Booking
        fields = [
            "id",
            "unit",
            "kind",
            "status",
            "check_in",
            "check_out",
            "nights",
            "guest_name",
            "guest_email",
            "guest_phone",
            "guests_count",
            "total_amount",
            "currency",
            "note",
            "source",
            "channel_booking_id",
            *Booking.PLATFORM_DETAIL_FIELDS,
            "clashes_with",
            "overbooking_accepted_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        # Set by an import from the platform; null or blank where its format says nothing.
        extra_kwargs = {
            "adults": {"help_text": "Guests by type, where the platform says."},
            "sub_channel": {"help_text": "The brand it was sold on, e.g. Hotels.com through Expedia."},
            "platform_status": {"help_text": "The platform's own status word, e.g. `Commit` or `accepted`."},
        }


class BookingDetailsSerializer(RefuseReadOnly, serializers.Serializer):
    """The guest and amount fields shared by create and modify."""

    guest_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    guest_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    guest_phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    guests_count = serializers.IntegerField(min_value=1, max_value=100, required=False)
    total_amount = AmountField(
        max_digits=15,
        min_value=0,
        required=False,
        allow_null=True,
        help_text="With at most the currency's ISO 4217 decimals (JPY none, EUR 2, KWD 3).",
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


class BookingCreateInputSerializer(BookingDetailsSerializer):
    unit = OwnedField(scope=units_of, help_text="A unit of your organization.")
    kind = serializers.ChoiceField(choices=Booking.Kind.choices, default=Booking.Kind.RESERVATION)
    check_in = serializers.DateField()
    check_out = serializers.DateField(help_text="The day the guest leaves (not a night).")
    currency = serializers.CharField(min_length=3, max_length=3, required=False, help_text="Default: the property's.")

    class Meta:
        refused = REFUSED

    def validate_currency(self, value):
        if not re.fullmatch(r"[A-Z]{3}", value) or not money.is_currency(value):
            raise serializers.ValidationError("Three upper-case letters (ISO 4217).")
        return value

    def validate(self, attrs):
        currency = attrs.get("currency") or attrs["unit"].property.currency
        if attrs.get("total_amount") is not None:
            attrs["total_amount"] = exact_amount(attrs["total_amount"], currency, field="total_amount")
        return attrs


class BookingModifyInputSerializer(BookingDetailsSerializer):
    check_in = serializers.DateField(required=False)
    check_out = serializers.DateField(required=False)

    class Meta:
        refused = (*REFUSED, "unit", "kind", "currency")


class BookingFilterSerializer(serializers.Serializer):
    unit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    status = serializers.ChoiceField(choices=Booking.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=Booking.Kind.choices, required=False)
    source = serializers.CharField(required=False, max_length=32, help_text="direct or a platform slug.")
    channel_booking_id = serializers.CharField(required=False, max_length=128)
    start = serializers.DateField(required=False, help_text="Only stays with a night on or after this date.")
    end = serializers.DateField(required=False, help_text="Only stays with a night before this date.")


def _filtered(queryset, query: dict):
    for name in ("unit", "status", "kind", "source", "channel_booking_id"):
        if name in query:
            queryset = queryset.filter(**{name if name != "unit" else "unit_id": query[name]})
    if "start" in query:
        queryset = queryset.filter(check_out__gt=query["start"])
    if "end" in query:
        queryset = queryset.filter(check_in__lt=query["end"])
    return queryset


class BookingListCreateApi(ApiView):
    @extend_schema(
        operation_id="bookings_list", parameters=[BookingFilterSerializer], responses=BookingOutputSerializer(many=True)
    )
    def get(self, request):
        query = self.validated(BookingFilterSerializer, data=request.query_params)
        bookings = _filtered(bookings_of(self.organization_id), query).order_by("-check_in", "-id")
        return self.paginated(bookings, BookingOutputSerializer)

    @extend_schema(
        operation_id="bookings_create",
        request=BookingCreateInputSerializer,
        responses={201: BookingOutputSerializer, **CLASH},
    )
    def post(self, request):
        data = dict(self.validated(BookingCreateInputSerializer))
        booking = booking_create(**data, actor=api_actor(request))
        return Response(BookingOutputSerializer(booking).data, status=status.HTTP_201_CREATED)


def _direct(booking: Booking) -> Booking:
    if booking.source != Booking.DIRECT:
        raise Conflict(f"This booking belongs to {booking.source}: change or cancel it there.")
    return booking


class BookingDetailApi(ApiView):
    @extend_schema(operation_id="bookings_retrieve", responses=BookingOutputSerializer)
    def get(self, request, id):
        return Response(BookingOutputSerializer(self.owned(bookings_of(self.organization_id), id)).data)

    @extend_schema(
        operation_id="bookings_modify",
        request=BookingModifyInputSerializer,
        responses={200: BookingOutputSerializer, **CLASH},
        description="Change dates or guest details. 409 when the new nights are taken, when the booking is "
        "cancelled, or when it came from a platform.",
    )
    def patch(self, request, id):
        booking = _direct(self.owned(bookings_of(self.organization_id), id))
        data = self.validated(BookingModifyInputSerializer)
        if data.get("total_amount") is not None:
            data["total_amount"] = exact_amount(
                data["total_amount"], booking.currency or booking.unit.property.currency, field="total_amount"
            )
        if booking.status == Booking.Status.CANCELLED:
            raise Conflict("A cancelled booking cannot be modified.")
        return Response(BookingOutputSerializer(booking_modify(booking=booking, **data, actor=api_actor(request))).data)


class BookingCancelApi(ApiView):
    @extend_schema(
        operation_id="bookings_cancel",
        request=None,
        responses={200: BookingOutputSerializer, 409: error(409, "The booking came from a platform.")},
        description="Cancel and release the nights. Cancelling a cancelled booking changes nothing.",
    )
    def post(self, request, id):
        booking = _direct(self.owned(bookings_of(self.organization_id), id))
        return Response(BookingOutputSerializer(booking_cancel(booking=booking, actor=api_actor(request))).data)


def api_actor(request) -> str:
    """Who made a change through the API, for the booking's transitions."""
    return f"api:{request.user.get_username()}"


class BookingResolveInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=Resolution.choices,
        help_text="cancel: cancel the overbooked stay. cancel_other: cancel the stay it clashes with (it is "
        "confirmed if its nights are then free). move: move it to `unit`. accept: keep it knowingly.",
    )
    unit = OwnedField(scope=units_of, required=False, help_text="For move: a free unit of the same property.")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)
    clashes_with = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="The booking's `clashes_with` as you read it; required for cancel_other and accept, which "
        "decide on that clash. If the booking clashes with another stay by now (the platform moved the "
        "guest), the answer is 409 and nothing changes.",
    )
    updated_at = serializers.DateTimeField(
        required=False,
        help_text="The booking's `updated_at` as you read it: if it changed since, the answer is 409 and "
        "nothing changes.",
    )

    def validate(self, attrs):
        if attrs["action"] == Resolution.MOVE and "unit" not in attrs:
            raise serializers.ValidationError({"unit": ["A move needs the unit to move to."]})
        if attrs["action"] in (Resolution.CANCEL_OTHER, Resolution.ACCEPT) and "clashes_with" not in attrs:
            raise serializers.ValidationError(
                {"clashes_with": [f"{attrs['action']} decides on a clash: say which, as you read it."]}
            )
        return attrs


class BookingResolveOutputSerializer(serializers.Serializer):
    booking = BookingOutputSerializer()
    cancelled = BookingOutputSerializer(allow_null=True)
    platform_notice = serializers.CharField(help_text="What staff still have to do on a platform, if anything.")


class BookingTransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = BookingTransition
        fields = ["id", "action", "from_status", "to_status", "actor", "reason", "created_at"]
        read_only_fields = fields


class BookingResolveApi(ApiView):
    @extend_schema(
        operation_id="bookings_resolve",
        request=BookingResolveInputSerializer,
        responses={
            200: BookingResolveOutputSerializer,
            409: error(
                409,
                "The booking is not overbooked, the unit to move to is not free (`clash`), or the booking "
                "changed since you read it (`clashes_with`, `updated_at`).",
            ),
        },
        description="Decide on an overbooked stay. Platform bookings can be decided on too: the answer's "
        "`platform_notice` says what to do on the platform.",
    )
    def post(self, request, id):
        booking = self.owned(bookings_of(self.organization_id), id)
        data = self.validated(BookingResolveInputSerializer)
        unit = data.get("unit")
        if unit is not None and unit.property_id != booking.unit.property_id:
            raise serializers.ValidationError({"unit": ["Must be a unit of the same property."]})
        if unit is not None and unit.pk == booking.unit_id:
            raise serializers.ValidationError({"unit": ["Must be another unit than the booking's."]})
        try:
            outcome = overbooking_resolve(
                booking=booking,
                resolution=data["action"],
                actor=api_actor(request),
                reason=data.get("reason", ""),
                unit=unit,
                shown_updated_at=data.get("updated_at"),
                shown_clash_id=data.get("clashes_with", NOT_SHOWN),
            )
        except (NotOverbooked, ChangedSinceShown) as exc:
            raise Conflict(str(exc)) from exc
        return Response(
            {
                "booking": BookingOutputSerializer(outcome.booking).data,
                "cancelled": BookingOutputSerializer(outcome.cancelled).data if outcome.cancelled else None,
                "platform_notice": outcome.platform_notice,
            }
        )


class BookingTransitionListApi(ApiView):
    @extend_schema(operation_id="bookings_transitions", responses=BookingTransitionSerializer(many=True))
    def get(self, request, id):
        booking = self.owned(bookings_of(self.organization_id), id)
        return self.paginated(booking.transitions.order_by("created_at", "pk"), BookingTransitionSerializer)
