"""Booking.com: OTA XML over basic auth; reservations are pulled and acknowledged, with a notify ping."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import timedelta

from lxml import etree

from sandbox import checks
from sandbox.exchange import ApiError, Invalid, Request, Response, Unauthorized
from sandbox.platforms import ota
from sandbox.platforms.base import Platform, route
from sandbox.platforms.ota import OTA, q
from sandbox.state import Reservation, utcnow
from sandbox.webhooks import Webhook

USERS = {"sandbox-booking": "sandbox-booking-pass"}
RS_NAMES = {
    "OTA_HotelAvailNotif": "OTA_HotelAvailNotifRS",
    "OTA_HotelRateAmountNotif": "OTA_HotelRateAmountNotifRS",
    "OTA_HotelResNotif": "OTA_HotelResNotifRS",
    "OTA_NotifReport": "OTA_NotifReportRS",
    "OTA_Ping": "OTA_PingRS",
}
RES_STATUS = {"created": "Commit", "updated": "Modify", "cancelled": "Cancel"}
UNIQUE_ID_RESERVATION = "14"  # OTA UIT code 14: Reservation
ICAL_STYLE = {
    # The real export escapes the comma in PRODID twice; kept as published.
    "head": [
        "VERSION:2.0",
        "PRODID:-//admin.booking.com\\\\\\, b.v.//NONSGML v1.0//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ],
    "booked": "CLOSED - Not available",
    "closed": "CLOSED - Not available",
    "domain": "booking.com",
}


class BookingCom(Platform):
    slug = "booking_com"
    webhook_path = "booking-com"
    rate_limit = (20, 60.0)
    guest_bookings = True
    availability_write = "POST OTA_HotelAvailNotif"
    pricing_write = "POST OTA_HotelRateAmountNotif"
    ical_style = ICAL_STYLE

    def build_routes(self):
        return [
            route("POST", "/hotels/ota/OTA_HotelAvailNotif", "OTA_HotelAvailNotif", self.avail_notif),
            route("POST", "/hotels/ota/OTA_HotelRateAmountNotif", "OTA_HotelRateAmountNotif", self.rate_notif),
            route("GET", "/hotels/ota/OTA_HotelResNotif", "OTA_HotelResNotif", self.pull),
            route("POST", "/hotels/ota/OTA_NotifReport", "OTA_NotifReport", self.acknowledge),
            route("POST", "/hotels/ota/OTA_Ping", "OTA_Ping", self.ping),
        ]

    def authenticate(self, req: Request) -> str:
        scheme, _, encoded = (req.header("Authorization") or "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, password = "", ""
        if scheme.lower() != "basic" or not secrets.compare_digest(password, USERS.get(user, "\0")):
            raise Unauthorized("Authorization error")
        return user

    def render_error(self, req: Request, error: ApiError) -> Response:
        return ota.error_response(self.app.schemas, RS_NAMES.get(req.endpoint, "OTA_HotelAvailNotifRS"), req, error)

    # guest bookings

    def new_reservation_id(self, number: int) -> str:
        return str(4_000_000_000 + number)

    def reservation_state(self, reservation: Reservation) -> dict:
        return reservation.as_state() | {
            "acknowledged": reservation.acknowledged,
            "fallback_email": reservation.fallback_email,
        }

    # ARI

    def avail_notif(self, req: Request, account: str) -> Response:
        root = ota.read_request(self.app.schemas, req, "OTA_HotelAvailNotifRQ")
        hotel, updates = ota.read_avail(root, require_codes=False)
        return self._apply(req, hotel, updates)

    def rate_notif(self, req: Request, account: str) -> Response:
        root = ota.read_request(self.app.schemas, req, "OTA_HotelRateAmountNotifRQ")
        hotel, updates = ota.read_rates(root, require_codes=False)
        return self._apply(req, hotel, updates)

    def _apply(self, req: Request, hotel: str, updates: list[ota.AriChange]) -> Response:
        self.refuse_long_min_stays(update.changes for update in updates)
        with self.app.store.lock:
            ota.apply_to(self.state, hotel, updates)
        return self._success(req)

    def ping(self, req: Request, account: str) -> Response:
        root = ota.read_request(self.app.schemas, req, "OTA_PingRQ")
        echo = root.findtext(q("EchoData")) or ""
        return self._success(req, [OTA("EchoData", echo)])

    def _success(self, req: Request, body: list | None = None) -> Response:
        rs_name = RS_NAMES[req.endpoint]
        return Response.xml(200, ota.response(self.app.schemas, rs_name, echo=req.parsed.get("EchoToken"), body=body))

    # reservations: pull and acknowledge

    def pull(self, req: Request, account: str) -> Response:
        hotel_ids = {h.strip() for h in (req.arg("hotel_ids") or "").split(",") if h.strip()}
        if not hotel_ids:
            raise Invalid("hotel_ids is required: a comma-separated list of hotel ids")
        with self.app.store.lock:
            self.refresh_fallbacks()
            offered = sorted(
                (
                    r
                    for r in self.state.reservations.values()
                    if self.state.hotel_of(r) in hotel_ids and not r.acknowledged
                ),
                key=lambda r: (r.updated_at, r.id),
            )
            for reservation in offered:
                if reservation.offered_revision == reservation.revision:
                    self.state.stats.unacknowledged_offers += 1
                reservation.offered_revision = reservation.revision
            elements = [self._hotel_reservation(r) for r in offered]
        root = OTA("OTA_HotelResNotifRQ", Version="1.000", TimeStamp=checks.iso_instant(utcnow()))
        if elements:
            root.append(OTA("HotelReservations", *elements))
        self.app.schemas.check_outbound(f"{ota.SCHEMA_DIR}/OTA_HotelResNotifRQ.xsd", root)
        return Response.xml(200, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    def acknowledge(self, req: Request, account: str) -> Response:
        root = ota.read_request(self.app.schemas, req, "OTA_NotifReportRQ")
        if root.find(q("Success")) is not None:
            acks = [_acknowledged_id(el, i) for i, el in enumerate(root.iterfind(".//" + q("HotelReservation")))]
            if not acks:
                raise Invalid("NotifDetails/HotelNotifReport/HotelReservations/HotelReservation is required")
            with self.app.store.lock:
                self._mark_acknowledged(acks)
        # An <Errors> report means our side failed to process: the reservations stay unacknowledged.
        return self._success(req)

    def _mark_acknowledged(self, reservation_ids: list[str]) -> None:
        unknown = [rid for rid in reservation_ids if rid not in self.state.reservations]
        if unknown:
            raise Invalid(f"UniqueID {', '.join(unknown)}: no such reservation")
        for rid in reservation_ids:
            reservation = self.state.reservations[rid]
            # A change made after the last pull has not been seen yet, so it stays in the queue.
            if reservation.offered_revision == reservation.revision:
                reservation.acknowledged = True

    def refresh_fallbacks(self) -> None:
        """Unacknowledged for 30 minutes: the real platform falls back to e-mail."""
        deadline = utcnow() - timedelta(seconds=self.app.fallback_seconds)
        for reservation in self.state.reservations.values():
            if not reservation.acknowledged and reservation.updated_at <= deadline:
                reservation.fallback_email = True

    def _hotel_reservation(self, r: Reservation) -> etree._Element:
        given, surname = r.given_and_surname()
        name = ([OTA("GivenName", given)] if given else []) + [OTA("Surname", surname)]
        contact = [OTA("Telephone", PhoneNumber=r.guest_phone)] if r.guest_phone else []
        contact += [OTA("Email", r.guest_email)] if r.guest_email else []
        customer = OTA("Customer", OTA("PersonName", *name), *contact)
        room_stay = OTA(
            "RoomStay",
            OTA("RoomTypes", OTA("RoomType", RoomTypeCode=r.room_code)),
            OTA("RatePlans", OTA("RatePlan", RatePlanCode=r.rate_code)),
            OTA("GuestCounts", *ota_guest_counts(r)),
            OTA("TimeSpan", Start=r.check_in.isoformat(), End=r.check_out.isoformat()),
            OTA("Total", *ota_taxes(r), AmountAfterTax=f"{r.total:.2f}", CurrencyCode=r.currency),
            OTA("BasicPropertyInfo", HotelCode=self.state.hotel_of(r)),
            *ota_special_requests(r),
        )
        profile = OTA("Profiles", OTA("ProfileInfo", OTA("Profile", customer, ProfileType="1")))
        return OTA(
            "HotelReservation",
            OTA("UniqueID", Type=UNIQUE_ID_RESERVATION, ID=r.id),
            OTA("RoomStays", room_stay),
            OTA("ResGuests", OTA("ResGuest", profile)),
            ResStatus=RES_STATUS[r.last_change],
            CreateDateTime=checks.iso_instant(r.created_at),
            LastModifyDateTime=checks.iso_precise(r.updated_at),
        )

    def notify(self, reservation: Reservation, event: str) -> None:
        body = json.dumps({"hotel_id": self.state.hotel_of(reservation), "reservation_id": reservation.id}).encode()
        self.app.webhooks.send(Webhook(self.slug, self.webhook_url(), body, {"Content-Type": "application/json"}))


def ota_guest_counts(r: Reservation) -> list:
    """Guests by OTA age qualifying code: 10 adults, 8 children, 7 infants."""
    counts = [("10", r.adults), ("8", r.children), ("7", r.infants)]
    return [OTA("GuestCount", AgeQualifyingCode=code, Count=str(n)) for code, n in counts if n]


def ota_taxes(r: Reservation) -> list:
    return [] if r.taxes is None else [OTA("Taxes", Amount=f"{r.taxes:.2f}", CurrencyCode=r.currency)]


def ota_special_requests(r: Reservation) -> list:
    requests = [OTA("SpecialRequest", OTA("Text", text)) for text in r.special_requests]
    return [OTA("SpecialRequests", *requests)] if requests else []


def _acknowledged_id(element: etree._Element, index: int) -> str:
    where = f"HotelReservation[{index}]"
    unique = element.find(q("UniqueID"))
    if unique is None or unique.get("Type") != UNIQUE_ID_RESERVATION or not unique.get("ID"):
        raise Invalid(f'{where}: UniqueID Type="14" ID="<reservation id>" is required')
    ours = element.find(f"{q('ResGlobalInfo')}/{q('HotelReservationIDs')}/{q('HotelReservationID')}")
    if ours is None or ours.get("ResID_Type") != UNIQUE_ID_RESERVATION or not ours.get("ResID_Value"):
        raise Invalid(
            f'{where}: ResGlobalInfo/HotelReservationIDs/HotelReservationID ResID_Type="14" ResID_Value= is required'
        )
    return unique.get("ID")
