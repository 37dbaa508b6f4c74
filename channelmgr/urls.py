from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from channelmgr.api.connections import (
    ConnectionDetailApi,
    ConnectionListCreateApi,
    ConnectionPauseApi,
    ConnectionResumeApi,
    ConnectionSyncApi,
    ConnectionSyncLogsApi,
    ConnectionTestApi,
)
from channelmgr.api.ical import UnitIcalExportApi, UnitIcalExportRotateApi, ical_feed_view
from channelmgr.api.inbound_events import InboundEventListApi
from channelmgr.api.oauth import OAuthCallbackApi, OAuthStartApi
from pms_core.api.base import route

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    *route("channel-connections", ConnectionListCreateApi, "connection-list"),
    *route("channel-connections/<str:id>", ConnectionDetailApi, "connection-detail"),
    *route("channel-connections/<str:id>/test", ConnectionTestApi, "connection-test"),
    *route("channel-connections/<str:id>/sync", ConnectionSyncApi, "connection-sync"),
    *route("channel-connections/<str:id>/sync-logs", ConnectionSyncLogsApi, "connection-sync-logs"),
    *route("channel-connections/<str:id>/pause", ConnectionPauseApi, "connection-pause"),
    *route("channel-connections/<str:id>/resume", ConnectionResumeApi, "connection-resume"),
    *route("channel-connections/<str:id>/oauth/start", OAuthStartApi, "connection-oauth-start"),
    *route("oauth/callback/<str:platform>", OAuthCallbackApi, "oauth-callback"),
    *route("units/<str:id>/ical-export", UnitIcalExportApi, "unit-ical-export"),
    *route("units/<str:id>/ical-export/rotate", UnitIcalExportRotateApi, "unit-ical-export-rotate"),
    *route("inbound-events", InboundEventListApi, "inbound-event-list"),
    path("ical/<str:token>.ics", ical_feed_view, name="ical-export"),
    path("webhooks/", include("channelmgr.inbound.urls")),
]
