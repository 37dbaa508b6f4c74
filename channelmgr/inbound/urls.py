from django.urls import path

from channelmgr.inbound.health import webhook_health
from channelmgr.inbound.webhooks import webhook_receive

# One route for every platform: the view finds the adapter whose ``webhook_path`` is the segment.
urlpatterns = [
    path("health", webhook_health, name="webhook-health"),
    path("<str:path>", webhook_receive, name="webhook"),
]
