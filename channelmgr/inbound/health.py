"""``GET /webhooks/health``: events received per platform in the last hour, and the latest one."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from adapters.registry import WEBHOOK_PATHS
from channelmgr.models import InboundEvent
from config.api_errors import require_methods


@require_methods("GET")
def webhook_health(request: HttpRequest) -> JsonResponse:
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    rows = (
        InboundEvent.objects.filter(platform__in=list(WEBHOOK_PATHS))
        .values("platform")
        .annotate(last_hour=Count("id", filter=Q(received_at__gte=hour_ago)), last=Max("received_at"))
    )
    by_platform = {row["platform"]: row for row in rows}
    platforms = {}
    for slug in WEBHOOK_PATHS:
        row = by_platform.get(slug, {})
        last = row.get("last")
        platforms[slug] = {
            "received_last_hour": row.get("last_hour", 0),
            "last_received_at": last.isoformat() if last else None,
        }
    return JsonResponse({"status": "ok", "platforms": platforms})
