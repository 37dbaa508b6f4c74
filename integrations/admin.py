"""Staff admin for webhook subscriptions (the secret is shown once, on create and on rotation) and
their delivery log (read-only). Writes go through the same services as the API."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from integrations.events import EVENT_TYPES
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.subscriptions import (
    MAX_SUBSCRIPTIONS,
    SubscriptionError,
    secret_rotate,
    subscription_create,
    subscription_update,
    url_check,
)
from pms_core.admin import OrganizationScopedAdmin, ReadOnlyAdmin


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(choices=[(t, t) for t in EVENT_TYPES], widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookSubscription
        fields = ["organization", "url", "event_types", "active", "description"]

    def clean(self):
        cleaned = super().clean()
        # subscription_create refuses one too many too, but by then the admin can only answer a 500.
        organization = cleaned.get("organization")
        if self.instance.pk is None and organization is not None:
            if WebhookSubscription.objects.filter(organization=organization).count() >= MAX_SUBSCRIPTIONS:
                raise ValidationError(
                    f"an organization may have at most {MAX_SUBSCRIPTIONS} subscriptions; delete one first"
                )
        if cleaned.get("url"):
            try:
                url_check(cleaned["url"])
            except SubscriptionError as exc:
                raise ValidationError({"url": str(exc)}) from exc
        return cleaned


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["created_at", "event", "attempt", "replay", "succeeded", "status_code", "duration_ms", "error"]
    readonly_fields = fields
    ordering = ["-created_at"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(OrganizationScopedAdmin):
    form = SubscriptionForm
    list_display = ["url", "organization", "active", "delivered_sequence", "failed_attempts", "disabled_at"]
    list_filter = ["active", "organization"]
    search_fields = ["url", "description", "organization__name"]
    readonly_fields = [
        "delivered_sequence",
        "failed_attempts",
        "failing_since",
        "next_attempt_at",
        "disabled_at",
        "disabled_reason",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    ]
    actions = ["rotate_secret"]
    inlines = [DeliveryInline]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "organization"] if obj else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in ("url", "event_types", "active", "description")}
        if change:
            # The form already wrote its values on ``obj``: the service compares with the stored row.
            subscription_update(subscription=WebhookSubscription.objects.get(pk=obj.pk), **data)
            return
        organization = form.cleaned_data.get("organization") or request.user.organization
        created, secret = subscription_create(organization_id=organization.pk, **data)
        obj.pk = created.pk
        self.message_user(
            request, f"Secret for {created.url} (shown this once, store it now): {secret}", messages.WARNING
        )

    @admin.action(description="Rotate the secret (the old one signs too for 24 h)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for subscription in queryset:
            secret = secret_rotate(subscription=subscription)
            self.message_user(
                request, f"New secret for {subscription.url} (shown this once): {secret}", messages.WARNING
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    organization_field = "subscription__organization"
    list_display = [
        "created_at",
        "subscription",
        "event",
        "attempt",
        "replay",
        "succeeded",
        "status_code",
        "duration_ms",
    ]
    list_filter = ["succeeded", "replay"]
    list_select_related = ["subscription", "event"]
    search_fields = ["subscription__url", "error"]
