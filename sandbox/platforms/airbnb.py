"""Airbnb: JSON REST behind OAuth 2.0, HMAC-signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
import uuid

from sandbox import checks
from sandbox.exchange import ApiError, NotFound, Request, Response
from sandbox.oauth import OAuthServer
from sandbox.platforms.base import Platform, route
from sandbox.platforms.paging import changed_since, keyset_page
from sandbox.state import Reservation, utcnow
from sandbox.webhooks import Webhook

CLIENTS = {"sandbox-airbnb-client": "sandbox-airbnb-secret"}
WEBHOOK_SECRET = b"sandbox-airbnb-webhook"
MAX_RANGES = 100
CALENDAR_FIELDS = {"start_date", "end_date", "available", "min_nights", "closed_to_arrival", "closed_to_departure"}
MAX_NIGHTS = 1125  # Airbnb's longest maximum stay
PRICING_FIELDS = {"start_date", "end_date", "nightly_price"}
ERROR_CODES = {400: "invalid_request", 401: "invalid_token", 404: "not_found", 409: "conflict", 429: "rate_limited"}
EVENTS = {"created": "reservation.created", "updated": "reservation.updated", "cancelled": "reservation.cancelled"}
ICAL_STYLE = {
    "head": ["PRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN", "CALSCALE:GREGORIAN", "VERSION:2.0"],
    "booked": "Reserved",
    "closed": "Airbnb (Not available)",
    "domain": "airbnb.com",
}


class Airbnb(Platform):
    slug = "airbnb"
    webhook_path = "airbnb"
    rate_limit = (10, 1.0)
    guest_bookings = True
    availability_write = "PUT calendar"
    pricing_write = "PUT pricing"
    ical_style = ICAL_STYLE
    clients = CLIENTS

    def __init__(self, app):
        self.oauth = OAuthServer(self.clients, token_ttl=app.token_ttl)
        super().__init__(app)

    def build_routes(self):
        return [
            route("GET", "/oauth2/authorize", "oauth_authorize", self.authorize, protected=False),
            route("POST", "/oauth2/token", "oauth_token", self.token, protected=False),
            route("GET", "/v2/users/me", "users_me", self.me),
            route("GET", "/v2/reservations/{code}", "reservation", self.reservation),
            route("GET", "/v2/listings/{listing_id}/reservations", "listing_reservations", self.listing_reservations),
            route("PUT", "/v2/listings/{listing_id}/calendar", "calendar", self.calendar),
            route("PUT", "/v2/listings/{listing_id}/pricing", "pricing", self.pricing),
        ]

    def authenticate(self, req: Request) -> str:
        return self.oauth.client_for(req)

    def render_error(self, req: Request, error: ApiError) -> Response:
        code = error.code or ERROR_CODES.get(error.status, "server_error")
        return Response.json(error.status, {"error": code, "error_message": error.message})

    def reset(self) -> None:
        self.oauth.reset()

    def new_reservation_id(self, number: int) -> str:
        return "HM" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))

    def ical_description(self, reservation: Reservation) -> str:
        url = f"https://www.airbnb.com/hosting/reservations/details/{reservation.id}"
        phone = reservation.guest_phone
        return f"Reservation URL: {url}\nPhone Number (Last 4 Digits): {phone[-4:] if phone else '0000'}"

    # endpoints

    def authorize(self, req: Request, account: str) -> Response:
        return self.oauth.authorize(req)

    def token(self, req: Request, account: str) -> Response:
        return self.oauth.token(req)

    def me(self, req: Request, account: str) -> Response:
        return Response.json(200, {"user": {"id": account, "first_name": "Sandbox", "last_name": "Host"}})

    def reservation(self, req: Request, account: str, code: str) -> Response:
        with self.app.store.lock:
            found = self.state.reservations.get(code)
            if found is None:
                raise NotFound(f"no reservation {code}")
            return Response.json(200, {"reservation": self.represent(found)})

    def listing_reservations(self, req: Request, account: str, listing_id: str) -> Response:
        since = checks.timestamp(req.arg("updated_since"), "updated_since")
        with self.app.store.lock:
            if listing_id not in self.state.listings:
                raise NotFound(f"no listing {listing_id}")
            ordered = changed_since(self.state.of_listing(listing_id), since)
            page, cursor = keyset_page(ordered, req.arg("cursor"))
            return Response.json(200, {"reservations": [self.represent(r) for r in page], "next_cursor": cursor})

    def calendar(self, req: Request, account: str, listing_id: str) -> Response:
        body = checks.require_object(req.json(), "body")
        checks.exact_fields(body, {"ranges"}, "body")
        ranges = checks.require_list(body["ranges"], "ranges", max_items=MAX_RANGES)
        updates = [_calendar_range(item, f"ranges[{i}]") for i, item in enumerate(ranges)]
        checks.no_overlaps([(nights[0], nights[-1]) for nights, _ in updates], "ranges")
        self.refuse_long_min_stays(changes for _, changes in updates)
        with self.app.store.lock:
            listing = self.state.listing_for_write(listing_id)
            updated = sum(listing.update(nights, **changes) for nights, changes in updates)
        return Response.json(200, {"updated_nights": updated})

    def pricing(self, req: Request, account: str, listing_id: str) -> Response:
        body = checks.require_object(req.json(), "body")
        checks.exact_fields(body, {"currency", "ranges"}, "body")
        currency = checks.currency(body["currency"], "currency")
        ranges = checks.require_list(body["ranges"], "ranges", max_items=MAX_RANGES)
        updates = [_pricing_range(item, f"ranges[{i}]", currency) for i, item in enumerate(ranges)]
        checks.no_overlaps([(nights[0], nights[-1]) for nights, _ in updates], "ranges")
        with self.app.store.lock:
            listing = self.state.listing_for_write(listing_id)
            updated = sum(listing.update(nights, price=price, currency=currency) for nights, price in updates)
        return Response.json(200, {"updated_nights": updated})

    # outbound

    def represent(self, r: Reservation) -> dict:
        first, last = r.given_and_surname()
        return {
            "confirmation_code": r.id,
            "listing_id": r.listing_id,
            "status": "accepted" if r.active else "cancelled",
            "start_date": r.check_in.isoformat(),
            "end_date": r.check_out.isoformat(),
            "guest": {"first_name": first, "last_name": last, "email": r.guest_email, "phone": r.guest_phone},
            "number_of_guests": r.guests,
            "guest_details": {
                "number_of_adults": r.adults,
                "number_of_children": r.children,
                "number_of_infants": r.infants,
            },
            "taxes": None if r.taxes is None else f"{r.taxes:.2f}",
            "fees": None if r.fees is None else f"{r.fees:.2f}",
            "special_requests": list(r.special_requests),
            "total_price": f"{r.total:.2f}",
            "currency": r.currency,
            "updated_at": checks.iso_instant(r.updated_at),
            "version": r.revision,
        }

    def notify(self, reservation: Reservation, event: str) -> None:
        payload = {
            "event_id": str(uuid.uuid4()),
            "type": EVENTS[event],
            "listing_id": reservation.listing_id,
            "confirmation_code": reservation.id,
            "version": reservation.revision,
            "occurred_at": checks.iso_instant(utcnow()),
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        digest = hmac.new(WEBHOOK_SECRET, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Airbnb-Signature": f"t={stamp},v1={digest}"}
        self.app.webhooks.send(Webhook(self.slug, self.webhook_url(), body, headers))


def _calendar_range(item, where: str):
    checks.require_object(item, where)
    checks.exact_fields(item, CALENDAR_FIELDS, where, optional={"max_nights"})
    nights = _nights(item, where)
    changes = {
        "open": checks.boolean(item["available"], f"{where}.available"),
        "min_stay": checks.positive_int(item["min_nights"], f"{where}.min_nights"),
        "closed_to_arrival": checks.boolean(item["closed_to_arrival"], f"{where}.closed_to_arrival"),
        "closed_to_departure": checks.boolean(item["closed_to_departure"], f"{where}.closed_to_departure"),
    }
    if "max_nights" in item:  # optional: left out, the maximum stay is unchanged
        changes["max_stay"] = checks.stay_limit(item["max_nights"], f"{where}.max_nights", MAX_NIGHTS)
    return nights, changes


def _pricing_range(item, where: str, currency: str):
    checks.require_object(item, where)
    checks.exact_fields(item, PRICING_FIELDS, where)
    return _nights(item, where), checks.money(item["nightly_price"], f"{where}.nightly_price", currency)


def _nights(item: dict, where: str):
    start = checks.iso_date(item["start_date"], f"{where}.start_date")
    end = checks.iso_date(item["end_date"], f"{where}.end_date")
    return checks.inclusive_range(start, end, where)
