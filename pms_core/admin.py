"""Staff admin for the PMS core.

Calendar days and bookings are read-only here: every change to them must go through the services,
which check clashes and record the outbox event that pushes the change to the channels. The writes
offered (cancel, and the decisions on an overbooking) call the services.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils.html import format_html

from pms_core.api.schema import MAX_ID
from pms_core.errors import BookingClash
from pms_core.models import Booking, BookingTransition, CalendarDay, Organization, OutboxEvent, Property, Unit, User
from pms_core.services import booking_cancel
from pms_core.services.catalog import property_update, property_validate, unit_update, unit_validate
from pms_core.services.overbookings import (
    ChangedSinceShown,
    NotOverbooked,
    Resolution,
    overbooking_resolve,
    shown_read,
)
from pms_core.services.stays import find_clash


def _beyond_bigint(value) -> bool:
    """Whether ``value`` is an integer no column holds. The SQLite driver raises ``OverflowError`` for one
    only when the query runs, past the admin's own checks."""
    try:
        return not -(MAX_ID + 1) <= int(value) <= MAX_ID
    except (TypeError, ValueError):
        return False


class CheckedChangeList(ChangeList):
    """A drill-down or filter value no query can take gets the admin's "?e=1" redirect, like ``year=abc``.

    Django catches the ``ValueError`` of a bad first day only, not that of the end it computes from it
    (year 9999 + 1) nor an ``OverflowError`` (a 20-digit month).
    """

    def get_filters(self, request):
        for key, values in self.get_filters_params().items():
            if any(_beyond_bigint(part) for value in values for part in value.split(",")):  # "," for __in
                raise IncorrectLookupParameters(f"{key}: out of range")
            if any("\x00" in value for value in values):  # Postgres refuses a NUL in a text parameter
                raise IncorrectLookupParameters(f"{key}: not text")
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class OrganizationScopedAdmin(admin.ModelAdmin):
    """Superusers see every tenant; other staff only their own organization's rows (none without one).

    ``organization_field`` is the lookup from the model to its organization.
    """

    organization_field = "organization"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        if request.user.organization_id is None:
            return qs.none()
        return qs.filter(**{self.organization_field: request.user.organization_id})

    def get_changelist(self, request, **kwargs):
        return CheckedChangeList

    def response_action(self, request, queryset):
        # Django filters ``pk__in`` with the posted ids unchecked: a forged one would be a server error.
        try:
            ids = [self.opts.pk.to_python(value) for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)]
        except ValidationError:
            ids = None
        if ids is None or any(isinstance(pk, int) and _beyond_bigint(pk) for pk in ids):
            self.message_user(request, "The selection names no row. No items have been changed.", messages.ERROR)
            return None
        return super().response_action(request, queryset)

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        # A related filter lists every row of its model, other tenants' too: staff get only the ones
        # their own rows point at.
        return [_related_only(self.model, spec) for spec in filters]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scope = TENANT_LOOKUPS.get(db_field.related_model)
        if scope and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model.objects.filter(**{scope: request.user.organization_id})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _related_only(model, spec):
    if isinstance(spec, str) and get_fields_from_path(model, spec)[-1].is_relation:
        return (spec, admin.RelatedOnlyFieldListFilter)
    return spec


# How each tenant-owned model reaches its organization, for choices in forms.
TENANT_LOOKUPS = {Organization: "pk", Property: "organization", Unit: "property__organization"}


