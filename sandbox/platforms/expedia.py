"""Expedia QuickConnect: AR (availability and rates), BR/BC (retrieve and confirm bookings), SOAP notifications."""

from __future__ import annotations

import secrets
import uuid
from copy import deepcopy
from datetime import date, timedelta

from lxml import etree
from lxml.builder import ElementMaker

from sandbox import checks
from sandbox.exchange import ApiError, Faulted, Invalid, RateLimited, Request, Response, Unauthorized
from sandbox.platforms.base import Platform, route
from sandbox.platforms.expedia_notification import brand, nightly, notification
from sandbox.state import Listing, Reservation, utcnow
from sandbox.webhooks import Webhook
from sandbox.xml import parse, to_bytes

USERS = {"sandbox-expedia": "sandbox-expedia-pass"}
AR_RQ = "http://www.expediaconnect.com/EQC/AR/2011/06"
AR_RS = "http://www.expediaconnect.com/EQC/AR/2007/02"
BR = "http://www.expediaconnect.com/EQC/BR/2014/01"
BC_RQ = "http://www.expediaconnect.com/EQC/BC/2007/09"
BC_RS = "http://www.expediaconnect.com/EQC/BC/2007/08"
PAR = "http://www.expediaconnect.com/EQC/PAR/2013/07"
MESSAGES = {  # endpoint: (RQ namespace, RQ root, RS namespace, RS root)
    "ar": (AR_RQ, "AvailRateUpdateRQ", AR_RS, "AvailRateUpdateRS"),
    "br": (BR, "BookingRetrievalRQ", BR, "BookingRetrievalRS"),
    "bc": (BC_RQ, "BookingConfirmRQ", BC_RS, "BookingConfirmRS"),
    "parr": (PAR, "ProductAvailRateRetrievalRQ", PAR, "ProductAvailRateRetrievalRS"),
}
MAX_UPDATES = 200
MAX_BOOKINGS = 125  # BookingRetrievalRS allows 125 Booking elements
MAX_NIGHTS = 28  # BookingRetrievalRS allows 28 PerDayRate elements
BOOKING_TYPES = {"created": "Book", "updated": "Modify", "cancelled": "Cancel"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ERR_AUTH, ERR_INVALID, ERR_HOTEL, ERR_ROOM, ERR_RATE, ERR_INTERNAL = "1001", "2000", "3202", "3203", "3204", "4000"
WARN_MISMATCH, WARN_NOT_PENDING = "10081", "10082"


class Expedia(Platform):
    slug = "expedia"
    webhook_path = "expedia"
    rate_limit = (50, 1.0)
    guest_bookings = True
    availability_write = "POST ar"  # AR carries availability and rates: one request is both writes
    pricing_write = "POST ar"

    def build_routes(self):
        return [
            route("POST", "/eqc/ar", "ar", self.avail_rate_update),
            route("POST", "/eqc/br", "br", self.booking_retrieval),
            route("POST", "/eqc/bc", "bc", self.booking_confirm),
            route("POST", "/eqc/parr", "parr", self.product_avail_rate_retrieval),
        ]

    def authenticate(self, req: Request) -> str:
        """EQC carries credentials inside the XML, so the body is parsed (not yet validated) first."""
        ns, root_name, _, _ = MESSAGES[req.endpoint]
        root = parse(req.body)
        if root.tag != f"{{{ns}}}{root_name}":
            raise Invalid(f"expected {root_name} in namespace {ns}, got {root.tag}")
        req.parsed = root
        auth = root.find(f"{{{ns}}}Authentication")
        user = auth.get("username", "") if auth is not None else ""
        password = auth.get("password", "") if auth is not None else ""
        if not secrets.compare_digest(password, USERS.get(user, "\0")):
            raise Unauthorized("Authentication error: wrong username or password", code=ERR_AUTH)
        return user

    def render_error(self, req: Request, error: ApiError) -> Response:
        _, _, ns, rs_name = MESSAGES.get(req.endpoint, MESSAGES["ar"])
        code, status = _classify(error)
        root = ElementMaker(namespace=ns, nsmap={None: ns})(rs_name)
        root.append(etree.Element(f"{{{ns}}}Error", code=code))
        root[0].text = error.message
        return Response.xml(status, self._finish(root, rs_name))

    # guest bookings

    def check_listing_id(self, listing_id: str) -> None:
        if not listing_id.isdigit():
            raise Invalid("expedia hotel ids are integers (EQC Hotel@id is xs:int)")

    def check_stay(self, check_in: date, check_out: date) -> None:
        if (check_out - check_in).days > MAX_NIGHTS:
            raise Invalid(f"expedia stays are at most {MAX_NIGHTS} nights (BookingRetrievalRS limit)")

    def new_reservation_id(self, number: int) -> str:
        return str(700_000_000 + number)  # EQC booking ids are xs:integer

    def reservation_state(self, reservation: Reservation) -> dict:
        return reservation.as_state() | {
            "confirmed": reservation.br_status == "confirmed",
            "confirm_number": reservation.confirm_number,
            "br_status": reservation.br_status,
        }

    def _finish(self, root: etree._Element, rs_name: str) -> bytes:
        self.app.schemas.check_outbound(f"expedia/eqc_xsd/{rs_name}.xsd", root)
        return to_bytes(root)

    def _validate(self, req: Request) -> etree._Element:
        _, root_name, _, _ = MESSAGES[req.endpoint]
        self.app.schemas.validate(f"expedia/eqc_xsd/{root_name}.xsd", req.parsed)
        return req.parsed

    # AR

    def avail_rate_update(self, req: Request, account: str) -> Response:
        root = self._validate(req)
        hotel = _hotel_id(root, AR_RQ, required=True)
        blocks = root.findall(f"{{{AR_RQ}}}AvailRateUpdate") or [root]
        if len(blocks) > MAX_UPDATES:
            raise Invalid(f"{len(blocks)} AvailRateUpdate elements, at most {MAX_UPDATES} per request")
        updates = [u for i, block in enumerate(blocks) for u in _block_updates(block, f"AvailRateUpdate[{i}]")]
        self.refuse_long_min_stays(changes for _, _, _, changes in updates)
        with self.app.store.lock:
            # A RoomType that names a room-type listing of the hotel writes that listing's calendar, any
            # other the hotel's own; every code is checked before anything is written.
            own = self.state.listings.get(hotel) or Listing(hotel)
            targets = [self._room(hotel, room, own) for _, room, _, _ in updates]
            for listing, update in zip(targets, updates, strict=True):
                _check_codes(listing, [update])
            for listing, (nights, room, rate, changes) in zip(targets, updates, strict=True):
                listing.update(nights, **changes)
                listing.last_room_code, listing.last_rate_code = room, rate or listing.last_rate_code
            for listing in targets:
                self.state.listings.setdefault(listing.listing_id, listing)
        rs = ElementMaker(namespace=AR_RS, nsmap={None: AR_RS})
        return Response.xml(200, self._finish(rs("AvailRateUpdateRS", rs("Success")), "AvailRateUpdateRS"))

    def _room(self, hotel: str, room: str, own: Listing) -> Listing:
        """The listing a RoomType of ``hotel`` writes: its room-type listing, else ``own``, the hotel's
        (made on the first write). A hotel whose rooms are listings of their own refuses other codes."""
        rooms = self.state.room_listings(hotel)
        if room in rooms:
            return rooms[room]
        if rooms and hotel not in self.state.listings:
            raise Invalid(f"The following RoomTypeIDs do not belong to the given hotel: {room}.", code=ERR_ROOM)
        return own

    # PARR (rates or restrictions: what reconcile reads)

    def product_avail_rate_retrieval(self, req: Request, account: str) -> Response:
        """The per-day rates of the asked room types and rate plans, night by night. As Expedia does,
        a request for one rate plan gets at most 365 days, anything else at most 31 (the rest is cut)."""
        root = self._validate(req)
        hotel = _hotel_id(root, PAR, required=True)
        retrieval = root.find(f"{{{PAR}}}ParamSet/{{{PAR}}}AvailRateRetrieval")
        if retrieval is None:
            raise Invalid("only AvailRateRetrieval is simulated")
        asked = [
            (room.get("id"), [plan.get("id") for plan in room.findall(f"{{{PAR}}}RatePlan")])
            for room in retrieval.findall(f"{{{PAR}}}RoomType")
        ]
        first, last = date.fromisoformat(retrieval.get("from")), date.fromisoformat(retrieval.get("to"))
        one_plan = len(asked) == 1 and len(asked[0][1]) == 1
        last = min(last, first + timedelta(days=(365 if one_plan else 31) - 1))
        restrictions = retrieval.get("restrictions") in ("true", "1")
        rs = ElementMaker(namespace=PAR, nsmap={None: PAR})
        with self.app.store.lock:
            if not self.state.knows_hotel(hotel):
                raise Invalid(f"hotel {hotel} is not one of yours", code=ERR_HOTEL)
            if not asked:  # every room type of the hotel (EQC: all active products)
                rooms = self.state.room_listings(hotel)
                own = self.state.listings.get(hotel)
                asked = [(code, []) for code in sorted(rooms)] + ([(own.room_code(), [])] if own else [])
            # Each room type answers from its own calendar (a room-type listing's, else the hotel's).
            own = self.state.listings.get(hotel) or Listing(hotel)
            rooms = [(room, plans, self._room(hotel, room, own)) for room, plans in asked]
            avail = []
            night = first
            while night <= last:
                types = []
                for room, plans, listing in rooms:
                    day = listing.days.get(night)
                    held = None  # what the plan holds that night: its rate, or (restrictions asked) its maxLOS
                    if restrictions and day is not None and day.max_stay is not None:
                        held = rs.Restrictions(maxLOS=str(day.max_stay))
                    elif not restrictions and day is not None and day.price is not None:
                        held = rs.Rate(rs.PerDay(rate=f"{day.price:f}"), currency=day.currency or listing.currency)
                    if held is not None:
                        plans = plans or [listing.rate_code()]
                        types.append(rs.RoomType(*[rs.RatePlan(deepcopy(held), id=plan) for plan in plans], id=room))
                if types:
                    avail.append(rs.AvailRate(*types, date=night.isoformat()))
                night += timedelta(days=1)
        answer = rs.ProductAvailRateRetrievalRS(rs.AvailRateList(rs.Hotel(id=hotel), *avail))
        return Response.xml(200, self._finish(answer, "ProductAvailRateRetrievalRS"))

    # BR

    def booking_retrieval(self, req: Request, account: str) -> Response:
        root = self._validate(req)
        hotel = _hotel_id(root, BR, required=False)
        with self.app.store.lock:
            if hotel is not None and not self.state.knows_hotel(hotel):
                raise Invalid(f"hotel {hotel} is not one of yours", code=ERR_HOTEL)
            chosen = self._select(root, hotel)[:MAX_BOOKINGS]
            bookings = [_booking(r, self.state.hotel_of(r)) for r in chosen]
            for reservation in chosen:
                if reservation.br_status == "pending":
                    reservation.br_status = "retrieved"
        rs = ElementMaker(namespace=BR, nsmap={None: BR})
        return Response.xml(
            200, self._finish(rs("BookingRetrievalRS", rs("Bookings", *bookings)), "BookingRetrievalRS")
        )

    def _select(self, root: etree._Element, hotel: str | None) -> list[Reservation]:
        params = root.find(f"{{{BR}}}ParamSet")
        candidates = [r for r in self.state.reservations.values() if hotel is None or self.state.hotel_of(r) == hotel]
        single = params.find(f"{{{BR}}}Booking") if params is not None else None
        if single is not None:
            return [r for r in candidates if r.id == single.get("id")]
        statuses = {s.get("value") for s in params.findall(f"{{{BR}}}Status")} if params is not None else set()
        days = params.findtext(f"{{{BR}}}NbDaysInPast") if params is not None else None
        if "confirmed" in statuses and len(statuses) == 1 and not days:
            raise Invalid("Status confirmed alone needs NbDaysInPast")
        statuses = statuses or {"pending", "retrieved"}
        since = utcnow() - timedelta(days=int(days)) if days else None
        chosen = [r for r in candidates if r.br_status in statuses and (since is None or r.updated_at >= since)]
        return sorted(chosen, key=lambda r: (r.updated_at, r.id))

    # BC

    def booking_confirm(self, req: Request, account: str) -> Response:
        root = self._validate(req)
        hotel = _hotel_id(root, BC_RQ, required=True)
        rs = ElementMaker(namespace=BC_RS, nsmap={None: BC_RS})
        with self.app.store.lock:
            if not self.state.knows_hotel(hotel):
                raise Invalid(f"hotel {hotel} is not one of yours", code=ERR_HOTEL)
            numbers = root.iterfind(f"{{{BC_RQ}}}BookingConfirmNumbers/{{{BC_RQ}}}BookingConfirmNumber")
            warnings = [w for n in numbers if (w := self._confirm(hotel, n, rs)) is not None]
        return Response.xml(200, self._finish(rs("BookingConfirmRS", rs("Success", *warnings)), "BookingConfirmRS"))

    def _confirm(self, hotel: str, number: etree._Element, rs: ElementMaker) -> etree._Element | None:
        booking_id, booking_type = number.get("bookingID", ""), number.get("bookingType", "")
        confirm_number = number.get("confirmNumber", "")
        if not confirm_number:
            raise Invalid("BookingConfirmNumber@confirmNumber is required")
        reservation = self.state.reservations.get(booking_id)
        attrs = {"bookingID": booking_id, "bookingType": booking_type, "confirmNumber": confirm_number}
        if reservation is None or self.state.hotel_of(reservation) != hotel:
            text = "Update refused. Hotel ID and Booking ID mismatch."
            return rs("Warning", text, code=WARN_MISMATCH, **attrs)
        if BOOKING_TYPES[reservation.last_change] != booking_type:
            text = f"Update refused. The booking's latest change is {BOOKING_TYPES[reservation.last_change]}."
            return rs("Warning", text, code=WARN_NOT_PENDING, **attrs)
        reservation.br_status, reservation.confirm_number = "confirmed", confirm_number
        return None

    # SOAP notification

    def notify(self, reservation: Reservation, event: str) -> None:
        envelope = notification(
            reservation,
            event,
            self.app.schemas,
            request_id=str(uuid.uuid4().int % 10**9),
            hotel=self.state.hotel_of(reservation),
        )
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{envelope.payload_name}"'}
        self.app.webhooks.send(Webhook(self.slug, self.webhook_url(), envelope.body, headers))


def _classify(error: ApiError) -> tuple[str, int]:
    """(EQC error code, HTTP status): EQC answers errors in a 200 RS, except for limits and outages."""
    if isinstance(error, Unauthorized):
        return ERR_AUTH, 200
    if isinstance(error, Invalid):
        return error.code or ERR_INVALID, 200
    if isinstance(error, (RateLimited, Faulted)):
        return ERR_INTERNAL, error.status
    return (ERR_INVALID, error.status) if error.status < 500 else (ERR_INTERNAL, error.status)


def _hotel_id(root: etree._Element, ns: str, *, required: bool) -> str | None:
    hotel = root.find(f"{{{ns}}}Hotel")
    if hotel is None:
        if required:
            raise Invalid("Hotel id= is required")
        return None
    raw = hotel.get("id", "")
    if not raw.isdigit():
        raise Invalid(f"Hotel@id must be a non-negative integer, got {raw!r}")
    return str(int(raw))


def _block_updates(block: etree._Element, where: str) -> list[tuple[list[date], str, str | None, dict]]:
    nights = _nights(block, where)
    updates = []
    for room in block.findall(f"{{{AR_RQ}}}RoomType"):
        room_id = room.get("id", "")
        room_changes = _room_changes(room, f"{where}/RoomType[{room_id}]")
        if room_changes:
            updates.append((nights, room_id, None, room_changes))
        for plan in room.findall(f"{{{AR_RQ}}}RatePlan"):
            plan_changes = _rate_plan_changes(plan, f"{where}/RatePlan[{plan.get('id')}]")
            updates.append((nights, room_id, plan.get("id", ""), plan_changes))
        if not room_changes and room.find(f"{{{AR_RQ}}}RatePlan") is None:
            raise Invalid(f"{where}/RoomType[{room_id}]: nothing to update")
    if not updates:
        raise Invalid(f"{where}: a RoomType is required")
    return updates


def _nights(block: etree._Element, where: str) -> list[date]:
    ranges = block.findall(f"{{{AR_RQ}}}DateRange")
    if not ranges:
        raise Invalid(f"{where}: DateRange is required")
    nights: set[date] = set()
    for span in ranges:
        start = checks.iso_date(span.get("from"), f"{where}/DateRange@from")
        end = checks.iso_date(span.get("to"), f"{where}/DateRange@to")
        flagged = {day for day in WEEKDAYS if span.get(day) is not None}
        wanted = {day for day in flagged if _bool(span.get(day), f"{where}/DateRange@{day}")}
        for night in checks.inclusive_range(start, end, f"{where}/DateRange"):
            if not flagged or WEEKDAYS[night.weekday()] in wanted:
                nights.add(night)
    return sorted(nights)


def _room_changes(room: etree._Element, where: str) -> dict:
    changes = {}
    inventory = room.find(f"{{{AR_RQ}}}Inventory")
    if inventory is not None:
        if inventory.get("flexibleAllocation") is not None:
            raise Invalid(f"{where}: use Inventory@totalInventoryAvailable (0 or 1), not flexibleAllocation")
        total = inventory.get("totalInventoryAvailable")
        if total not in ("0", "1"):
            raise Invalid(f"{where}: Inventory@totalInventoryAvailable must be 0 or 1 (one unit), got {total!r}")
        changes["open"] = total == "1"
    if room.get("closed") is not None:
        changes["stop_sell"] = _bool(room.get("closed"), f"{where}@closed")
    return changes


def _rate_plan_changes(plan: etree._Element, where: str) -> dict:
    changes: dict = {}
    if plan.get("closed") is not None:
        changes["stop_sell"] = _bool(plan.get("closed"), f"{where}@closed")
    for rate in plan.findall(f"{{{AR_RQ}}}Rate"):
        changes |= _rate(rate, where)
    limits = plan.find(f"{{{AR_RQ}}}Restrictions")
    if limits is not None:
        if limits.get("minLOS") is not None:
            changes["min_stay"] = _min_stay(limits.get("minLOS"), f"{where}/Restrictions@minLOS")
        if limits.get("maxLOS") is not None:
            changes["max_stay"] = _min_stay(limits.get("maxLOS"), f"{where}/Restrictions@maxLOS")
        for attr, field in (("closedToArrival", "closed_to_arrival"), ("closedToDeparture", "closed_to_departure")):
            if limits.get(attr) is not None:
                changes[field] = _bool(limits.get(attr), f"{where}/Restrictions@{attr}")
    if not changes:
        raise Invalid(f"{where}: nothing to update")
    return changes


def _rate(rate: etree._Element, where: str) -> dict:
    if rate.get("lengthOfStay") is not None:
        raise Invalid(f"{where}/Rate: length-of-stay pricing is not offered for this listing")
    per_day = rate.find(f"{{{AR_RQ}}}PerDay")
    if per_day is None:
        raise Invalid(f"{where}/Rate: PerDay rate= is required (PerOccupancy/PerPerson are not offered)")
    currency = checks.currency(rate.get("currency"), f"{where}/Rate@currency")
    return {"price": checks.money(per_day.get("rate"), f"{where}/PerDay@rate", currency), "currency": currency}


def _check_codes(listing: Listing, updates: list) -> None:
    for _, room, rate, _ in updates:
        if listing.room_codes and room not in listing.room_codes:
            raise Invalid(f"The following RoomTypeIDs do not belong to the given hotel: {room}.", code=ERR_ROOM)
        if listing.rate_codes and rate is not None and rate not in listing.rate_codes:
            raise Invalid(f"The following RatePlanIDs do not belong to the given hotel: {rate}.", code=ERR_RATE)


def _min_stay(raw: str, where: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 28:
        raise Invalid(f"{where} must be an integer 1..28, got {raw!r}")
    return int(raw)


def _bool(raw: str | None, where: str) -> bool:
    if raw not in ("true", "false", "1", "0"):
        raise Invalid(f"{where} must be true or false, got {raw!r}")
    return raw in ("true", "1")


def _booking(r: Reservation, hotel: str) -> etree._Element:
    rs = ElementMaker(namespace=BR, nsmap={None: BR})
    given, surname = r.given_and_surname()
    guest = [rs("Name", givenName=given, surname=surname)]
    guest += [rs("Phone", number=r.guest_phone)] if r.guest_phone else []
    guest += [rs("Email", r.guest_email)] if r.guest_email else []
    attrs = {
        "id": r.id,
        "type": BOOKING_TYPES[r.last_change],
        "createDateTime": checks.iso_precise(r.updated_at),
        "source": brand(r),
        "status": r.br_status,
    }
    if r.confirm_number:
        attrs["confirmNumber"] = r.confirm_number
    return rs(
        "Booking",
        rs("Hotel", id=hotel),
        rs(
            "RoomStay",
            rs("StayDate", arrival=r.check_in.isoformat(), departure=r.check_out.isoformat()),
            rs(
                "GuestCount",
                *[rs("Child", age=age) for age in ["8"] * r.children + ["1"] * r.infants],
                adult=str(min(r.adults, 28)),
                child=str(r.children + r.infants),
            ),
            rs(
                "PerDayRates",
                *[rs("PerDayRate", stayDate=d.isoformat(), baseRate=p) for d, p in nightly(r)],
                currency=r.currency,
            ),
            rs("Total", amountAfterTaxes=f"{r.total:.2f}", currency=r.currency, **_tax_attrs(r)),
            roomTypeID=r.room_code,
            ratePlanID=r.rate_code,
        ),
        rs("PrimaryGuest", *guest),
        *[rs("SpecialRequest", text, code="4") for text in r.special_requests],
        **attrs,
    )


def _tax_attrs(r: Reservation) -> dict:
    return {} if r.taxes is None else {"amountOfTaxes": f"{r.taxes:.2f}"}
