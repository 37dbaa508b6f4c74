"""Alerts in the admin: each organization chooses its recipients; the alerts and the mails that carried
them are read-only records. Staff see their own organization's only (``OrganizationScopedAdmin``)."""

from __future__ import annotations

from django.contrib import admin

from alerts.models import Alert, AlertMail, AlertRecipient
from pms_core.admin import OrganizationScopedAdmin, ReadOnlyAdmin


@admin.register(AlertRecipient)
class AlertRecipientAdmin(OrganizationScopedAdmin):
    list_display = ["email", "name", "organization", "is_active", "overbookings", "connections", "unacknowledged"]
    list_filter = ["is_active", "overbookings", "connections", "unacknowledged"]
    list_select_related = ["organization"]
    search_fields = ["email", "name"]
    fields = ["organization", "email", "name", "is_active", "overbookings", "connections", "unacknowledged"]

    def get_changeform_initial_data(self, request):
        # Staff add recipients to their own organization (its choices are scoped to it as well).
        return {"organization": request.user.organization_id, **super().get_changeform_initial_data(request)}


class AlertInline(admin.TabularInline):
    model = Alert
    fields = ["created_at", "summary", "details", "link"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AlertMail)
class AlertMailAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "subject", "status", "recipients", "sent_at"]
    list_filter = ["kind", "status"]
    search_fields = ["subject", "recipients"]
    inlines = [AlertInline]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "summary", "mail_status"]
    list_filter = ["kind"]
    list_select_related = ["mail"]
    search_fields = ["summary", "details"]

    @admin.display(description="mail")
    def mail_status(self, alert):
        if alert.mail is None:
            return "pending (grouped into the next mail)"
        return alert.mail.get_status_display()
