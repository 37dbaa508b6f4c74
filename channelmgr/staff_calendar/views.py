"""Thin admin views over the staff calendar selectors. Staff only (wrapped by ``admin_view``) with the
view permission on properties, scoped by organization: another tenant's property or unit is a 404."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from channelmgr.staff_calendar.selectors import (
    DEFAULT_DAYS,
    night_explanation,
    properties_for_staff,
    property_calendar,
    source_colours,
)
from pms_core.models import Unit
from pms_core.services.catalog import property_today

TEMPLATES = "admin/channelmgr/staff_calendar"


# Dates a page may show: far enough for any stay, and far from the calendar's ends (9999-12-31 + 1 day
# overflows, a server error).
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(9000, 12, 31)


def _start(value: str | None, prop) -> dt.date:
    try:
        start = dt.date.fromisoformat(value) if value else property_today(prop)
    except ValueError:
        start = None
    # A mistyped or far-off ?start= shows today rather than an error page.
    return start if start is not None and EARLIEST <= start <= LATEST else property_today(prop)


def _days(value: str | None) -> int:
    # ASCII digits only: isdigit() also takes "²", which int() refuses, as it does past 4300 digits. The
    # selector clamps to MAX_DAYS, so a longer number is a mistyped value, not a wish for the maximum.
    if value and value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    return DEFAULT_DAYS


def _visible_property(request, model_admin, property_id: int):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    return get_object_or_404(properties_for_staff(request.user), pk=property_id)


def _page_context(request, model_admin, prop, title: str) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "is_nav_sidebar_enabled": False,  # the timeline needs the width
        "title": title,
        "opts": model_admin.model._meta,
        "original": prop,
        "source_colours": source_colours(),
    }


def property_calendar_view(request, model_admin, property_id: int):
    prop = _visible_property(request, model_admin, property_id)
    calendar = property_calendar(
        property=prop, start=_start(request.GET.get("start"), prop), days=_days(request.GET.get("days"))
    )
    context = {
        **_page_context(request, model_admin, prop, f"Calendar: {prop.name}"),
        "calendar": calendar,
        "today": property_today(prop),
    }
    return TemplateResponse(request, f"{TEMPLATES}/calendar.html", context)


def night_view(request, model_admin, property_id: int, unit_id: int, date: str):
    """The explanation of one night: a fragment for the calendar's panel, or a page of its own."""
    prop = _visible_property(request, model_admin, property_id)
    unit = get_object_or_404(Unit, pk=unit_id, property=prop)
    try:
        night = dt.date.fromisoformat(date)
    except ValueError:
        raise Http404("not a date") from None
    if not EARLIEST <= night <= LATEST:
        raise Http404("no such night")
    explanation = night_explanation(unit=unit, date=night)
    fragment = request.GET.get("fragment") == "1"
    context = {"explanation": explanation, "property": prop}
    if not fragment:
        context |= _page_context(request, model_admin, prop, f"{unit.name}, night of {night:%a %d %b %Y}")
    return TemplateResponse(request, f"{TEMPLATES}/{'_night' if fragment else 'night'}.html", context)
