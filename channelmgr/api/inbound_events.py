"""``GET /inbound-events``: the webhook deliveries we stored, read-only, for support staff.

Staff users (``is_staff``) see the events of their organization's connections; superusers see every
event, including those no connection claimed. Nothing secret is shown: the stored payload is the parsed
notification only (channelmgr/inbound/payloads.py), and on top of that every value under a secret-sounding
key, and every credential of the event's connection or its platform, is replaced by ``[redacted]``.
"""

from __future__ import annotations

import re

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers

from channelmgr.accounts import redact, secrets_of
from channelmgr.api.serializers import PlatformField
from channelmgr.models import InboundEvent
from pms_core.api.base import ApiView
from pms_core.api.schema import error

REDACTED = "[redacted]"
# A key whose value is a credential or a signature, wherever it sits in a payload.
SECRET_KEY = re.compile(r"secret|token|password|passwd|signature|credential|authori[sz]ation|api_?key|cookie", re.I)


class IsSupportStaff(permissions.BasePermission):
    message = "Only staff users may read inbound events."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


def events_for(user):
    if user.is_superuser:
        return InboundEvent.objects.all()
    if not user.organization_id:
        return InboundEvent.objects.none()
    return InboundEvent.objects.filter(connection__organization_id=user.organization_id)


def platform_secrets(platform: str) -> list[str]:
    """The platform-wide secrets in settings (OAuth client secret, webhook secrets, push passwords)."""
    found = []
    for name, value in settings.PLATFORMS.get(platform, {}).items():
        if SECRET_KEY.search(name):
            found += [v for v in (value if isinstance(value, list | tuple) else [value]) if isinstance(v, str)]
    return [value for value in found if len(value) >= 4]


def event_secrets(event: InboundEvent) -> list[str]:
    """What must never show of an event: the platform's secrets and its connection's credentials."""
    known = platform_secrets(event.platform)
    return known + secrets_of(event.connection) if event.connection_id else known


def redacted(value, secrets: list[str]):
    """``value`` (JSON) with secret-named keys and known secret values replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY.search(str(k)) else redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(item, secrets) for item in value]
    if isinstance(value, str):
        return redact(value, secrets)
    return value


class InboundEventOutputSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()
    payload = serializers.SerializerMethodField(
        help_text="The notification as parsed (never the raw body or headers), with secrets redacted."
    )

    class Meta:
        model = InboundEvent
        fields = [
            "id",
            "platform",
            "event_key",
            "connection",
            "kind",
            "channel_booking_id",
            "status",
            "received_at",
            "processed_at",
            "attempts",
            "error",
            "correlation_id",
            "payload",
        ]
        read_only_fields = fields

    def get_error(self, event: InboundEvent) -> str:
        return redacted(event.error, event_secrets(event))

    def get_payload(self, event: InboundEvent) -> dict:
        return redacted(event.payload, event_secrets(event))


class InboundEventFilterSerializer(serializers.Serializer):
    platform = PlatformField(required=False)
    status = serializers.ChoiceField(choices=InboundEvent.Status.choices, required=False)
    start = serializers.DateTimeField(required=False, help_text="Only events received at or after this time.")
    end = serializers.DateTimeField(required=False, help_text="Only events received before this time.")


class InboundEventListApi(ApiView):
    permission_classes = [IsSupportStaff]

    @extend_schema(
        operation_id="inbound_events_list",
        tags=["inbound-events"],
        parameters=[InboundEventFilterSerializer],
        responses={
            200: InboundEventOutputSerializer(many=True),
            403: error(403, "Not a staff user (or a session without CSRF token)."),
        },
        description="Webhook deliveries from the platforms, newest first, for support staff (403 for other "
        "users). Staff see their organization's; superusers see all. Secrets are redacted.",
    )
    def get(self, request):
        query = self.validated(InboundEventFilterSerializer, data=request.query_params)
        events = events_for(request.user).select_related("connection")
        for name in ("platform", "status"):
            if name in query:
                events = events.filter(**{name: query[name]})
        if "start" in query:
            events = events.filter(received_at__gte=query["start"])
        if "end" in query:
            events = events.filter(received_at__lt=query["end"])
        return self.paginated(events.order_by("-received_at", "-id"), InboundEventOutputSerializer)
