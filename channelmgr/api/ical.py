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
    ical_export_feeds,
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
    without = None
    if "for" in request.GET:  # the URL given to a platform whose calendar this unit imports
        feeds = {str(feed.pk): feed for feed in ical_export_feeds(export)}
        without = feeds.get(request.GET["for"])
        if without is None:
            raise Http404("no such calendar import on this unit")
    response = HttpResponse(ical_feed(export, without=without), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


class IcalExportFeedSerializer(serializers.Serializer):
    connection = serializers.IntegerField(help_text="The iCal connection that imports this platform's calendar.")
    feed = serializers.CharField(help_text="That connection's listing id (its calendar's name).")
    url = serializers.URLField()


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
    feeds = IcalExportFeedSerializer(
        many=True,
        help_text="One URL per calendar this unit imports (its iCal connections): give each platform the URL "
        "of its own calendar, which leaves out the blocks imported from it, so a block lifted there does not "
        "come back from us. Give `url` to platforms whose calendar is not imported.",
    )


def _export_body(export: IcalExport) -> dict:
    return IcalExportOutputSerializer(
        {
            "unit_id": export.unit_id,
            "url": ical_export_url(export),
            "created_at": export.created_at,
            "rotated_at": export.rotated_at,
            "previous_url_valid_until": ical_export_previous_until(export),
            "feeds": [
                {"connection": feed.pk, "feed": feed.platform_listing_id, "url": ical_export_url(export, feed=feed)}
                for feed in ical_export_feeds(export)
            ],
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
