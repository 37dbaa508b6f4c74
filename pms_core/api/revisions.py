"""The booking revision feed: every change of a booking of the caller's organization, in order, with the
booking as it was after the change; an integrator acknowledges each one it has applied.

Polling pattern: read the first page of ``?acknowledged=false``, apply and acknowledge each revision in
order, read the first page again. A revision unacknowledged 30 minutes after its change is counted in
``channel_manager_booking_revisions_unacknowledged``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from pms_core.api.base import ApiView
from pms_core.api.bookings import BookingOutputSerializer, api_actor
from pms_core.api.schema import MAX_ID
from pms_core.models import BookingRevision
from pms_core.revisions import booking_revision_acknowledge
from pms_core.signals import CHANGES


def revisions_of(organization_id: int | None):
    if not organization_id:
        return BookingRevision.objects.none()
    return BookingRevision.objects.filter(organization_id=organization_id)


class BookingRevisionOutputSerializer(serializers.ModelSerializer):
    booking_id = serializers.IntegerField(read_only=True)
    change = serializers.ChoiceField(
        choices=CHANGES,
        read_only=True,
        help_text="created, modified, cancelled, overbooked (it holds nights another stay holds) or resolved "
        "(an overbooking ended).",
    )
    occurred_at = serializers.DateTimeField(source="created_at", read_only=True)
    booking = serializers.SerializerMethodField(help_text="The booking as it was right after this change.")

    class Meta:
        model = BookingRevision
        fields = ["id", "booking_id", "change", "occurred_at", "acknowledged_at", "booking"]
        read_only_fields = fields

    @extend_schema_field(BookingOutputSerializer)
    def get_booking(self, revision: BookingRevision) -> dict:
        return revision.snapshot


class BookingRevisionFilterSerializer(serializers.Serializer):
    acknowledged = serializers.BooleanField(
        required=False, allow_null=True, help_text="false: only the revisions not acknowledged yet."
    )
    booking = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="One booking's.")


class BookingRevisionListApi(ApiView):
    @extend_schema(
        operation_id="booking_revisions_list",
        parameters=[BookingRevisionFilterSerializer],
        responses=BookingRevisionOutputSerializer(many=True),
        description="Every change of your organization's bookings, oldest first. Poll `?acknowledged=false`, "
        "apply the revisions in order, acknowledge each, and read the first page again.",
    )
    def get(self, request):
        query = self.validated(BookingRevisionFilterSerializer, data=request.query_params)
        revisions = revisions_of(self.organization_id)
        if query.get("acknowledged") is not None:
            revisions = revisions.filter(acknowledged_at__isnull=not query["acknowledged"])
        if "booking" in query:
            revisions = revisions.filter(booking_id=query["booking"])
        return self.paginated(revisions.order_by("id"), BookingRevisionOutputSerializer)


class BookingRevisionAckApi(ApiView):
    @extend_schema(
        operation_id="booking_revisions_ack",
        request=None,
        responses=BookingRevisionOutputSerializer,
        description="Acknowledge one revision: it leaves `?acknowledged=false`. Acknowledging it again changes "
        "nothing.",
    )
    def post(self, request, id):
        revision = self.owned(revisions_of(self.organization_id), id)
        revision = booking_revision_acknowledge(revision=revision, actor=api_actor(request))
        return Response(BookingRevisionOutputSerializer(revision).data)
