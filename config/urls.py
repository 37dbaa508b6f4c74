from django.contrib import admin
from django.urls import include, path

from config import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.liveness, name="healthz"),
    path("readyz", health.readiness, name="readyz"),
    path("", include("django_prometheus.urls")),  # /metrics
    path("", include("channelmgr.urls")),
    path("", include("pms_core.urls")),
    path("", include("integrations.urls")),
]
