"""The property admin with a calendar: a column and an object-tool link, and the two calendar URLs."""

from __future__ import annotations

from functools import partial

from django.contrib import admin
from django.urls import path, reverse
from django.utils.html import format_html

from channelmgr.staff_calendar import views
from pms_core.admin import PropertyAdmin as BasePropertyAdmin


class CalendarPropertyAdmin(BasePropertyAdmin):
    list_display = [*BasePropertyAdmin.list_display, "calendar_link"]
    change_form_template = "admin/channelmgr/staff_calendar/property_change_form.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<int:property_id>/calendar/",
                wrap(partial(views.property_calendar_view, model_admin=self)),
                name=f"{info}_calendar",
            ),
            path(
                "<int:property_id>/calendar/<int:unit_id>/<str:date>/",
                wrap(partial(views.night_view, model_admin=self)),
                name=f"{info}_calendar_night",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="calendar")
    def calendar_link(self, prop):
        return format_html('<a href="{}">Calendar</a>', reverse("admin:pms_core_property_calendar", args=[prop.pk]))
