"""Integrators' webhook subscriptions, scoped to the caller's organization.

The secret is in the answer to create and to rotate-secret only; never in a list or a detail.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from drf_spectacular.utils import OpenApiCallback, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from integrations.events import EVENT_TYPES
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.selectors import deliveries_of, subscriptions_of
from integrations.signing import TOLERANCE_SECONDS
from integrations.subscriptions import (
    MAX_GRACE,
    SubscriptionError,
    SubscriptionStateError,
    secret_rotate,
    subscription_create,
    subscription_replay,
    subscription_update,
)
from pms_core.api.base import ApiView, Conflict, RefuseReadOnly
from pms_core.api.schema import MAX_ID, error

TAG = ["webhook-subscriptions"]
SIGNING = (
    f'Deliveries carry `Webhook-Signature: t=<unix>,v1=<hex hmac-sha256 of "t.body">`; accept a `t` within '
    f"{TOLERANCE_SECONDS} s of your clock. See docs/integrators.md."
)


class SubscriptionOutputSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES))
    secret_rotating_until = serializers.DateTimeField(source="previous_secret_expires_at", allow_null=True)

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "event_types",
            "active",
            "description",
            "delivered_sequence",
            "failed_attempts",
            "next_attempt_at",
            "disabled_at",
            "disabled_reason",
            "secret_rotating_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SubscriptionWithSecretSerializer(SubscriptionOutputSerializer):
    secret = serializers.CharField(help_text="Shown this once: store it to verify signatures.")

    class Meta(SubscriptionOutputSerializer.Meta):
        fields = [*SubscriptionOutputSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SubscriptionInputSerializer(RefuseReadOnly, serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="http(s) on a public address; no redirects.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1, max_length=len(EVENT_TYPES)
    )
    active = serializers.BooleanField(required=False, default=True)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    class Meta:
        refused = ["id", "secret", "delivered_sequence", "disabled_at", "created_at", "updated_at"]


class WebhookEnvelopeSerializer(serializers.Serializer):
    """What a subscription's URL receives (documentation only: integrations/delivery.py builds it)."""

    id = serializers.IntegerField(help_text="The event's id; a retry or a replay sends the same one.")
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    sequence = serializers.IntegerField(help_text="Per organization; never lower than the one before.")
    occurred_at = serializers.DateTimeField()
    data = serializers.DictField(
        help_text="`object`: the booking or connection as the API shows it; by type also `reason`, `sync_log`, "
        "`error` or `drift`."
    )


DELIVERY = OpenApiCallback(
    "event",
    "{$request.body#/url}",
    extend_schema(
        request=WebhookEnvelopeSerializer,
        responses={200: None},
        summary="An event, POSTed to the subscription's URL",
        description='Headers: `Webhook-Signature: t=<unix>,v1=<hex hmac-sha256 of "t.body">` (a second `v1=` '
        f"while a secret rotates; accept a `t` within {TOLERANCE_SECONDS} s), `Webhook-Id`, `Webhook-Sequence`. "
        "Answer 2xx within 10 s; anything else is retried (1 s doubling to 1 h, disabled after 24 h).",
    ),
)


class SubscriptionApiView(ApiView):
    def subscription(self, pk) -> WebhookSubscription:
        return self.owned(subscriptions_of(self.organization_id), pk)


def _invalid(exc: SubscriptionError) -> serializers.ValidationError:
    return serializers.ValidationError({exc.field: [str(exc)]})


