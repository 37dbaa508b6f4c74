"""FeWo-direkt (Vrbo): JSON REST behind an API key, HMAC-signed webhooks (base64, newline-separated)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid

from sandbox import checks
from sandbox.exchange import ApiError, NotFound, Request, Response, Unauthorized
from sandbox.platforms.base import Platform, route
from sandbox.platforms.paging import changed_since, numbered_page
from sandbox.state import Reservation, utcnow
from sandbox.webhooks import Webhook

API_KEYS = {"sandbox-fewo-key"}
WEBHOOK_SECRET = b"sandbox-fewo-webhook"
MAX_ENTRIES = 50
AVAILABILITY_FIELDS = {"from", "to", "status", "minStay", "arrivalAllowed", "departureAllowed"}
MAX_STAY = 365  # decision: a year
RATE_FIELDS = {"from", "to", "nightlyRate"}
STATUSES = {"AVAILABLE": True, "UNAVAILABLE": False}
ERROR_CODES = {400: "INVALID_REQUEST", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 409: "CONFLICT", 429: "RATE_LIMITED"}
EVENTS = {"created": "RESERVATION_CREATED", "updated": "RESERVATION_UPDATED", "cancelled": "RESERVATION_CANCELLED"}


class FewoDirekt(Platform):
    slug = "fewo_direkt"
    webhook_path = "fewo-direkt"
    rate_limit = (30, 1.0)
    guest_bookings = True
    availability_write = "PUT availability"
    pricing_write = "PUT rates"

    def build_routes(self):
        return [
            route("GET", "/v1/ping", "ping", self.ping),
            route("GET", "/v1/reservations/{reservation_id}", "reservation", self.reservation),
            route("GET", "/v1/listings/{listing_id}/reservations", "listing_reservations", self.listing_reservations),
            route("PUT", "/v1/listings/{listing_id}/availability", "availability", self.availability),
            route("PUT", "/v1/listings/{listing_id}/rates", "rates", self.rates),
        ]

    def authenticate(self, req: Request) -> str:
        key = req.header("X-Api-Key") or ""
        if not any(secrets.compare_digest(key, known) for known in API_KEYS):
            raise Unauthorized("missing or wrong X-Api-Key")
        return key

    def render_error(self, req: Request, error: ApiError) -> Response:
        code = error.code or ERROR_CODES.get(error.status, "INTERNAL_ERROR")
        return Response.json(error.status, {"errors": [{"code": code, "message": error.message}]})

    def new_reservation_id(self, number: int) -> str:
        return f"HA-{secrets.token_hex(4).upper()}"

    # endpoints

    def ping(self, req: Request, account: str) -> Response:
        return Response.json(200, {"status": "ok"})

    def reservation(self, req: Request, account: str, reservation_id: str) -> Response:
        with self.app.store.lock:
            found = self.state.reservations.get(reservation_id)
            if found is None:
                raise NotFound(f"no reservation {reservation_id}")
            return Response.json(200, self.represent(found))

    def listing_reservations(self, req: Request, account: str, listing_id: str) -> Response:
        since = checks.timestamp(req.arg("modifiedSince"), "modifiedSince")
        with self.app.store.lock:
            if listing_id not in self.state.listings:
                raise NotFound(f"no listing {listing_id}")
            ordered = changed_since(self.state.of_listing(listing_id), since)
            items, page, more = numbered_page(ordered, req.arg("page"))
            return Response.json(200, {"items": [self.represent(r) for r in items], "page": page, "hasMore": more})

    def availability(self, req: Request, account: str, listing_id: str) -> Response:
        entries = self._entries(req)
        updates = [_availability_entry(item, f"entries[{i}]") for i, item in enumerate(entries)]
        checks.no_overlaps([(nights[0], nights[-1]) for nights, _ in updates], "entries")
        self.refuse_long_min_stays(changes for _, changes in updates)
        with self.app.store.lock:
            listing = self.state.listing_for_write(listing_id)
            for nights, changes in updates:
                listing.update(nights, **changes)
        return Response.json(200, {"accepted": len(updates)})

    def rates(self, req: Request, account: str, listing_id: str) -> Response:
        entries = self._entries(req, extra={"currency"})
        currency = checks.currency(req.parsed["currency"], "currency")
        updates = [_rate_entry(item, f"entries[{i}]", currency) for i, item in enumerate(entries)]
        checks.no_overlaps([(nights[0], nights[-1]) for nights, _ in updates], "entries")
        with self.app.store.lock:
            listing = self.state.listing_for_write(listing_id)
            for nights, price in updates:
                listing.update(nights, price=price, currency=currency)
        return Response.json(200, {"accepted": len(updates)})

    def _entries(self, req: Request, extra: set[str] = frozenset()) -> list:
        req.parsed = checks.require_object(req.json(), "body")
        checks.exact_fields(req.parsed, {"entries", *extra}, "body")
        return checks.require_list(req.parsed["entries"], "entries", max_items=MAX_ENTRIES)

    # outbound

    def represent(self, r: Reservation) -> dict:
        return {
            "reservationId": r.id,
            "listingId": r.listing_id,
            "status": "BOOKED" if r.active else "CANCELLED",
            "arrivalDate": r.check_in.isoformat(),
            "departureDate": r.check_out.isoformat(),
            "guest": {"name": r.guest_name, "email": r.guest_email, "phone": r.guest_phone},
            "adults": r.adults,
            "children": r.children,
            "infants": r.infants,
            "taxes": None if r.taxes is None else {"amount": f"{r.taxes:.2f}", "currency": r.currency},
            "fees": None if r.fees is None else {"amount": f"{r.fees:.2f}", "currency": r.currency},
            "comments": list(r.special_requests),
            "paymentCollector": "PROPERTY" if r.property_collects else "VRBO",
            "totalAmount": {"amount": f"{r.total:.2f}", "currency": r.currency},
            "lastModified": checks.iso_instant(r.updated_at),
            "revision": r.revision,
        }

    def notify(self, reservation: Reservation, event: str) -> None:
        payload = {
            "eventId": str(uuid.uuid4()),
            "eventType": EVENTS[event],
            "reservationId": reservation.id,
            "listingId": reservation.listing_id,
            "revision": reservation.revision,
            "timestamp": checks.iso_instant(utcnow()),
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        digest = hmac.new(WEBHOOK_SECRET, stamp.encode() + b"\n" + body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-FeWo-Timestamp": stamp,
            "X-FeWo-Signature": base64.b64encode(digest).decode(),
        }
        self.app.webhooks.send(Webhook(self.slug, self.webhook_url(), body, headers))


def _nights(item: dict, where: str):
    start = checks.iso_date(item["from"], f"{where}.from")
    end = checks.iso_date(item["to"], f"{where}.to")
    return checks.inclusive_range(start, end, where)


def _availability_entry(item, where: str):
    checks.require_object(item, where)
    checks.exact_fields(item, AVAILABILITY_FIELDS, where, optional={"maxStay"})
    if item["status"] not in STATUSES:
        raise checks.Invalid(f"{where}.status must be AVAILABLE or UNAVAILABLE, got {item['status']!r}")
    changes = {
        "open": STATUSES[item["status"]],
        "min_stay": checks.positive_int(item["minStay"], f"{where}.minStay"),
        "closed_to_arrival": not checks.boolean(item["arrivalAllowed"], f"{where}.arrivalAllowed"),
        "closed_to_departure": not checks.boolean(item["departureAllowed"], f"{where}.departureAllowed"),
    }
    if "maxStay" in item:  # optional: left out, the maximum stay is unchanged
        changes["max_stay"] = checks.stay_limit(item["maxStay"], f"{where}.maxStay", MAX_STAY)
    return _nights(item, where), changes


def _rate_entry(item, where: str, currency: str):
    checks.require_object(item, where)
    checks.exact_fields(item, RATE_FIELDS, where)
    return _nights(item, where), checks.money(item["nightlyRate"], f"{where}.nightlyRate", currency)
