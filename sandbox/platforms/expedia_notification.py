"""Expedia's SOAP booking notifications (OTA_HotelResNotifRQ, OTA_HotelResModifyNotifRQ, OTA_CancelRQ).

Shaped like Expedia's bn_* samples but built to validate against Expedia's own notification schemas:
where a sample and the schema disagree (e.g. <Email> in <Customer>), the schema wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from lxml.builder import ElementMaker

from sandbox import checks
from sandbox.state import Reservation, utcnow
from sandbox.xml import OTA_NS, SchemaLibrary, to_bytes

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
HEADER_NS = "http://www.newtrade.com/expedia/R14/header"
PUSH_USER, PUSH_PASSWORD = "expedia-push", "sandbox-expedia-push-pass"
PAYLOADS = {"created": "OTA_HotelResNotifRQ", "updated": "OTA_HotelResModifyNotifRQ", "cancelled": "OTA_CancelRQ"}
SCHEMA_DIR = "expedia/booking_notification_xsd"
RECEIVER = "ChannelManager"

SOAP = ElementMaker(namespace=SOAP_NS, nsmap={"soap-env": SOAP_NS})
HDR = ElementMaker(namespace=HEADER_NS, nsmap={None: HEADER_NS})
OTA = ElementMaker(namespace=OTA_NS, nsmap={None: OTA_NS})


@dataclass(frozen=True)
class Envelope:
    payload_name: str
    body: bytes


def notification(
    r: Reservation, event: str, schemas: SchemaLibrary, *, request_id: str, hotel: str | None = None
) -> Envelope:
    """``hotel``: the hotel code the booking is at (a room-type listing's hotel); default its listing."""
    hotel = hotel or r.listing_id
    name = PAYLOADS[event]
    payload = {"created": _new, "updated": _modified, "cancelled": _cancelled}[event](r, request_id, hotel)
    header = _header(name, request_id, hotel)
    schemas.check_outbound(f"{SCHEMA_DIR}/{name}.xsd", payload)
    schemas.check_outbound(f"{SCHEMA_DIR}/SOAP_header.xsd", header)
    envelope = SOAP("Envelope", SOAP("Header", header), SOAP("Body", payload))
    return Envelope(name, to_bytes(envelope))


def nightly(r: Reservation) -> list[tuple[date, str]]:
    """The total spread over the nights; the last night takes the rounding remainder."""
    nights = r.nights()
    share = (r.total / len(nights)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    last = r.total - share * (len(nights) - 1)
    return [(night, f"{share if i < len(nights) - 1 else last:.2f}") for i, night in enumerate(nights)]


def _header(name: str, request_id: str, hotel: str):
    expires = checks.iso_instant(utcnow() + timedelta(minutes=30))
    return HDR(
        "Interface",
        HDR(
            "PayloadInfo",
            HDR(
                "CommDescriptor",
                HDR("Authentication", Username=PUSH_USER, Password=PUSH_PASSWORD),
                SourceId="ExpediaDC",
                DestinationId=RECEIVER,
                RetryIndicator="false",
            ),
            HDR(
                "PayloadDescriptor",
                HDR("PayloadReference", SupplierHotelCode=hotel, DistributorHotelId=hotel),
                Name=name,
                Version="2003A",
            ),
            RequestId=request_id,
            RequestorId="Expedia.com",
            ResponderId=RECEIVER,
            ExpirationDateTime=expires,
            Location="Body",
        ),
        Name="ExpediaDirectConnect",
        Version="4.0",
    )


def _message_attrs(r: Reservation, request_id: str) -> dict:
    return {
        "EchoToken": request_id,
        "TimeStamp": checks.iso_precise(r.updated_at),  # the time of the change: receivers use it as the version
        "Target": "Production",
        "Version": "1.000",
        "PrimaryLangID": "en-us",
    }


def brand(r: Reservation) -> str:
    """The brand that sold it, as Expedia names it: "A-" marks Hotel Collect (the guest pays the property)."""
    return ("A-" if r.property_collects else "") + (r.sub_channel or "Expedia")


def _pos(r: Reservation):
    source = OTA(
        "Source",
        OTA("RequestorID", Type="18", ID=brand(r)),
        OTA("BookingChannel", OTA("CompanyName", "Expedia"), Type="2", Primary="true"),
    )
    return OTA("POS", source)


def _new(r: Reservation, request_id: str, hotel: str):
    reservation = OTA("HotelReservation", *_reservation_parts(r, hotel), **_reservation_attrs(r))
    return OTA(
        "OTA_HotelResNotifRQ",
        _pos(r),
        OTA("HotelReservations", reservation),
        ResStatus="Commit",
        **_message_attrs(r, request_id),
    )


def _modified(r: Reservation, request_id: str, hotel: str):
    modify = OTA("HotelResModify", *_reservation_parts(r, hotel), **_reservation_attrs(r))
    return OTA(
        "OTA_HotelResModifyNotifRQ",
        _pos(r),
        OTA("HotelResModifies", modify),
        ResStatus="Commit",
        **_message_attrs(r, request_id),
    )


def _cancelled(r: Reservation, request_id: str, hotel: str):
    given, surname = r.given_and_surname()
    ids = [OTA("UniqueID", OTA("CompanyName", "Expedia"), Type="14", ID=r.id)]
    if r.confirm_number:
        ids.append(OTA("UniqueID", OTA("CompanyName", RECEIVER), Type="10", ID=r.confirm_number))
    verification = OTA(
        "Verification",
        OTA("PersonName", *_name(given, surname)),
        OTA("Vendor", hotel, Code="3", CodeContext="HotelCode"),
        OTA("ReservationTimeSpan", Start=r.check_in.isoformat(), End=r.check_out.isoformat()),
        OTA("AssociatedQuantity", Code="1", CodeContext="Number of rooms", Quantity="1"),
        OTA("AssociatedQuantity", Code="2", CodeContext="Number of guests", Quantity=str(r.guests)),
    )
    return OTA("OTA_CancelRQ", _pos(r), *ids, verification, CancelType="Commit", **_message_attrs(r, request_id))


def _reservation_attrs(r: Reservation) -> dict:
    return {"RoomStayReservation": "true", "CreateDateTime": checks.iso_instant(r.updated_at), "CreatorID": "Expedia"}


def _reservation_parts(r: Reservation, hotel: str) -> list:
    given, surname = r.given_and_surname()
    customer = [OTA("PersonName", *_name(given, surname))]
    customer += [OTA("Telephone", PhoneNumber=r.guest_phone)] if r.guest_phone else []
    profile = OTA("Profile", OTA("Customer", *customer), ProfileType="1")
    guest = OTA("ResGuest", OTA("Profiles", OTA("ProfileInfo", profile)), ResGuestRPH="1", AgeQualifyingCode="10")
    ids = [
        OTA(
            "HotelReservationID",
            ResID_Type="8",
            ResID_Value=r.id,
            ResID_Source="Expedia",
            ResID_Date=checks.iso_instant(r.updated_at),
        )
    ]
    if r.confirm_number:
        ids.append(OTA("HotelReservationID", ResID_Type="3", ResID_Value=r.confirm_number, ResID_Source=RECEIVER))
    return [
        OTA("UniqueID", Type="14", ID=r.id),
        OTA("RoomStays", _room_stay(r, hotel)),
        OTA("ResGuests", guest),
        OTA("ResGlobalInfo", OTA("HotelReservationIDs", *ids)),
    ]


def _room_stay(r: Reservation, hotel: str):
    nights = nightly(r)
    return OTA(
        "RoomStay",
        OTA("RoomTypes", OTA("RoomType", RoomTypeCode=r.room_code, IsRoom="true")),
        OTA("RatePlans", *[OTA("RatePlan", RatePlanCode=r.rate_code, **_span(night)) for night, _ in nights]),
        OTA("RoomRates", *[_room_rate(r, night, price) for night, price in nights]),
        OTA("GuestCounts", *_guest_counts(r), IsPerRoom="true"),
        OTA("TimeSpan", Start=r.check_in.isoformat(), End=r.check_out.isoformat()),
        OTA("Total", *_taxes(r), AmountAfterTax=f"{r.total:.2f}", CurrencyCode=r.currency),
        OTA("BasicPropertyInfo", HotelCode=hotel),
        OTA("ResGuestRPHs", OTA("ResGuestRPH", RPH="1")),
        *_special_requests(r),
    )


def _guest_counts(r: Reservation) -> list:
    """Adults (code 10) and children (code 8 with an age); Expedia has no infant code, so an infant
    is a child of age 1, as in its samples."""
    counts = [OTA("GuestCount", AgeQualifyingCode="10", Count=str(r.adults))]
    counts += [OTA("GuestCount", AgeQualifyingCode="8", Count="1", Age="8") for _ in range(r.children)]
    counts += [OTA("GuestCount", AgeQualifyingCode="8", Count="1", Age="1") for _ in range(r.infants)]
    return counts


def _taxes(r: Reservation) -> list:
    if r.taxes is None:
        return []
    tax = OTA("Tax", Type="Exclusive", Code="27", Amount=f"{r.taxes:.2f}", CurrencyCode=r.currency)
    return [OTA("Taxes", tax, Amount=f"{r.taxes:.2f}", CurrencyCode=r.currency)]


def _special_requests(r: Reservation) -> list:
    requests = [
        OTA("SpecialRequest", OTA("Text", text, Formatted="false", Language="en-us"), Language="en-us", RequestCode="4")
        for text in r.special_requests
    ]
    return [OTA("SpecialRequests", *requests)] if requests else []


def _room_rate(r: Reservation, night: date, price: str):
    base = OTA("Base", AmountBeforeTax=price, CurrencyCode=r.currency)
    rate = OTA("Rate", base, RateTimeUnit="Day", UnitMultiplier="1", **_span(night))
    return OTA(
        "RoomRate",
        OTA("Rates", rate),
        RoomTypeCode=r.room_code,
        NumberOfUnits="1",
        RatePlanCode=r.rate_code,
        **_span(night),
    )


def _span(night: date) -> dict:
    return {"EffectiveDate": night.isoformat(), "ExpireDate": (night + timedelta(days=1)).isoformat()}


def _name(given: str, surname: str) -> list:
    return ([OTA("GivenName", given)] if given else []) + [OTA("Surname", surname)]
