"""What every API view shares: tenant scoping, id parsing, refusing read-only input, pagination, and
``Idempotency-Key`` on writes (``idempotency/api.py``).

Tenancy rule: every queryset is filtered by the caller's organization, and an object of another
organization is a 404 (never a 403), indistinguishable from one that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Model, QuerySet
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from idempotency.api import IdempotentWrites
from pms_core.api.pagination import ApiPagination
from pms_core.api.schema import MAX_ID, ApiSchema


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


def organization_id(request: Request) -> int | None:
    """The caller's tenant; ``None`` for a user without organization (who then sees nothing)."""
    return getattr(request.user, "organization_id", None)


def parse_id(value: object) -> int:
    """A path id as an int, or ``NotFound`` (ids beyond a bigint would crash the database driver)."""
    text = str(value)
    # Leading zeros off and the length first: int() refuses more than 4300 digits with a ValueError (a 500).
    digits = text.lstrip("0")
    if not text.isascii() or not text.isdigit() or len(digits) > 19 or not 1 <= int(digits or "0") <= MAX_ID:
        raise exceptions.NotFound()
    return int(digits)


class RefuseReadOnly:
    """Serializer mixin: a body that tries to set a read-only field is a 400 naming it, not ignored.

    List the names in ``Meta.refused``. Other unknown keys are ignored, as DRF does.
    """

    def to_internal_value(self, data):
        refused = getattr(self.Meta, "refused", ())
        if isinstance(data, Mapping):
            found = [name for name in refused if name in data]
            if found:
                raise serializers.ValidationError(
                    {name: ["This field is read-only and cannot be set through the API."] for name in found}
                )
        return super().to_internal_value(data)


class OwnedField(serializers.IntegerField):
    """An id in a request body that must name an object of the caller's organization.

    ``scope(organization_id)`` returns the queryset of the caller's objects. Another tenant's id
    gets the same 400 as an unknown one.
    """

    default_error_messages = {"unknown": "No such object in your organization."}

    def __init__(self, *, scope, **kwargs):
        self.scope = scope
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)

    def to_internal_value(self, data):
        pk = super().to_internal_value(data)
        super().run_validators(pk)  # the id's range, before it reaches the database driver
        found = self.scope(self.context.get("organization_id")).filter(pk=pk).first()
        if found is None:
            self.fail("unknown")
        return found

    def run_validators(self, value):
        """Already run on the id in ``to_internal_value``; ``value`` is the object by now."""

    def to_representation(self, value):
        return value.pk if isinstance(value, Model) else value


class DescriptionOnlyMetadata(SimpleMetadata):
    """OPTIONS answers name, description and media types; the fields are in the OpenAPI schema
    (DRF's default would look the object up through a queryset these views do not declare)."""

    def determine_actions(self, request, view):
        return {}


class JsonBodyParser(JSONParser):
    """DRF's JSON parser, with a body nested too deeply to parse (``[[[[...``) refused as a parse error:
    the parser raises ``RecursionError``, which DRF does not catch (a server error)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None


class ApiView(IdempotentWrites, GenericAPIView):
    """Base of every API view: JSON bodies only, explicit schema, pagination by page number, and an
    optional ``Idempotency-Key`` on every POST, PUT and PATCH."""

    metadata_class = DescriptionOnlyMetadata
    pagination_class = ApiPagination
    schema = ApiSchema()
    parser_classes = [JsonBodyParser]
    filter_backends: list = []

    @property
    def organization_id(self) -> int | None:
        return organization_id(self.request)

    def context(self) -> dict:
        return {"request": self.request, "organization_id": self.organization_id}

    def owned(self, queryset: QuerySet, pk) -> Model:
        """The object ``pk`` of ``queryset`` (already scoped to the caller), or 404."""
        found = queryset.filter(pk=parse_id(pk)).first()
        if found is None:
            raise exceptions.NotFound()
        return found

    def paginated(self, queryset: QuerySet, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True, context=self.context()).data)

    def validated(self, serializer_class, data=None, **kwargs) -> dict:
        data = self.request.data if data is None else data
        serializer = serializer_class(data=data, context=self.context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def route(pattern: str, view: type[ApiView], name: str) -> list:
    """The URL with and without a trailing slash; only the first is in the schema."""
    from django.urls import path

    return [
        path(pattern, view.as_view(), name=name),
        path(f"{pattern}/", view.as_view(schema=None), name=f"{name}-slash"),
    ]
