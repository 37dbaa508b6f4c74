"""Units of the caller's organization, and the calendar of one unit (one entry per night)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from pms_core.api.base import ApiView, OwnedField, RefuseReadOnly
from pms_core.api.money_fields import AmountField, more_than_zero
from pms_core.api.properties import properties_of
from pms_core.api.schema import MAX_ID
from pms_core.models import Unit
from pms_core.selectors import calendar_nights
from pms_core.services.catalog import UNIT_BOUNDS, unit_create, unit_update

REFUSED = ("id", "organization", "created_at", "currency")


def units_of(organization_id: int | None):
    if not organization_id:
        return Unit.objects.none()
    return Unit.objects.filter(property__organization_id=organization_id).select_related("property")


def _unit_currency(unit, _context) -> str:
    return unit.property.currency


class UnitOutputSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="property.currency", read_only=True)
    base_price = AmountField(currency_of=_unit_currency, read_only=True)

    class Meta:
        model = Unit
        fields = [
            "id",
            "property",
            "name",
            "base_price",
            "currency",
            "default_min_stay",
            "default_max_stay",
            "max_guests",
            "created_at",
        ]
        read_only_fields = fields


def _bounds(field: str) -> dict:
    low, high = UNIT_BOUNDS[field]  # the service's, so the API and the admin take the same
    return {"min_value": low, "max_value": high}


class UnitUpdateInputSerializer(RefuseReadOnly, serializers.Serializer):
    name = serializers.CharField(max_length=200)
    base_price = AmountField(
        validators=[more_than_zero],
        help_text="In the property's currency, with at most its ISO 4217 decimals (JPY none, KWD 3).",
    )
    default_min_stay = serializers.IntegerField(**_bounds("default_min_stay"), default=1)
    default_max_stay = serializers.IntegerField(
        **_bounds("default_max_stay"),
        required=False,
        allow_null=True,
        help_text="The longest stay a guest may book; null: no maximum. Not below default_min_stay.",
    )
    max_guests = serializers.IntegerField(**_bounds("max_guests"), default=4)

    class Meta:
        refused = (*REFUSED, "property")


class UnitCreateInputSerializer(UnitUpdateInputSerializer):
    property = OwnedField(scope=properties_of, help_text="A property of your organization.")

    class Meta:
        refused = REFUSED


class UnitFilterSerializer(serializers.Serializer):
    property = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class UnitListCreateApi(ApiView):
    @extend_schema(
        operation_id="units_list", parameters=[UnitFilterSerializer], responses=UnitOutputSerializer(many=True)
    )
    def get(self, request):
        query = self.validated(UnitFilterSerializer, data=request.query_params)
        units = units_of(self.organization_id).order_by("id")
        if "property" in query:
            units = units.filter(property_id=query["property"])
        return self.paginated(units, UnitOutputSerializer)

    @extend_schema(
        operation_id="units_create", request=UnitCreateInputSerializer, responses={201: UnitOutputSerializer}
    )
    def post(self, request):
        data = self.validated(UnitCreateInputSerializer)
        unit = unit_create(prop=data.pop("property"), **data)
        return Response(UnitOutputSerializer(unit).data, status=status.HTTP_201_CREATED)


class UnitDetailApi(ApiView):
    def _object(self, pk) -> Unit:
        return self.owned(units_of(self.organization_id), pk)

    @extend_schema(operation_id="units_retrieve", responses=UnitOutputSerializer)
    def get(self, request, id):
        return Response(UnitOutputSerializer(self._object(id)).data)

    @extend_schema(operation_id="units_update", request=UnitUpdateInputSerializer, responses=UnitOutputSerializer)
    def put(self, request, id):
        unit = self._object(id)
        return Response(UnitOutputSerializer(unit_update(unit=unit, **self.validated(UnitUpdateInputSerializer))).data)

    @extend_schema(
        operation_id="units_partial_update", request=UnitUpdateInputSerializer, responses=UnitOutputSerializer
    )
    def patch(self, request, id):
        unit = self._object(id)
        data = self.validated(UnitUpdateInputSerializer, partial=True)
        return Response(UnitOutputSerializer(unit_update(unit=unit, **data)).data)


class ClosedBySerializer(serializers.Serializer):
    booking = serializers.IntegerField(source="pk")
    kind = serializers.CharField()
    status = serializers.CharField(help_text="confirmed, or overbooked: an overbooked stay holds its nights too.")
    source = serializers.CharField()


class NightSerializer(serializers.Serializer):
    date = serializers.DateField()
    available = serializers.BooleanField()
    closed_reason = serializers.SerializerMethodField(help_text="reservation, block, stop_sell or null.")
    closed_by = ClosedBySerializer(source="booking", allow_null=True, read_only=True)
    price = AmountField(currency_of=lambda _night, context: context["currency"])
    min_stay = serializers.IntegerField()
    max_stay = serializers.IntegerField(allow_null=True, help_text="The longest stay arriving this night; null: none.")
    closed_to_arrival = serializers.BooleanField()
    closed_to_departure = serializers.BooleanField()
    stop_sell = serializers.BooleanField()

    def get_closed_reason(self, night) -> str | None:
        if night.booking is not None:
            return night.booking.kind
        return "stop_sell" if night.stop_sell else None


class UnitCalendarApi(ApiView):
    class QuerySerializer(serializers.Serializer):
        start = serializers.DateField(help_text="First night.")
        end = serializers.DateField(help_text="The night after the last one (half-open range).")

        def validate(self, attrs):
            nights = (attrs["end"] - attrs["start"]).days
            if nights < 1:
                raise serializers.ValidationError({"end": "end must be after start."})
            if nights > settings.CALENDAR_MAX_DAYS:
                raise serializers.ValidationError({"end": f"At most {settings.CALENDAR_MAX_DAYS} nights."})
            return attrs

    class OutputSerializer(serializers.Serializer):
        unit = serializers.IntegerField()
        currency = serializers.CharField()
        start = serializers.DateField()
        end = serializers.DateField()
        nights = NightSerializer(many=True)

    @extend_schema(operation_id="units_calendar", parameters=[QuerySerializer], responses=OutputSerializer)
    def get(self, request, id):
        unit = self.owned(units_of(self.organization_id), id)
        query = self.validated(self.QuerySerializer, data=request.query_params)
        nights = calendar_nights(unit=unit, start=query["start"], end=query["end"])
        currency = unit.property.currency
        body = {"unit": unit.pk, "currency": currency, **query, "nights": nights}
        return Response(self.OutputSerializer(body, context={"currency": currency}).data)
