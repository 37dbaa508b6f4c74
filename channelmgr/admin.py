"""Staff admin for channel connections, their sync logs and inbound webhook events.

Credentials never reach a page: the form shows "set"/"not set" and offers a password field to
replace each one (blank keeps it) and a box to clear it.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.defaultfilters import truncatechars
from django.template.response import TemplateResponse
from django.utils.html import format_html

from adapters import registry
from adapters.base import Capability
from channelmgr.inbound.importer import ical_blocks, ical_hold_stamp
from channelmgr.models import CREDENTIAL_FIELDS, ENGINE_FIELDS, ChannelConnection, InboundEvent, SyncLog
from channelmgr.price_rules import PRICE_RULE_FIELDS, PriceRule, Rounding, rule_of
from channelmgr.services.connections import (
    UPDATABLE_FIELDS,
    ConnectionStateError,
    connection_create,
    connection_delete,
    connection_pause,
    connection_resume,
    connection_sync,
    connection_test,
    connection_update,
    connection_validate,
    ical_feed_change_confirm,
    rate_override_check,
)
from channelmgr.services.ical_export import (
    ical_export_feeds,
    ical_export_for,
    ical_export_previous_until,
    ical_export_rotate,
    ical_export_url,
)
from channelmgr.services.mapping import settings_ignored
from channelmgr.staff_calendar.admin import CalendarPropertyAdmin
from channelmgr.staff_home.status import connection_health, local_time
from pms_core.admin import ChangesWhatStaffChanged, OrganizationScopedAdmin, ReadOnlyAdmin
from pms_core.admin import UnitAdmin as BaseUnitAdmin
from pms_core.models import Property, Unit

RECENT_SYNC_LOGS = 20
PRICE_RULE_HELP = (
    "What this platform receives for a night: the PMS price plus the percentage, plus the amount, then "
    "rounded (x9: up to a whole amount ending in 9; x99: up to one ending in .99). A rule that gives a "
    "price of zero or less, or more than 100 times one of the unit's prices, is refused."
)


class ConnectionFormBase(ChangesWhatStaffChanged):
    """Writes through ``connection_create`` / ``connection_update``, the services the API calls, so a
    connection made or changed here is checked and recorded the same way. The unit and platform are
    fixed once the connection exists (read-only on the change page), as in the API."""

    class Meta:
        model = ChannelConnection
        # An allow-list, so a credential column added later is never shown by accident.
        fields = ["unit", "platform_type", *UPDATABLE_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "price_rule_rounding" in self.fields:  # left out: no rounding, as in the API
            self.fields["price_rule_rounding"].required = False

    def clean(self):
        cleaned = super().clean()
        for name in CREDENTIAL_FIELDS:
            if cleaned.get(f"new_{name}") and cleaned.get(f"clear_{name}"):
                raise ValidationError({f"clear_{name}": "Either replace or clear, not both."})
        rate_override_check(rate_limit=cleaned.get("rate_limit"), rate_window=cleaned.get("rate_window"))
        adding = self.instance.pk is None
        unit = cleaned.get("unit") if adding else self.instance.unit
        platform_type = cleaned.get("platform_type") if adding else self.instance.platform_type
        if unit and platform_type and "platform_metadata" not in self.errors:
            rule = PriceRule(
                percent=cleaned.get("price_rule_percent") or Decimal(0),
                amount=cleaned.get("price_rule_amount") or Decimal(0),
                rounding=cleaned.get("price_rule_rounding") or Rounding.NONE,
            )
            try:
                connection_validate(
                    unit=unit,
                    platform_type=platform_type,
                    platform_listing_id=cleaned.get("platform_listing_id", ""),
                    platform_metadata=cleaned.get("platform_metadata") or {},
                    credentials=self.credentials(),
                    connection=None if adding else self.instance,
                    price_rule=rule if adding or rule != rule_of(self.instance) else None,
                    feed_url=self.credentials().get("feed_url", "" if adding else self.instance.feed_url),
                )
            except ValidationError as exc:
                # A credential's error belongs on the field that replaces it.
                fields = getattr(exc, "error_dict", {})
                raise ValidationError(
                    {f"new_{name}" if name in CREDENTIAL_FIELDS else name: errors for name, errors in fields.items()}
                    or exc
                ) from None
        return cleaned

    def credentials(self) -> dict[str, str]:
        """The services' ``credentials``: a new value replaces one, an empty string clears it, and a
        credential left out keeps its value."""
        changed = {}
        for name in CREDENTIAL_FIELDS:
            if self.cleaned_data.get(f"clear_{name}"):
                changed[name] = ""
            elif self.cleaned_data.get(f"new_{name}"):
                changed[name] = self.cleaned_data[f"new_{name}"]
        return changed

    def save(self, commit=True):
        """Create or change the connection through the services and return it.

        With ``commit=False`` (the admin's ``save_form``) nothing is written: the admin calls
        ``save()`` from ``save_model``, once the inlines are valid too.
        """
        self.save_m2m = lambda: None  # no many-to-many fields; the admin calls it after saving
        if not commit:
            return self.instance
        fields = {name: self.cleaned_data[name] for name in UPDATABLE_FIELDS if name in self.cleaned_data}
        if self.instance.pk is not None:  # only what staff changed on the page (``ChangesWhatStaffChanged``)
            fields = {name: value for name, value in fields.items() if name in self.changed_data}
        if "platform_metadata" in fields or self.instance.pk is None:
            fields["platform_metadata"] = fields.get("platform_metadata") or {}
        if self.instance.pk is None:
            unit = self.cleaned_data["unit"]
            return connection_create(
                organization=unit.property.organization,
                unit=unit,
                platform_type=self.cleaned_data["platform_type"],
                credentials=self.credentials(),
                **fields,
            )
        # The stored row, not ``self.instance``: the form already copied the new values onto that, and
        # the service compares before with after to know what to push again (a new rule, a new mapping).
        stored = ChannelConnection.objects.get(pk=self.instance.pk)
        return connection_update(connection=stored, credentials=self.credentials(), **fields)


def _credential_form_fields() -> dict:
    """Per credential: a password field that replaces it (blank keeps it) and a box that clears it."""
    fields = {}
    for name in CREDENTIAL_FIELDS:
        label = name.replace("_", " ")
        fields[f"new_{name}"] = forms.CharField(
            label=f"New {label}",
            required=False,
            strip=name != "password",
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text="Leave blank to keep the current value.",
        )
        fields[f"clear_{name}"] = forms.BooleanField(label=f"Clear {label}", required=False)
    return fields


# Declared through the form metaclass so the admin knows the fields (fieldsets name them).
ConnectionForm = type("ConnectionForm", (ConnectionFormBase,), {"__module__": __name__, **_credential_form_fields()})


class SyncLogInline(admin.TabularInline):
    model = SyncLog
    verbose_name_plural = f"Recent sync logs (newest {RECENT_SYNC_LOGS})"
    fields = ["started_at", "direction", "kind", "status", "duration_ms", "request_count", "error", "correlation_id"]
    readonly_fields = fields
    ordering = ["-started_at", "-id"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        connection_id = getattr(request, "_connection_id", None)
        if connection_id is None:
            return qs
        newest = qs.filter(connection_id=connection_id).order_by("-started_at", "-id")[:RECENT_SYNC_LOGS]
        return qs.filter(pk__in=list(newest.values_list("pk", flat=True)))

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ChannelConnection)
class ChannelConnectionAdmin(OrganizationScopedAdmin):
    form = ConnectionForm
    list_display = [
        "id",
        "platform_type",
        "platform_listing_id",
        "unit",
        "organization",
        "status",
        "health",
        "last_checked",
        "last_synced",
        "short_last_error",
    ]
    list_filter = ["platform_type", "status", "healthy", "organization"]
    list_select_related = ["unit__property", "organization"]
    search_fields = ["platform_listing_id", "unit__name", "unit__property__name", "organization__name"]
    autocomplete_fields = ["unit"]
    readonly_fields = [
        "organization",
        "ignored_settings",
        "credentials_status",
        *ENGINE_FIELDS,
        "created_at",
        "updated_at",
    ]
    actions = ["test_connections", "sync_now", "pause", "resume", "confirm_ical_feed_change"]
    inlines = [SyncLogInline]

    def get_fieldsets(self, request, obj=None):
        credentials = [field for name in CREDENTIAL_FIELDS for field in (f"new_{name}", f"clear_{name}")]
        return [
            (
                None,
                {
                    "fields": [
                        "unit",
                        "platform_type",
                        "platform_listing_id",
                        "platform_metadata",
                        "organization",
                        "ignored_settings",
                    ]
                },
            ),
            ("Credentials", {"fields": ["credentials_status", "token_expires_at", *credentials]}),
            ("Price rule", {"fields": list(PRICE_RULE_FIELDS), "description": PRICE_RULE_HELP}),
            ("Rate limit override", {"fields": ["rate_limit", "rate_window"], "classes": ["collapse"]}),
            ("Health", {"fields": ["status", "healthy", "last_health_check_at", "last_error", "last_sync_at"]}),
            (
                "Sync bookkeeping",
                {
                    "fields": [
                        "sync_cursor",
                        "last_polled_at",
                        "pulled_through",
                        "last_push_at",
                        "created_at",
                        "updated_at",
                    ],
                    "classes": ["collapse"],
                },
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["unit", "platform_type"] if obj is not None else []
        return [*fixed, *super().get_readonly_fields(request, obj)]

    def save_model(self, request, obj, form, change):
        saved = form.save()  # connection_create / connection_update
        if saved is not obj:  # created: the service built the row; the admin goes on with ``obj``
            obj.pk = saved.pk
            obj._state.adding = False
            obj.refresh_from_db()

    # Deleting is what DELETE /connections/{id} does (``connection_delete``): the row and its sync logs
    # stay, marked deleted, so the unit may be connected again. Django's own delete would remove them
    # with their dirty ranges and acknowledgements, or refuse because of the read-only sync logs.
    def get_deleted_objects(self, objs, request):
        objs = list(objs)
        return [str(obj) for obj in objs], {self.model._meta.verbose_name_plural: len(objs)}, set(), []

    def delete_model(self, request, obj):
        connection_delete(connection=obj)

    def delete_queryset(self, request, queryset):
        for connection in queryset.exclude(status=ChannelConnection.Status.DELETED):
            connection_delete(connection=connection)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        request._connection_id = object_id  # lets the inline show only this connection's newest logs
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="PMS settings this channel ignores")
    def ignored_settings(self, connection):
        """What the platform's push cannot carry, so staff know before a night is sold on it."""
        if not connection.platform_type:
            return "shown once the platform is chosen"
        ignored = settings_ignored(connection.platform_type)
        return ", ".join(setting.label for setting in ignored) or "none: it carries every PMS setting"

    @admin.display(description="credentials")
    def credentials_status(self, connection):
        return format_html(
            "<br>".join(f"{name.replace('_', ' ')}: {{}}" for name in CREDENTIAL_FIELDS),
            *("set" if getattr(connection, name) else "not set" for name in CREDENTIAL_FIELDS),
        )

    @admin.display(description="health", ordering="healthy")
    def health(self, connection):
        """Healthy, unhealthy (why: in the cell's tooltip) or never checked: from the last test and pushes."""
        health = connection_health(connection)
        return format_html('<span title="{}">{}</span>', health.why, health.state)

    # Times in the property's timezone, the zone named: staff read them against the property's clock.
    @admin.display(description="last health check", ordering="last_health_check_at")
    def last_checked(self, connection):
        return local_time(connection.last_health_check_at, connection.unit.property.timezone)

    @admin.display(description="last sync", ordering="last_sync_at")
    def last_synced(self, connection):
        return local_time(connection.last_sync_at, connection.unit.property.timezone)

    @admin.display(description="last error", ordering="last_error")
    def short_last_error(self, connection):
        return truncatechars(connection.last_error, 80)

    @admin.action(description="Test connection (health check)", permissions=["change"])
    def test_connections(self, request, queryset):
        for connection in queryset.exclude(status=ChannelConnection.Status.DELETED):
            result = connection_test(connection=connection)
            level = messages.SUCCESS if result.healthy else messages.WARNING
            self.message_user(
                request, f"{connection}: {'healthy' if result.healthy else 'unhealthy'}: {result.message}", level
            )

    @admin.action(description="Sync now (full)", permissions=["change"])
    def sync_now(self, request, queryset):
        for connection in queryset.exclude(status=ChannelConnection.Status.DELETED):
            try:
                logs = connection_sync(connection=connection, sync_type="full")
            except ConnectionStateError as exc:
                self.message_user(request, f"{connection}: {exc}", messages.WARNING)
                continue
            self.message_user(request, f"{connection}: sync queued ({len(logs)} sync logs).", messages.SUCCESS)

    @admin.action(description="Pause", permissions=["change"])
    def pause(self, request, queryset):
        for connection in queryset:
            connection_pause(connection=connection)
        self.message_user(request, f"Paused {queryset.count()} connection(s).", messages.SUCCESS)

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request, queryset):
        for connection in queryset:
            connection_resume(connection=connection)
        self.message_user(request, f"Resumed {queryset.count()} connection(s).", messages.SUCCESS)

    @admin.action(description="Confirm the feed's held removal (release those blocks)", permissions=["change"])
    def confirm_ical_feed_change(self, request, queryset):
        """First a page that shows each feed's held removal (which blocks, which nights), then, once staff
        press "Yes", exactly those holds are confirmed: one a later poll replaced is refused, not applied."""
        feeds = queryset.filter(platform_type__in=registry.slugs(Capability.SNAPSHOT_FEED)).exclude(
            status=ChannelConnection.Status.DELETED
        )
        if request.POST.get("post") != "yes":
            return self._confirm_ical_feed_change_page(request, queryset, feeds)
        for connection in feeds:
            stamp = request.POST.get(f"stamp_{connection.pk}")
            if not stamp:
                self.message_user(request, f"{connection}: nothing was shown to confirm: look again.", messages.WARNING)
                continue
            try:
                removed = ical_feed_change_confirm(connection=connection, user=request.user, stamp=stamp)
            except ConnectionStateError as exc:
                self.message_user(request, f"{connection}: {exc}", messages.WARNING)
                continue
            self.message_user(request, f"{connection}: removed {removed} block(s) the feed dropped.", messages.SUCCESS)

    def _confirm_ical_feed_change_page(self, request, queryset, feeds):
        holds = []
        for connection in feeds:
            hold = connection.ical_hold
            if not hold:
                continue
            # The blocks a confirmation releases (``ical_hold_confirm``): the feed's own, still live.
            blocks = ical_blocks(connection).filter(channel_booking_id__in=hold["bookings"]).order_by("check_in")
            holds.append({"connection": connection, "hold": hold, "stamp": ical_hold_stamp(hold), "blocks": blocks})
        if not holds:
            self.message_user(request, "None of these feeds holds a removal.", messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Release the blocks these feeds dropped?",
            "opts": self.model._meta,
            "holds": holds,
            "selected": queryset.values_list("pk", flat=True),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/channelmgr/channelconnection/confirm_ical_feed_change.html", context)


@admin.register(SyncLog)
class SyncLogAdmin(ReadOnlyAdmin):
    organization_field = "connection__organization"
    list_display = ["id", "connection", "direction", "kind", "status", "started_at", "duration_ms", "request_count"]
    list_filter = ["status", "kind", "direction", "connection__platform_type"]
    list_select_related = ["connection__unit__property"]
    search_fields = ["correlation_id", "error", "=connection__id"]
    date_hierarchy = "started_at"


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    organization_field = "connection__organization"
    list_display = ["id", "platform", "kind", "event_key", "channel_booking_id", "status", "received_at", "attempts"]
    list_filter = ["platform", "status", "kind"]
    search_fields = ["event_key", "channel_booking_id", "correlation_id"]
    date_hierarchy = "received_at"
    # The payload and error as GET /inbound-events shows them: secret-named values and every known
    # credential redacted, never the stored text.
    exclude = ["payload", "error"]
    readonly_fields = ["redacted_payload", "redacted_error"]

    @admin.display(description="payload (secrets redacted)")
    def redacted_payload(self, event):
        from channelmgr.api.inbound_events import event_secrets, redacted

        return format_html("<pre>{}</pre>", json.dumps(redacted(event.payload, event_secrets(event)), indent=2))

    @admin.display(description="error (secrets redacted)")
    def redacted_error(self, event):
        from channelmgr.api.inbound_events import event_secrets, redacted

        return redacted(event.error, event_secrets(event))


# The unit page also shows the unit's iCal export URL. pms_core knows nothing about channels, so the
# channel manager extends its unit admin rather than the other way round.
admin.site.unregister(Unit)


@admin.register(Unit)
class UnitAdmin(BaseUnitAdmin):
    readonly_fields = ["ical_feed_url"]
    actions = [*(BaseUnitAdmin.actions or []), "rotate_ical_export"]

    @admin.display(description="iCal export URL")
    def ical_feed_url(self, unit):
        if unit.pk is None:
            return "available once the unit is saved"
        export = ical_export_for(unit)
        until = ical_export_previous_until(export)
        shown = format_html("{}", ical_export_url(export))
        if until is not None:
            shown = format_html("{}<br><small>the URL it replaced answers until {}</small>", shown, until)
        # A platform whose calendar this unit imports gets its own: without the blocks that came from it.
        for feed in ical_export_feeds(export):
            url = ical_export_url(export, feed=feed)
            shown = format_html("{}<br>for the platform behind {}: {}", shown, feed.platform_listing_id, url)
        return shown

    @admin.action(
        description="Rotate the iCal export URL (the old one answers for a grace period)", permissions=["change"]
    )
    def rotate_ical_export(self, request, queryset):
        for unit in queryset:
            export = ical_export_rotate(unit=unit)
            until = ical_export_previous_until(export)
            then = f"; the old URL answers until {until:%Y-%m-%d %H:%M %Z}" if until else ""
            self.message_user(request, f"{unit}: new iCal export URL {ical_export_url(export)}{then}", messages.SUCCESS)


# The property page links to the staff calendar, which reads connections: registered from here for the
# same reason as the unit admin above.
admin.site.unregister(Property)
admin.site.register(Property, CalendarPropertyAdmin)
