"""The seed's channel-connection endpoints, scoped to the caller's organization.

Deleted connections (soft delete) are invisible: list and detail answer as if they never existed.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from channelmgr.api.serializers import (
    LIVE_STATUSES,
    ConnectionCreateInputSerializer,
    ConnectionOutputSerializer,
    ConnectionUpdateInputSerializer,
    PlatformField,
    SyncLogOutputSerializer,
)
from channelmgr.models import ChannelConnection
from channelmgr.services.connections import (
    SYNC_TYPES,
    ConnectionStateError,
    connection_create,
    connection_delete,
    connection_pause,
    connection_resume,
    connection_sync,
    connection_test,
    connection_update,
)
from pms_core.api.base import ApiView, Conflict
from pms_core.api.schema import MAX_ID, error

TAG = ["channel-connections"]


def connections_of(organization_id: int | None):
    if not organization_id:
        return ChannelConnection.objects.none()
    return (
        ChannelConnection.objects.filter(organization_id=organization_id)
        .exclude(status=ChannelConnection.Status.DELETED)
        .select_related("unit")
    )


class ConnectionFilterSerializer(serializers.Serializer):
    property_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    unit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    platform_type = PlatformField(required=False)
    status = serializers.ChoiceField(choices=LIVE_STATUSES, required=False)


class ConnectionApiView(ApiView):
    def connection(self, pk) -> ChannelConnection:
        return self.owned(connections_of(self.organization_id), pk)

    def context(self) -> dict:
        return {**super().context(), "connection": getattr(self, "_connection", None)}


class ConnectionListCreateApi(ConnectionApiView):
    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_list",
        parameters=[ConnectionFilterSerializer],
        responses=ConnectionOutputSerializer(many=True),
    )
    def get(self, request):
        query = self.validated(ConnectionFilterSerializer, data=request.query_params)
        connections = connections_of(self.organization_id)
        if "property_id" in query:
            connections = connections.filter(unit__property_id=query["property_id"])
        for name in ("unit", "platform_type", "status"):
            if name in query:
                connections = connections.filter(**{name: query[name]})
        return self.paginated(connections.order_by("id"), ConnectionOutputSerializer)

    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_create",
        request=ConnectionCreateInputSerializer,
        responses={201: ConnectionOutputSerializer},
    )
    def post(self, request):
        serializer = ConnectionCreateInputSerializer(data=request.data, context=self.context())
        serializer.is_valid(raise_exception=True)
        fields, credentials = serializer.split()
        fields.pop("property_id", None)
        connection = connection_create(organization=request.user.organization, credentials=credentials, **fields)
        return Response(ConnectionOutputSerializer(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailApi(ConnectionApiView):
    @extend_schema(tags=TAG, operation_id="channel_connections_retrieve", responses=ConnectionOutputSerializer)
    def get(self, request, id):
        return Response(ConnectionOutputSerializer(self.connection(id)).data)

    def _update(self, pk, *, partial: bool) -> Response:
        connection = self.connection(pk)
        serializer = ConnectionUpdateInputSerializer(
            data=self.request.data, partial=partial, context={**self.context(), "connection": connection}
        )
        serializer.is_valid(raise_exception=True)
        fields, credentials = serializer.split()
        connection = connection_update(connection=connection, credentials=credentials, **fields)
        return Response(ConnectionOutputSerializer(connection).data)

    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_update",
        request=ConnectionUpdateInputSerializer,
        responses=ConnectionOutputSerializer,
        description="Replace the listing, metadata and rate limit. Credentials left out are kept; an empty "
        "string clears one. `unit` and `platform_type` cannot change.",
    )
    def put(self, request, id):
        return self._update(id, partial=False)

    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_partial_update",
        request=ConnectionUpdateInputSerializer,
        responses=ConnectionOutputSerializer,
    )
    def patch(self, request, id):
        return self._update(id, partial=True)

    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_destroy",
        responses={204: None},
        description="Soft delete: status becomes `deleted`, the connection disappears from the API.",
    )
    def delete(self, request, id):
        connection_delete(connection=self.connection(id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionTestApi(ConnectionApiView):
    class OutputSerializer(serializers.Serializer):
        healthy = serializers.BooleanField()
        message = serializers.CharField()

    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_test",
        request=None,
        responses=OutputSerializer,
        description="Run the platform's health check now; recorded as a sync log of kind `health`. "
        "A platform failure is `healthy: false`, not an error status.",
    )
    def post(self, request, id):
        result = connection_test(connection=self.connection(id))
        return Response({"healthy": result.healthy, "message": result.message})


class ConnectionSyncApi(ConnectionApiView):
    class InputSerializer(serializers.Serializer):
        sync_type = serializers.ChoiceField(choices=SYNC_TYPES)

    class OutputSerializer(serializers.Serializer):
        sync_logs = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the sync logs.")

    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_sync",
        request=InputSerializer,
        responses={202: OutputSerializer, 409: error(409, "The connection is paused: resume it first.")},
        description="Enqueue a sync; follow it through `GET /channel-connections/{id}/sync-logs`.",
    )
    def post(self, request, id):
        connection = self.connection(id)
        sync_type = self.validated(self.InputSerializer)["sync_type"]
        try:
            logs = connection_sync(connection=connection, sync_type=sync_type)
        except ConnectionStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response({"sync_logs": [entry.pk for entry in logs]}, status=status.HTTP_202_ACCEPTED)


class ConnectionSyncLogsApi(ConnectionApiView):
    @extend_schema(tags=TAG, operation_id="channel_connections_sync_logs", responses=SyncLogOutputSerializer(many=True))
    def get(self, request, id):
        self._connection = self.connection(id)
        return self.paginated(self._connection.sync_logs.order_by("-started_at", "-id"), SyncLogOutputSerializer)


class ConnectionPauseApi(ConnectionApiView):
    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_pause",
        request=None,
        responses=ConnectionOutputSerializer,
        description="Stop pushing and pulling for this connection. Idempotent.",
    )
    def post(self, request, id):
        return Response(ConnectionOutputSerializer(connection_pause(connection=self.connection(id))).data)


class ConnectionResumeApi(ConnectionApiView):
    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_resume",
        request=None,
        responses=ConnectionOutputSerializer,
        description="Paused back to active; any other status is left as it is.",
    )
    def post(self, request, id):
        return Response(ConnectionOutputSerializer(connection_resume(connection=self.connection(id))).data)
