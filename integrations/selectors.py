"""Reads: an organization's subscriptions, their delivery log, and what staff should be told."""

from __future__ import annotations

from django.db.models import QuerySet

from integrations.models import WebhookDelivery, WebhookSubscription


def subscriptions_of(organization_id: int | None) -> QuerySet[WebhookSubscription]:
    if not organization_id:
        return WebhookSubscription.objects.none()
    return WebhookSubscription.objects.filter(organization_id=organization_id).order_by("pk")


def deliveries_of(subscription: WebhookSubscription) -> QuerySet[WebhookDelivery]:
    return subscription.deliveries.select_related("event").order_by("-created_at", "-pk")


def webhook_notices(*, organization_id: int | None) -> list[dict]:
    """Subscriptions the system disabled because deliveries kept failing, newest first, for the staff
    home page: ``{"organization_id", "subscription_id", "url", "disabled_at", "reason"}``. ``None`` is every
    tenant (a superuser's home, as ``channelmgr.staff_home.selectors.organization_of`` gives it)."""
    disabled = WebhookSubscription.objects.filter(disabled_at__isnull=False)
    if organization_id is not None:
        disabled = disabled.filter(organization_id=organization_id)
    return [
        {
            "organization_id": s.organization_id,
            "subscription_id": s.pk,
            "url": s.url,
            "disabled_at": s.disabled_at,
            "reason": s.disabled_reason,
        }
        for s in disabled.order_by("-disabled_at", "pk")
    ]


def webhook_staff_notices(organization_id: int | None) -> list:
    """``webhook_notices`` as staff home notices, each linking to the subscription's admin page."""
    from django.urls import reverse

    from channelmgr.staff_home.notices import Notice

    return [
        Notice(
            title=f"Webhook subscription {n['subscription_id']} was disabled",
            detail=f"Deliveries to {n['url']} kept failing: {n['reason'] or 'no answer'}. Fix the receiver, "
            "then activate the subscription again and replay what it missed.",
            url=reverse("admin:integrations_webhooksubscription_change", args=[n["subscription_id"]]),
            at=n["disabled_at"],
        )
        for n in webhook_notices(organization_id=organization_id)
    ]
