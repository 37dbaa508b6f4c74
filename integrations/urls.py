from integrations.api import (
    SubscriptionDeliveriesApi,
    SubscriptionDetailApi,
    SubscriptionListCreateApi,
    SubscriptionReplayApi,
    SubscriptionRotateSecretApi,
)
from pms_core.api.base import route

urlpatterns = [
    *route("webhook-subscriptions", SubscriptionListCreateApi, "webhook-subscription-list"),
    *route("webhook-subscriptions/<str:id>", SubscriptionDetailApi, "webhook-subscription-detail"),
    *route("webhook-subscriptions/<str:id>/rotate-secret", SubscriptionRotateSecretApi, "webhook-subscription-rotate"),
    *route("webhook-subscriptions/<str:id>/replay", SubscriptionReplayApi, "webhook-subscription-replay"),
    *route("webhook-subscriptions/<str:id>/deliveries", SubscriptionDeliveriesApi, "webhook-subscription-deliveries"),
]
