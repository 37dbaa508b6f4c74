from pms_core.api.base import route
from pms_core.api.bookings import (
    BookingCancelApi,
    BookingDetailApi,
    BookingListCreateApi,
    BookingResolveApi,
    BookingTransitionListApi,
)
from pms_core.api.calendar import CalendarBlockApi, CalendarSetApi, CalendarUnblockApi
from pms_core.api.properties import PropertyDetailApi, PropertyListCreateApi
from pms_core.api.revisions import BookingRevisionAckApi, BookingRevisionListApi
from pms_core.api.units import UnitCalendarApi, UnitDetailApi, UnitListCreateApi

urlpatterns = [
    *route("properties", PropertyListCreateApi, "property-list"),
    *route("properties/<str:id>", PropertyDetailApi, "property-detail"),
    *route("units", UnitListCreateApi, "unit-list"),
    *route("units/<str:id>", UnitDetailApi, "unit-detail"),
    *route("units/<str:id>/calendar", UnitCalendarApi, "unit-calendar"),
    *route("calendar", CalendarSetApi, "calendar-set"),
    *route("calendar/blocks", CalendarBlockApi, "calendar-block"),
    *route("calendar/unblock", CalendarUnblockApi, "calendar-unblock"),
    *route("bookings", BookingListCreateApi, "booking-list"),
    *route("bookings/<str:id>", BookingDetailApi, "booking-detail"),
    *route("bookings/<str:id>/cancel", BookingCancelApi, "booking-cancel"),
    *route("bookings/<str:id>/resolve", BookingResolveApi, "booking-resolve"),
    *route("bookings/<str:id>/transitions", BookingTransitionListApi, "booking-transitions"),
    *route("booking-revisions", BookingRevisionListApi, "booking-revision-list"),
    *route("booking-revisions/<str:id>/ack", BookingRevisionAckApi, "booking-revision-ack"),
]
