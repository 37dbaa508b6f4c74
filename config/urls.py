from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config import health

urlpatterns = [
    path("admin/", admin.site.urls),
    # Staff who open the bare address land on the staff home (the admin's index), not on a 404.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="root"),
    path("healthz", health.liveness, name="healthz"),
    path("readyz", health.readiness, name="readyz"),
    path("", include("django_prometheus.urls")),  # /metrics
    path("", include("channelmgr.urls")),
    path("", include("pms_core.urls")),
    path("", include("integrations.urls")),
]
