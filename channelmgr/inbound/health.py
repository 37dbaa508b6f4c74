"""``GET /webhooks/health``: events received per platform in the last hour, and the latest one."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from adapters import registry
from adapters.base import Capability
from channelmgr.models import InboundEvent
from config.api_errors import require_methods


@require_methods("GET")
def webhook_health(request: HttpRequest) -> JsonResponse:
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    webhook_platforms = registry.slugs(Capability.WEBHOOKS)
    rows = (
        InboundEvent.objects.filter(platform__in=webhook_platforms)
        .values("platform")
        .annotate(last_hour=Count("id", filter=Q(received_at__gte=hour_ago)), last=Max("received_at"))
    )
    by_platform = {row["platform"]: row for row in rows}
    platforms = {}
    for slug in webhook_platforms:
        row = by_platform.get(slug, {})
        last = row.get("last")
        platforms[slug] = {
            "received_last_hour": row.get("last_hour", 0),
            "last_received_at": last.isoformat() if last else None,
        }
    return JsonResponse({"status": "ok", "platforms": platforms})
