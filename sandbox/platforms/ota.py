"""OpenTravel (OTA 2015B) ARI messages, shared by Booking.com and Google: reading the RQs, building the RSs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from lxml import etree
from lxml.builder import ElementMaker

from sandbox import checks
from sandbox.exchange import ApiError, Faulted, Invalid, RateLimited, Request, Response, Unauthorized
from sandbox.state import Listing, PlatformState, utcnow
from sandbox.xml import OTA_NS, SchemaLibrary, parse, to_bytes

OTA = ElementMaker(namespace=OTA_NS, nsmap={None: OTA_NS})
MAX_MESSAGES = 1000
SCHEMA_DIR = "ota/2015B"
RESTRICTIONS = {"Arrival": "closed_to_arrival", "Departure": "closed_to_departure", "Master": "stop_sell"}
LENGTHS_OF_STAY = {"SetMinLOS": "min_stay", "SetMaxLOS": "max_stay"}


@dataclass
class AriChange:
    """One message: nights (inclusive range expanded), the room and rate codes, and the fields to set."""

    nights: list[date]
    room: str | None
    rate: str | None
    changes: dict = field(default_factory=dict)


def q(name: str) -> str:
    return f"{{{OTA_NS}}}{name}"


def read_request(schemas: SchemaLibrary, req: Request, root_name: str) -> etree._Element:
    """Parse, check the root and Version, and validate against the official RQ schema."""
    root = parse(req.body)
    if root.tag != q(root_name):
        raise Invalid(f"expected {root_name} in namespace {OTA_NS}, got {root.tag}")
    if not root.get("Version"):
        raise Invalid(f"{root_name}@Version is required")
    schemas.validate(f"{SCHEMA_DIR}/{root_name}.xsd", root)
    req.parsed = root
    return root


def read_avail(root: etree._Element, *, require_codes: bool) -> tuple[str, list[AriChange]]:
    hotel, messages = _messages(root, "AvailStatusMessages", "AvailStatusMessage")
    return hotel, [_avail_change(m, f"AvailStatusMessage[{i}]", require_codes) for i, m in enumerate(messages)]


def read_rates(root: etree._Element, *, require_codes: bool) -> tuple[str, list[AriChange]]:
    hotel, messages = _messages(root, "RateAmountMessages", "RateAmountMessage")
    return hotel, [_rate_change(m, f"RateAmountMessage[{i}]", require_codes) for i, m in enumerate(messages)]


def apply_to(state: PlatformState, hotel: str, updates: list[AriChange]) -> None:
    """Check every message's codes first, then write: a request applies whole or not at all.

    A message whose room code names a room-type listing of the hotel (``Listing.hotel``) writes that
    listing's calendar; any other writes the hotel's own."""
    rooms = state.room_listings(hotel)
    hotel_listing = state.listings.get(hotel) or Listing(hotel)
    targets = []
    for update in updates:
        listing = rooms.get(update.room) or hotel_listing
        if listing.room_codes and update.room and update.room not in listing.room_codes:
            raise Invalid(f"InvTypeCode {update.room!r} is not a room of hotel {hotel}", code="402")
        if listing.rate_codes and update.rate and update.rate not in listing.rate_codes:
            raise Invalid(f"RatePlanCode {update.rate!r} is not a rate plan of hotel {hotel}", code="249")
        targets.append(listing)
    for listing, update in zip(targets, updates, strict=True):
        listing.update(update.nights, **update.changes)
        listing.last_room_code = update.room or listing.last_room_code
        listing.last_rate_code = update.rate or listing.last_rate_code
    if any(listing is hotel_listing for listing in targets):
        state.listings.setdefault(hotel, hotel_listing)


def response(schemas: SchemaLibrary, rs_name: str, *, echo: str | None, body: list | None = None) -> bytes:
    """An RS with <Success/> then `body`; validated against the official schema."""
    root = OTA(rs_name, OTA("Success"), *(body or []), Version="1.000", TimeStamp=checks.iso_instant(utcnow()))
    return _finish(schemas, root, rs_name, echo)


def error_response(schemas: SchemaLibrary, rs_name: str, req: Request, error: ApiError) -> Response:
    ewt, code, status = _classify(error)
    err = OTA("Error", error.message, Type=ewt, Code=code)
    root = OTA(rs_name, OTA("Errors", err), Version="1.000", TimeStamp=checks.iso_instant(utcnow()))
    echo = req.parsed.get("EchoToken") if isinstance(req.parsed, etree._Element) else None
    return Response.xml(status, _finish(schemas, root, rs_name, echo))


def _finish(schemas: SchemaLibrary, root: etree._Element, rs_name: str, echo: str | None) -> bytes:
    if echo:
        root.set("EchoToken", echo)
    schemas.check_outbound(f"{SCHEMA_DIR}/{rs_name}.xsd", root)
    return to_bytes(root)


def _classify(error: ApiError) -> tuple[str, str, int]:
    """(OTA EWT type, OTA ERR code, HTTP status). Type 3/4 are permanent, 12 transient (see the doc)."""
    if isinstance(error, Invalid):
        return "3", error.code or "320", 200
    if isinstance(error, Unauthorized):
        return "4", "497", 401
    if isinstance(error, (RateLimited, Faulted)) or error.status >= 500:
        return "12", "448", error.status
    return "3", error.code or "320", error.status


def _messages(root: etree._Element, container: str, item: str) -> tuple[str, list[etree._Element]]:
    holder = root.find(q(container))
    if holder is None:
        raise Invalid(f"{container} is required")
    hotel = holder.get("HotelCode")
    if not hotel:
        raise Invalid(f"{container}@HotelCode (the listing id) is required")
    messages = holder.findall(q(item))
    if not messages:
        raise Invalid(f"at least one {item} is required")
    if len(messages) > MAX_MESSAGES:
        raise Invalid(f"{len(messages)} {item} elements, at most {MAX_MESSAGES} per request")
    return hotel, messages


def _control(message: etree._Element, where: str, require_codes: bool) -> tuple[list[date], str | None, str | None]:
    control = message.find(q("StatusApplicationControl"))
    if control is None:
        raise Invalid(f"{where}: StatusApplicationControl is required")
    start = checks.iso_date(control.get("Start"), f"{where}/StatusApplicationControl@Start")
    end = checks.iso_date(control.get("End"), f"{where}/StatusApplicationControl@End")
    room, rate = control.get("InvTypeCode"), control.get("RatePlanCode")
    if require_codes and not (room and rate):
        raise Invalid(f"{where}: StatusApplicationControl needs InvTypeCode and RatePlanCode")
    return checks.inclusive_range(start, end, where), room, rate


def _avail_change(message: etree._Element, where: str, require_codes: bool) -> AriChange:
    nights, room, rate = _control(message, where, require_codes)
    change = AriChange(nights, room, rate)
    touched = False
    if message.get("BookingLimit") is not None:
        if message.get("BookingLimit") not in ("0", "1"):
            raise Invalid(f"{where}@BookingLimit must be 0 (closed) or 1 (open): the inventory is one unit")
        change.changes["open"] = message.get("BookingLimit") == "1"
        touched = True
    for status in message.findall(q("RestrictionStatus")):
        _restriction(status, where, change)
        touched = True
    for stay in message.findall(f"{q('LengthsOfStay')}/{q('LengthOfStay')}"):
        _length_of_stay(stay, where, change)
        touched = True
    if not touched:
        raise Invalid(f"{where}: carries neither BookingLimit, RestrictionStatus nor LengthsOfStay")
    return change


def _restriction(status: etree._Element, where: str, change: AriChange) -> None:
    value = status.get("Status")
    if value not in ("Open", "Close"):
        raise Invalid(f"{where}/RestrictionStatus@Status must be Open or Close, got {value!r}")
    # Without Restriction the status applies to the whole room/rate: OTA's Master.
    kind = status.get("Restriction") or "Master"
    if kind not in RESTRICTIONS:
        raise Invalid(f"{where}/RestrictionStatus@Restriction must be Arrival, Departure or Master, got {kind!r}")
    change.changes[RESTRICTIONS[kind]] = value == "Close"


def _length_of_stay(stay: etree._Element, where: str, change: AriChange) -> None:
    if stay.get("TimeUnit") not in (None, "Day"):
        raise Invalid(f"{where}/LengthOfStay@TimeUnit must be Day")
    kind = stay.get("MinMaxMessageType")
    if kind not in LENGTHS_OF_STAY:
        return  # accepted but not modelled (forward stays, patterns)
    raw = stay.get("Time")
    if raw is None or not raw.isdigit() or int(raw) < 1:
        raise Invalid(f"{where}/LengthOfStay@Time must be an integer >= 1 for {kind}, got {raw!r}")
    change.changes[LENGTHS_OF_STAY[kind]] = int(raw)


def _rate_change(message: etree._Element, where: str, require_codes: bool) -> AriChange:
    nights, room, rate = _control(message, where, require_codes)
    rates = message.findall(f"{q('Rates')}/{q('Rate')}")
    if len(rates) != 1:
        raise Invalid(f"{where}: exactly one Rates/Rate is expected (one unit, one nightly price), got {len(rates)}")
    amounts = rates[0].findall(f"{q('BaseByGuestAmts')}/{q('BaseByGuestAmt')}")
    if len(amounts) != 1:
        raise Invalid(f"{where}: exactly one BaseByGuestAmts/BaseByGuestAmt is expected, got {len(amounts)}")
    currency = amounts[0].get("CurrencyCode") or rates[0].get("CurrencyCode")
    checks.currency(currency, f"{where}/BaseByGuestAmt@CurrencyCode")
    price = checks.money(amounts[0].get("AmountAfterTax"), f"{where}/BaseByGuestAmt@AmountAfterTax", currency)
    return AriChange(nights, room, rate, {"price": price, "currency": currency})