class SubscriptionListCreateApi(SubscriptionApiView):
    """Your organization's webhook subscriptions (the secret is never listed)."""

    @extend_schema(
        tags=TAG, operation_id="webhook_subscriptions_list", responses=SubscriptionOutputSerializer(many=True)
    )
    def get(self, request):
        return self.paginated(subscriptions_of(self.organization_id), SubscriptionOutputSerializer)

    @extend_schema(
        tags=TAG,
        operation_id="webhook_subscriptions_create",
        request=SubscriptionInputSerializer,
        responses={201: SubscriptionWithSecretSerializer},
        callbacks=[DELIVERY],
        description="Register a URL for some event types; it gets the events from now on. " + SIGNING,
    )
    def post(self, request):
        data = self.validated(SubscriptionInputSerializer)
        if not self.organization_id:
            raise serializers.ValidationError({"non_field_errors": ["Your user belongs to no organization."]})
        try:
            subscription, secret = subscription_create(organization_id=self.organization_id, **data)
        except SubscriptionError as exc:
            raise _invalid(exc) from exc
        body = SubscriptionWithSecretSerializer(subscription).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class SubscriptionDetailApi(SubscriptionApiView):
    """One webhook subscription: its URL, event types, and how far delivery has got."""

    @extend_schema(tags=TAG, operation_id="webhook_subscriptions_retrieve", responses=SubscriptionOutputSerializer)
    def get(self, request, id):
        return Response(SubscriptionOutputSerializer(self.subscription(id)).data)

    @extend_schema(
        tags=TAG,
        operation_id="webhook_subscriptions_partial_update",
        request=SubscriptionInputSerializer(partial=True),
        responses=SubscriptionOutputSerializer,
        description="Change the URL, event types, description, or `active` (activating a subscription that "
        "was disabled after failing deliveries clears its failures; it then gets what it missed).",
    )
    def patch(self, request, id):
        subscription = self.subscription(id)
        data = self.validated(SubscriptionInputSerializer, partial=True)
        try:
            with transaction.atomic():
                subscription = subscription_update(subscription=subscription, **data)
        except SubscriptionError as exc:
            raise _invalid(exc) from exc
        return Response(SubscriptionOutputSerializer(subscription).data)

    @extend_schema(tags=TAG, operation_id="webhook_subscriptions_destroy", responses={204: None})
    def delete(self, request, id):
        self.subscription(id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionRotateSecretApi(SubscriptionApiView):
    """A new signing secret, shown once; the old one keeps signing for a grace period."""

    class InputSerializer(serializers.Serializer):
        grace_seconds = serializers.IntegerField(
            required=False,
            default=86400,
            min_value=0,
            max_value=int(MAX_GRACE.total_seconds()),
            help_text="How long the old secret keeps signing beside the new one (a second `v1=`).",
        )

    @extend_schema(
        tags=TAG,
        operation_id="webhook_subscriptions_rotate_secret",
        request=InputSerializer,
        responses={200: SubscriptionWithSecretSerializer},
        description="A new secret, shown this once. Until `secret_rotating_until` deliveries are signed with "
        "both secrets: `t=...,v1=<new>,v1=<old>`.",
    )
    def post(self, request, id):
        subscription = self.subscription(id)
        grace = dt.timedelta(seconds=self.validated(self.InputSerializer)["grace_seconds"])
        secret = secret_rotate(subscription=subscription, grace=grace)
        body = SubscriptionWithSecretSerializer(subscription).data
        body["secret"] = secret
        return Response(body)


class SubscriptionReplayApi(SubscriptionApiView):
    """Deliver again every event after a sequence number, in order."""

    class QuerySerializer(serializers.Serializer):
        since = serializers.IntegerField(
            min_value=0, max_value=MAX_ID, help_text="Re-deliver every event with a sequence number above this."
        )

    class OutputSerializer(serializers.Serializer):
        since = serializers.IntegerField()
        until = serializers.IntegerField(help_text="The last sequence number the replay covers.")

    @extend_schema(
        tags=TAG,
        operation_id="webhook_subscriptions_replay",
        parameters=[QuerySerializer],
        request=None,
        responses={202: OutputSerializer, 409: error(409, "The subscription is not active.")},
        description="Deliver again, in order, every event after `since` that the subscription takes; "
        "later events follow as usual. Replayed events keep their id and sequence number.",
    )
    def post(self, request, id):
        subscription = self.subscription(id)
        since = self.validated(self.QuerySerializer, data=request.query_params)["since"]
        try:
            with transaction.atomic():
                until = subscription_replay(subscription=subscription, since=since)
        except SubscriptionError as exc:
            raise _invalid(exc) from exc
        except SubscriptionStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response({"since": since, "until": until}, status=status.HTTP_202_ACCEPTED)


class DeliveryOutputSerializer(serializers.ModelSerializer):
    event_id = serializers.IntegerField()
    event_type = serializers.CharField(source="event.event_type")
    sequence = serializers.IntegerField(source="event.sequence")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "sequence",
            "attempt",
            "replay",
            "succeeded",
            "status_code",
            "duration_ms",
            "response_excerpt",
            "error",
            "created_at",
        ]
        read_only_fields = fields


class SubscriptionDeliveriesApi(SubscriptionApiView):
    """The delivery log: every attempt with its status code, duration and the start of the answer."""

    @extend_schema(
        tags=TAG,
        operation_id="webhook_subscriptions_deliveries",
        responses=DeliveryOutputSerializer(many=True),
        description="The delivery log, newest first: one row per attempt.",
    )
    def get(self, request, id):
        return self.paginated(deliveries_of(self.subscription(id)), DeliveryOutputSerializer)
