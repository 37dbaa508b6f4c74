"""The admin site staff log into: the staff home is its index and "View site" leads there too.

Staff see the business (properties, bookings, connections, sync logs); superusers also see the machinery
(outbox events, tasks, calendar-day rows, tokens, groups) in a "System" section. The machinery's admins
are registered by their own apps too, so the site wraps whichever admin class registers a system model.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models.base import ModelBase
from django.urls import path, reverse_lazy

# app_label.model_name of the models only superusers see, under "System".
SYSTEM_MODELS = frozenset(
    {
        "pms_core.outboxevent",
        "pms_core.calendarday",
        "django_dramatiq.task",
        "authtoken.token",
        "authtoken.tokenproxy",
        "auth.group",
    }
)
SYSTEM_SECTION = "System"


class SuperuserOnly:
    """Mixed into a system model's admin: staff who are not superusers get neither the link nor the URL."""

    def has_module_permission(self, request):
        return request.user.is_superuser and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args, **kwargs):
        return request.user.is_superuser and super().has_add_permission(request, *args, **kwargs)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class StaffAdminSite(admin.AdminSite):
    site_header = site_title = "Channel manager"
    index_title = "Home"
    site_url = reverse_lazy("admin:index")  # "View site" is the staff home, not a 404 at "/"

    def register(self, model_or_iterable, admin_class=None, **options):
        models = [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else list(model_or_iterable)
        for model in models:
            chosen = admin_class or admin.ModelAdmin
            if model._meta.label_lower in SYSTEM_MODELS:
                chosen = type(chosen.__name__, (SuperuserOnly, chosen), {"__module__": chosen.__module__})
            super().register(model, chosen, **options)

    def get_app_list(self, request, app_label=None):
        """The apps as Django lists them, with the machinery moved into one "System" section at the end."""
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        system, business = [], []
        for app in apps:
            models = [m for m in app["models"] if m["model"]._meta.label_lower not in SYSTEM_MODELS]
            system += [m for m in app["models"] if m["model"]._meta.label_lower in SYSTEM_MODELS]
            if models:
                business.append({**app, "models": models})
        if system:
            business.append(
                {
                    "name": SYSTEM_SECTION,
                    "app_label": "system",
                    "app_url": "#system",
                    "has_module_perms": True,
                    "models": sorted(system, key=lambda m: m["name"]),
                }
            )
        return business

    def index(self, request, extra_context=None):
        from channelmgr.staff_home.views import home_view

        return home_view(request, site=self, extra_context=extra_context)

    def get_urls(self):
        from channelmgr.staff_home import views

        wrap = self.admin_view
        return [
            path("home.json", wrap(views.home_json_view), name="staff_home_json"),
            path(
                "home/overbookings/<int:booking_id>/resolve/",
                wrap(views.overbooking_resolve_view),
                name="staff_home_resolve",
            ),
            path(
                "home/connections/<int:connection_id>/<str:action>/",
                wrap(views.connection_action_view),
                name="staff_home_connection",
            ),
            *super().get_urls(),
        ]
