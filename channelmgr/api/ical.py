"""The iCal export: the public feed (the unguessable URL is the secret) and the API that reveals it."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from channelmgr.models import IcalExport
from channelmgr.services.ical_export import ical_export_for, ical_export_url, ical_feed
from pms_core.api.base import ApiView
from pms_core.api.units import units_of


@require_safe
def ical_feed_view(request, token: str) -> HttpResponse:
    """``GET /ical/<token>.ics``: no authentication, an unknown token is 404. Not in the API schema."""
    export = IcalExport.objects.select_related("unit").filter(token=token).first()
    if export is None or len(token) < 32:
        raise Http404()
    response = HttpResponse(ical_feed(export), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


class UnitIcalExportApi(ApiView):
    class OutputSerializer(serializers.Serializer):
        unit = serializers.IntegerField(source="unit_id")
        url = serializers.URLField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        tags=["units"],
        operation_id="units_ical_export",
        responses=OutputSerializer,
        description="The unit's iCal export URL (created the first time it is asked for). Give it to a "
        "platform's calendar import; whoever has it can read which nights are taken.",
    )
    def get(self, request, id):
        unit = self.owned(units_of(self.organization_id), id)
        export = ical_export_for(unit)
        return Response(
            self.OutputSerializer(
                {"unit_id": unit.pk, "url": ical_export_url(export), "created_at": export.created_at}
            ).data
        )
