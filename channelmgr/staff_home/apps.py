from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """``django.contrib.admin`` with the channel manager's site: the staff home as its index."""

    default_site = "channelmgr.staff_home.site.StaffAdminSite"
