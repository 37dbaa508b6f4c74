"""The iCal export: the public feed (the unguessable URL is the secret) and the API that reveals it."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from channelmgr.models import IcalExport
from channelmgr.services.ical_export import (
    ical_export_by_token,
    ical_export_for,
    ical_export_previous_until,
    ical_export_rotate,
    ical_export_url,
    ical_feed,
)
from pms_core.api.base import ApiView
from pms_core.api.units import units_of


@require_safe
def ical_feed_view(request, token: str) -> HttpResponse:
    """``GET /ical/<token>.ics``: no authentication, an unknown token is 404, and so is a rotated one
    once its grace period is over. Not in the API schema."""
    export = ical_export_by_token(token)
    if export is None:
        raise Http404()
    response = HttpResponse(ical_feed(export), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


class IcalExportOutputSerializer(serializers.Serializer):
    unit = serializers.IntegerField(source="unit_id")
    url = serializers.URLField()
    created_at = serializers.DateTimeField()
    rotated_at = serializers.DateTimeField(allow_null=True, help_text="When the URL was last rotated.")
    previous_url_valid_until = serializers.DateTimeField(
        allow_null=True,
        help_text="Until when the URL the last rotation replaced still answers (ICAL_EXPORT_GRACE_HOURS); "
        "null when it no longer does.",
    )


def _export_body(export: IcalExport) -> dict:
    return IcalExportOutputSerializer(
        {
            "unit_id": export.unit_id,
            "url": ical_export_url(export),
            "created_at": export.created_at,
            "rotated_at": export.rotated_at,
            "previous_url_valid_until": ical_export_previous_until(export),
        }
    ).data


class UnitIcalExportApi(ApiView):
    OutputSerializer = IcalExportOutputSerializer

    @extend_schema(
        tags=["units"],
        operation_id="units_ical_export",
        responses=OutputSerializer,
        description="The unit's iCal export URL (created the first time it is asked for). Give it to a "
        "platform's calendar import; whoever has it can read which nights are taken.",
    )
    def get(self, request, id):
        unit = self.owned(units_of(self.organization_id), id)
        return Response(_export_body(ical_export_for(unit)))


class UnitIcalExportRotateApi(ApiView):
    @extend_schema(
        tags=["units"],
        operation_id="units_ical_export_rotate",
        request=None,
        responses=IcalExportOutputSerializer,
        description="Replace the unit's iCal export URL with a new unguessable one (after it leaked, say). "
        "The old URL keeps answering until `previous_url_valid_until` (ICAL_EXPORT_GRACE_HOURS, 24 by "
        "default), time to give the importing platforms the new one; a URL replaced before that stops at once.",
    )
    def post(self, request, id):
        unit = self.owned(units_of(self.organization_id), id)
        return Response(_export_body(ical_export_rotate(unit=unit)))