class ReadOnlyAdmin(OrganizationScopedAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _live_listings(units) -> bool:
    """Whether a live (not deleted) channel connection serves any of ``units``: deleting those would
    leave their listings on sale, with nowhere for the platforms' bookings to land."""
    connection = Unit.connections.rel.related_model  # channelmgr's, without pms_core importing it
    return connection.objects.filter(unit__in=units).exclude(status="deleted").exists()


class NoDeleteUnderLiveListings:
    """A unit or property is deleted one at a time, and only while no live connection serves it (the
    API offers no delete at all): disconnect its listings first. "Delete selected" is not offered, as it
    would delete whole querysets past that check."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None):
        if obj is not None and _live_listings(self.units_of(obj)):
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Organization)
class OrganizationAdmin(NoDeleteUnderLiveListings, OrganizationScopedAdmin):
    organization_field = "pk"
    list_display = ["name", "created_at"]
    search_fields = ["name"]

    def units_of(self, organization):
        return Unit.objects.filter(property__organization=organization)


@admin.register(User)
class UserAdmin(OrganizationScopedAdmin, DjangoUserAdmin):
    list_display = ["username", "email", "organization", "is_staff", "is_active"]
    list_filter = ["organization", "is_staff", "is_superuser", "is_active"]
    list_select_related = ["organization"]
    fieldsets = [*DjangoUserAdmin.fieldsets, ("Tenant", {"fields": ["organization"]})]
    add_fieldsets = [*DjangoUserAdmin.add_fieldsets, ("Tenant", {"fields": ["organization"]})]
    # A superuser sees every tenant, and groups and permissions are shared by all of them: only a
    # superuser grants either. Read-only fields are left out of the form, so a forged POST is ignored.
    superuser_only_fields = ["is_superuser", "groups", "user_permissions"]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return fields if request.user.is_superuser else [*fields, *self.superuser_only_fields]

    def has_change_permission(self, request, obj=None):
        # Covers the password form too: Django checks this permission there.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class ChangesWhatStaffChanged(forms.ModelForm):
    """On a change page, ``changed_data`` is what staff changed on the page, not what differs from the
    row when they save: each field carries the value the page showed (``show_hidden_initial``). Another
    writer's change committed meanwhile (an integrator's new base price) then stands, where the page's
    stale value used to be written back over it. A post without those hidden values counts every field
    as changed, as before."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name in self._meta.model._meta.fields:
                if name.name in self.fields:
                    self.fields[name.name].show_hidden_initial = True


class PropertyForm(ChangesWhatStaffChanged):
    """Refuses what the API refuses, on the field: a currency some price of its units does not fit."""

    def clean(self):
        data = super().clean()
        if data.get("currency") and data.get("timezone"):
            prop = Property(pk=self.instance.pk, currency=data["currency"], timezone=data["timezone"])
            property_validate(prop=prop)  # a ValidationError naming the field lands on that field
        return data


@admin.register(Property)
class PropertyAdmin(NoDeleteUnderLiveListings, OrganizationScopedAdmin):
    list_display = ["name", "organization", "timezone", "currency", "created_at"]
    list_filter = ["organization", "currency"]
    list_select_related = ["organization"]
    search_fields = ["name", "organization__name"]
    form = PropertyForm

    def units_of(self, prop):
        return Unit.objects.filter(property=prop)

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Through the write that announces a new currency to the channels.
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        property_update(prop=obj, **fields)  # it reads the row again, under its lock


class UnitForm(ChangesWhatStaffChanged):
    """Refuses what the API refuses, on the field: a base price with more decimals than the property's
    currency has (JPY 12000.50), a default max stay below the min stay."""

    def clean(self):
        data = super().clean()
        prop = data.get("property") or getattr(self.instance, "property", None)
        if prop is not None and data.get("base_price") is not None and data.get("default_min_stay"):
            names = ("property", "base_price", "default_min_stay", "default_max_stay", "max_guests")
            values = {name: data.get(name) for name in names}
            stored = Unit.objects.filter(pk=self.instance.pk).values(*names).first() if self.instance.pk else None
            if stored is not None:
                # What the save writes: the row as it is now, with what staff changed on the page. Checked
                # as the page showed it, a min stay another writer raised meanwhile slipped past, and the
                # save was a server error.
                values = {name: values[name] if name in self.changed_data else stored[name] for name in names}
                values["property"] = (
                    prop if "property" in self.changed_data else Property.objects.get(pk=stored["property"])
                )
            unit = Unit(pk=self.instance.pk, **values)
            unit_validate(unit=unit)  # a ValidationError naming the field lands on that field
        return data


