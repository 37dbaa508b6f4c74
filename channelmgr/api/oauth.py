"""OAuth 2.0 code flow: start (302 to the platform) and callback (exchange the code, store tokens).

The callback is reached by the person's browser coming back from the platform, so it does not require
our authentication: the signed, single-use ``state`` (bound to the connection and the user who started)
is what authorizes it. A session user, if present, must be that same user.
"""

from __future__ import annotations

import logging

from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from adapters import registry
from adapters.base import PlatformAPIError
from channelmgr.accounts import redact, secrets_of
from channelmgr.api.connections import TAG, ConnectionApiView
from channelmgr.models import ChannelConnection
from channelmgr.services.oauth import (
    OAuthStateError,
    oauth_complete,
    oauth_read_state,
    oauth_start_url,
    oauth_supported,
)
from pms_core.api.base import ApiView
from pms_core.api.schema import error
from pms_core.models import User

log = logging.getLogger(__name__)
REDIRECT = OpenApiResponse(
    description="Redirect (`Location` header).",
    response=None,
)


class BadGateway(exceptions.APIException):
    status_code = 502
    default_code = "platform_unavailable"
    default_detail = "The platform did not answer; try again later."


class OAuthStartApi(ConnectionApiView):
    @extend_schema(
        tags=TAG,
        operation_id="channel_connections_oauth_start",
        responses={302: REDIRECT},
        description="Redirect to the platform's consent page (Airbnb, Google). 400 for other platforms.",
    )
    def get(self, request, id):
        connection = self.connection(id)
        return HttpResponseRedirect(oauth_start_url(connection=connection, user_id=request.user.pk))


class OAuthCallbackApi(ApiView):
    public = True
    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        connection = serializers.IntegerField()
        connected = serializers.BooleanField()
        token_expires_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(
        tags=TAG,
        operation_id="oauth_callback",
        parameters=[
            OpenApiParameter("code", OpenApiTypes.STR, required=False),
            OpenApiParameter("state", OpenApiTypes.STR, required=False),
            OpenApiParameter("error", OpenApiTypes.STR, required=False),
        ],
        responses={
            200: OutputSerializer,
            302: REDIRECT,
            502: error(404, "The platform could not be reached; start again later."),
        },
        description="Where the platform sends the browser back. Staff sessions are redirected to the "
        "connection's admin page; everyone else gets JSON.",
    )
    def get(self, request, platform):
        if platform not in registry.adapters() or not oauth_supported(platform):
            raise exceptions.NotFound()
        if request.query_params.get("error"):
            raise exceptions.ValidationError({"error": ["The platform reports the grant was refused."]})
        code, state = request.query_params.get("code", ""), request.query_params.get("state", "")
        if not code or not state:
            raise exceptions.ValidationError({"code": ["code and state are required."]})
        connection = self._connection_of(state=state, platform=platform)
        try:
            connection = oauth_complete(connection=connection, code=code)
        except PlatformAPIError as exc:
            message = redact(str(exc), secrets_of(connection))
            log.warning("connection %s: OAuth code exchange failed: %s", connection.pk, message)
            if not exc.permanent:
                raise BadGateway() from exc
            raise exceptions.ValidationError({"code": ["The platform refused the code: start again."]}) from exc
        log.info("connection %s: OAuth tokens stored", connection.pk)
        if request.user.is_authenticated and request.user.is_staff:
            return HttpResponseRedirect(reverse("admin:channelmgr_channelconnection_change", args=[connection.pk]))
        return Response(
            {"connection": connection.pk, "connected": True, "token_expires_at": connection.token_expires_at}
        )

    def _connection_of(self, *, state: str, platform: str) -> ChannelConnection:
        try:
            payload = oauth_read_state(state=state, platform_type=platform)
        except OAuthStateError as exc:
            raise exceptions.ValidationError({"state": [str(exc)]}) from exc
        connection = (
            ChannelConnection.objects.exclude(status=ChannelConnection.Status.DELETED)
            .filter(pk=payload.get("c"), platform_type=platform)
            .first()
        )
        user = User.objects.filter(pk=payload.get("u"), is_active=True).first()
        if connection is None or user is None or user.organization_id != connection.organization_id:
            raise exceptions.ValidationError({"state": ["The connection or user of this state is gone."]})
        if self.request.user.is_authenticated and self.request.user.pk != user.pk:
            raise exceptions.ValidationError({"state": ["This flow was started by another user."]})
        return connection
