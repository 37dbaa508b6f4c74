"""The staff home page, its JSON figures (the page polls them to stay current) and its actions.

Thin: reads come from ``selectors``, writes go through the same services the admin actions and the API
call. Everything is scoped to the user's organization: another tenant's booking or connection is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from channelmgr.models import ChannelConnection
from channelmgr.services.connections import connection_resume, connection_test
from channelmgr.services.oauth import oauth_start_url, oauth_supported
from channelmgr.staff_home.selectors import (
    free_unit_for,
    home_counts,
    live_connections,
    organization_of,
    staff_home,
)
from pms_core.errors import BookingClash
from pms_core.models import Booking
from pms_core.services.overbookings import (
    ChangedSinceShown,
    NotOverbooked,
    Resolution,
    overbooking_resolve,
    shown_read,
)

TEMPLATES = "admin/channelmgr/staff_home"
REFRESH_SECONDS = 10
CONNECTION_ACTIONS = ("test", "resume", "reconnect")


def _figures(request, home) -> str:
    return render_to_string(f"{TEMPLATES}/_figures.html", {"home": home}, request=request)


def home_view(request, *, site, extra_context=None):
    request.current_app = site.name
    home = staff_home(request.user)
    context = {
        **site.each_context(request),
        "title": site.index_title,
        "subtitle": None,
        "home": home,
        "counts": home_counts(home),
        "figures": _figures(request, home),
        "refresh_seconds": REFRESH_SECONDS,
        "app_list": site.get_app_list(request),
        **(extra_context or {}),
    }
    return TemplateResponse(request, f"{TEMPLATES}/index.html", context)


def home_json_view(request):
    """The page's figures: counts, sync lag per platform and the sections rendered, for the page to swap in."""
    home = staff_home(request.user)
    answer = JsonResponse(
        {
            "generated_at": home.generated_at.isoformat(),
            "counts": home_counts(home),
            "lag": [{"platform": x.platform, "pushes": x.pushes, "p50": x.p50, "p95": x.p95} for x in home.lag],
            "html": _figures(request, home),
        }
    )
    answer["Cache-Control"] = "no-store"
    return answer


def _back(request):
    return HttpResponseRedirect(reverse("admin:index"))


@require_POST
def overbooking_resolve_view(request, booking_id: int):
    if not request.user.has_perm("pms_core.change_booking"):
        raise PermissionDenied("resolving an overbooking changes bookings")
    bookings = Booking.objects.filter(status=Booking.Status.OVERBOOKED)
    organization_id = organization_of(request.user)
    if organization_id is not None:
        bookings = bookings.filter(unit__property__organization_id=organization_id)
    booking = get_object_or_404(bookings.select_related("unit__property"), pk=booking_id)
    resolution = request.POST.get("resolution", "")
    if resolution not in Resolution.values:
        return HttpResponseBadRequest(f"resolution must be one of {', '.join(Resolution.values)}")
    # A decision is about the stay, the clash and the unit the page showed (its hidden fields): if the
    # platform moved the stay meanwhile, "cancel the other" must not cancel a guest the page never showed.
    try:
        shown = shown_read(
            booking=booking,
            resolution=resolution,
            updated_at=request.POST["updated_at"],
            clashes_with=request.POST["clashes_with"],
            unit=request.POST.get("unit", ""),
        )
    except (KeyError, ValueError):
        return HttpResponseBadRequest("this decision does not say what it was made on: reload the page")
    unit = shown.unit
    if resolution == Resolution.MOVE and unit is None:
        unit = free_unit_for(booking)
        if unit is None:
            messages.error(request, f"#{booking.pk}: no other unit of {booking.unit.property} is free then")
            return _back(request)
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
        messages.error(request, f"#{booking.pk}: {exc}")
        return _back(request)
    messages.success(request, f"#{booking.pk}: {Resolution(resolution).label}: done.")
    if outcome.platform_notice:
        messages.warning(request, f"#{booking.pk}: {outcome.platform_notice}")
    return _back(request)


def connection_action_view(request, connection_id: int, action: str):
    """Re-test or resume (POST), or reconnect: the platform's consent page for OAuth platforms, the
    connection's page (to replace its credentials) for the others."""
    if action not in CONNECTION_ACTIONS:
        raise Http404("no such action")
    if not request.user.has_perm("channelmgr.change_channelconnection"):
        raise PermissionDenied(f"{action} changes the connection")
    connection = get_object_or_404(live_connections(organization_of(request.user)), pk=connection_id)
    if action == "reconnect":
        if oauth_supported(connection.platform_type):
            return HttpResponseRedirect(oauth_start_url(connection=connection, user_id=request.user.pk))
        return HttpResponseRedirect(reverse("admin:channelmgr_channelconnection_change", args=[connection.pk]))
    if request.method != "POST":
        return HttpResponseBadRequest(f"{action} changes the connection: POST it")
    if action == "test":
        result = connection_test(connection=connection)
        level = messages.SUCCESS if result.healthy else messages.WARNING
        messages.add_message(
            request, level, f"{connection}: {'healthy' if result.healthy else 'unhealthy'}: {result.message}"
        )
    else:
        connection_resume(connection=connection)
        connection.refresh_from_db()
        if connection.status == ChannelConnection.Status.ACTIVE:
            messages.success(request, f"{connection}: resumed; a full sync is on its way.")
        else:
            messages.warning(request, f"{connection}: {connection.status}, not resumed.")
    return _back(request)
