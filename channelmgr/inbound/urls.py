from django.urls import path

from adapters.registry import WEBHOOK_PATHS
from channelmgr.inbound.health import webhook_health
from channelmgr.inbound.webhooks import webhook_receive

urlpatterns = [
    path("health", webhook_health, name="webhook-health"),
    *(
        path(segment, webhook_receive, {"platform": slug}, name=f"webhook-{segment}")
        for slug, segment in WEBHOOK_PATHS.items()
    ),
]
