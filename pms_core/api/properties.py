"""Properties of the caller's organization.

DRF routes methods on one view per URL, so list+create and read+update share a class; each operation
keeps its own serializers.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

import money
from pms_core.api.base import ApiView, RefuseReadOnly
from pms_core.models import Property
from pms_core.services.catalog import property_create, property_update

REFUSED = ("id", "organization", "created_at")


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def properties_of(organization_id: int | None):
    return Property.objects.filter(organization_id=organization_id) if organization_id else Property.objects.none()


class PropertyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Property
        fields = ["id", "name", "timezone", "currency", "created_at"]
        read_only_fields = fields


class PropertyInputSerializer(RefuseReadOnly, serializers.Serializer):
    name = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64, default="Europe/Berlin", help_text="An IANA zone name.")
    currency = serializers.CharField(min_length=3, max_length=3, default="EUR", help_text="ISO 4217, upper case.")

    class Meta:
        refused = REFUSED

    def validate_timezone(self, value):
        if value not in _timezones():
            raise serializers.ValidationError("Unknown time zone.")
        return value

    def validate_currency(self, value):
        if not re.fullmatch(r"[A-Z]{3}", value) or not money.is_currency(value):
            raise serializers.ValidationError("An ISO 4217 currency code: three upper-case letters, e.g. EUR.")
        return value


class PropertyListCreateApi(ApiView):
    @extend_schema(operation_id="properties_list", responses=PropertyOutputSerializer(many=True))
    def get(self, request):
        return self.paginated(properties_of(self.organization_id).order_by("id"), PropertyOutputSerializer)

    @extend_schema(
        operation_id="properties_create", request=PropertyInputSerializer, responses={201: PropertyOutputSerializer}
    )
    def post(self, request):
        data = self.validated(PropertyInputSerializer)
        if not self.organization_id:
            raise exceptions.PermissionDenied("Your user belongs to no organization.")
        prop = property_create(organization=request.user.organization, **data)
        return Response(PropertyOutputSerializer(prop).data, status=status.HTTP_201_CREATED)


class PropertyDetailApi(ApiView):
    def _object(self, pk) -> Property:
        return self.owned(properties_of(self.organization_id), pk)

    @extend_schema(operation_id="properties_retrieve", responses=PropertyOutputSerializer)
    def get(self, request, id):
        return Response(PropertyOutputSerializer(self._object(id)).data)

    @extend_schema(
        operation_id="properties_update", request=PropertyInputSerializer, responses=PropertyOutputSerializer
    )
    def put(self, request, id):
        prop = self._object(id)
        return Response(
            PropertyOutputSerializer(property_update(prop=prop, **self.validated(PropertyInputSerializer))).data
        )

    @extend_schema(
        operation_id="properties_partial_update", request=PropertyInputSerializer, responses=PropertyOutputSerializer
    )
    def patch(self, request, id):
        prop = self._object(id)
        data = self.validated(PropertyInputSerializer, partial=True)
        return Response(PropertyOutputSerializer(property_update(prop=prop, **data)).data)