@admin.register(Unit)
class UnitAdmin(NoDeleteUnderLiveListings, OrganizationScopedAdmin):
    form = UnitForm
    organization_field = "property__organization"
    list_display = ["name", "property", "base_price", "default_min_stay", "default_max_stay", "max_guests"]
    list_filter = ["property__organization", "property"]
    list_select_related = ["property"]
    search_fields = ["name", "property__name"]
    autocomplete_fields = ["property"]

    def units_of(self, unit):
        return [unit]

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Through the write that announces a new base price or min stay to the channels.
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        unit_update(unit=obj, **fields)  # it reads the row again, under its lock


@admin.register(CalendarDay)
class CalendarDayAdmin(ReadOnlyAdmin):
    organization_field = "unit__property__organization"
    list_display = [
        "unit",
        "date",
        "price",
        "min_stay",
        "max_stay",
        "closed_to_arrival",
        "closed_to_departure",
        "stop_sell",
    ]
    list_filter = ["stop_sell", "closed_to_arrival", "closed_to_departure", "unit__property__organization", "unit"]
    list_select_related = ["unit__property"]
    search_fields = ["unit__name", "unit__property__name"]
    date_hierarchy = "date"


class BookingTransitionInline(admin.TabularInline):
    model = BookingTransition
    fields = ["created_at", "action", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "history (who changed its status, when and why)"

    def has_add_permission(self, request, obj=None):
        return False


def _free_unit(booking: Booking) -> Unit | None:
    """Another unit of the booking's property whose nights are free, by name."""
    for unit in booking.unit.property.units.exclude(pk=booking.unit_id).order_by("name", "pk"):
        if find_clash(unit_id=unit.pk, check_in=booking.check_in, check_out=booking.check_out) is None:
            return unit
    return None


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    organization_field = "unit__property__organization"
    # Who and from where first, the stay in one column: with the sidebar and the filters open, a
    # 1366 px window still shows the guest and the source without scrolling.
    list_display = ["id", "guest_name", "source", "stay", "status_badge", "kind", "unit", "clashes_with"]
    list_filter = ["status", "kind", "source", "sub_channel", "payment_model", "unit__property__organization"]
    list_select_related = ["unit__property"]
    search_fields = ["guest_name", "guest_email", "channel_booking_id", "=id"]
    date_hierarchy = "check_in"
    actions = [
        "cancel_direct_bookings",
        "resolve_accept",
        "resolve_cancel",
        "resolve_cancel_other",
        "resolve_move",
    ]
    inlines = [BookingTransitionInline]

    def get_fieldsets(self, request, obj=None):
        details = list(Booking.PLATFORM_DETAIL_FIELDS)
        stay = [name for name in self.get_fields(request, obj) if name not in details]
        return [(None, {"fields": stay}), ("What the platform told us", {"fields": details})]

    @admin.display(description="stay", ordering="check_in")
    def stay(self, booking):
        """Check-in to check-out: "14 Dec – 16 Dec 2026" (the check-out day is not a night of the stay)."""
        return f"{booking.check_in:%d %b} – {booking.check_out:%d %b %Y}"

    @admin.display(description="status", ordering="status")
    def status_badge(self, booking):
        if booking.status == Booking.Status.OVERBOOKED:
            accepted = " (accepted)" if booking.overbooking_accepted_at else ""
            return format_html(
                '<strong style="color:#fff;background:#ba2121;padding:2px 6px;border-radius:3px">'
                "OVERBOOKED</strong> clashes with #{}{}",
                booking.clashes_with_id or "?",
                accepted,
            )
        return booking.status

    def has_decide_permission(self, request) -> bool:
        """The list actions change bookings: the rows are read-only here, the model permission decides."""
        return request.user.has_perm(f"{self.opts.app_label}.change_booking")

    def _resolve(self, request, queryset, resolution: str):
        """First a page that shows each selected overbooking (its stay, the stay it clashes with, the unit a
        move goes to); once staff press "Yes", each decision is applied to the overbooking as shown, and one
        that changed since (the platform moved the guest onto other nights) is refused, not applied to what
        it is now."""
        if request.POST.get("post") != "yes":
            return self._confirm_resolution_page(request, queryset, resolution)
        done, problems = 0, []
        for booking in queryset:
            try:
                shown = shown_read(
                    booking=booking,
                    resolution=resolution,
                    updated_at=request.POST[f"shown_{booking.pk}"],
                    clashes_with=request.POST[f"clash_{booking.pk}"],
                    unit=request.POST.get(f"unit_{booking.pk}", ""),
                )
            except (KeyError, ValueError):
                problems.append(f"#{booking.pk}: it was not shown before deciding: look again")
                continue
            unit = shown.unit
            if resolution == Resolution.MOVE and unit is None:
                problems.append(f"#{booking.pk}: no other unit of {booking.unit.property} is free then")
                continue
            try:
                outcome = overbooking_resolve(
                    booking=booking,
                    resolution=resolution,
                    actor=request.user.get_username(),
                    unit=unit,
                    shown_updated_at=shown.updated_at,
                    shown_clash_id=shown.clash_id,
                )
            except (NotOverbooked, BookingClash, ChangedSinceShown) as exc:
                problems.append(f"#{booking.pk}: {exc}")
                continue
            done += 1
            if outcome.platform_notice:
                self.message_user(request, f"#{booking.pk}: {outcome.platform_notice}", messages.WARNING)
        if done:
            self.message_user(request, f"{Resolution(resolution).label}: {done} done.", messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.ERROR)
        return None

    def _confirm_resolution_page(self, request, queryset, resolution: str):
        rows = [
            {"booking": booking, "unit": _free_unit(booking) if resolution == Resolution.MOVE else None}
            for booking in queryset.select_related("unit__property", "clashes_with")
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"{Resolution(resolution).label}?",
            "opts": self.model._meta,
            "rows": rows,
            "resolution": resolution,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/pms_core/booking/confirm_resolution.html", context)

    @admin.action(description="Overbooking: accept it knowingly (it keeps its nights)", permissions=["decide"])
    def resolve_accept(self, request, queryset):
        return self._resolve(request, queryset, Resolution.ACCEPT)

    @admin.action(description="Overbooking: cancel the overbooked stay", permissions=["decide"])
    def resolve_cancel(self, request, queryset):
        return self._resolve(request, queryset, Resolution.CANCEL)

    @admin.action(description="Overbooking: cancel the stay it clashes with", permissions=["decide"])
    def resolve_cancel_other(self, request, queryset):
        return self._resolve(request, queryset, Resolution.CANCEL_OTHER)

    @admin.action(description="Overbooking: move it to a free unit of the same property", permissions=["decide"])
    def resolve_move(self, request, queryset):
        return self._resolve(request, queryset, Resolution.MOVE)

    @admin.action(description="Cancel selected direct bookings and blocks", permissions=["decide"])
    def cancel_direct_bookings(self, request, queryset):
        cancelled = skipped = 0
        for booking in queryset:
            if booking.source != Booking.DIRECT:
                skipped += 1
                continue
            booking_cancel(booking=booking, actor=request.user.get_username())
            cancelled += 1
        self.message_user(request, f"Cancelled {cancelled}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} from platforms: cancel those on the platform.", messages.WARNING
            )


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    organization_field = "unit__property__organization"
    list_display = ["id", "event_type", "unit", "start", "end", "source", "created_at", "dispatched_at", "consumed_at"]
    list_filter = ["event_type", "source"]
    search_fields = ["correlation_id", "=booking__id"]
