"""Google Vacation Rentals: OTA ARI messages and a JSON reservation API behind OAuth 2.0, Pub/Sub push with a JWT."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox import checks
from sandbox.exchange import ApiError, NotFound, Request, Response
from sandbox.oauth import OAuthServer
from sandbox.platforms import ota
from sandbox.platforms.base import Platform, route
from sandbox.platforms.paging import changed_since, keyset_page
from sandbox.state import Reservation, utcnow
from sandbox.webhooks import Webhook

CLIENTS = {"sandbox-google-client": "sandbox-google-secret"}
PUSH_EMAIL = "pubsub@sandbox-vr.iam.gserviceaccount.com"
PUSH_SUBJECT = "108734583562071982613"
SUBSCRIPTION = "projects/sandbox/subscriptions/vr"
RS_NAMES = {"OTA_HotelAvailNotif": "OTA_HotelAvailNotifRS", "OTA_HotelRateAmountNotif": "OTA_HotelRateAmountNotifRS"}
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}
EVENTS = {"created": "RESERVATION_CREATED", "updated": "RESERVATION_UPDATED", "cancelled": "RESERVATION_CANCELLED"}


class Google(Platform):
    slug = "google"
    webhook_path = "google"
    rate_limit = (100, 1.0)
    guest_bookings = True
    availability_write = "POST OTA_HotelAvailNotif"
    pricing_write = "POST OTA_HotelRateAmountNotif"

    def __init__(self, app):
        self.oauth = OAuthServer(CLIENTS, token_ttl=app.token_ttl)
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = uuid.uuid4().hex
        super().__init__(app)

    def build_routes(self):
        return [
            route("GET", "/oauth2/authorize", "oauth_authorize", self.authorize, protected=False),
            route("POST", "/oauth2/token", "oauth_token", self.token, protected=False),
            route("GET", "/oauth2/v3/certs", "certs", self.certs, protected=False, faultable=False),
            route("POST", "/ari/OTA_HotelAvailNotif", "OTA_HotelAvailNotif", self.avail_notif),
            route("POST", "/ari/OTA_HotelRateAmountNotif", "OTA_HotelRateAmountNotif", self.rate_notif),
            route("GET", "/v1/partner", "partner", self.partner),
            route("GET", "/v1/reservations/{reservation_id}", "reservation", self.reservation),
            route("GET", "/v1/listings/{listing_id}/reservations", "listing_reservations", self.listing_reservations),
        ]

    def authenticate(self, req: Request) -> str:
        return self.oauth.client_for(req)

    def render_error(self, req: Request, error: ApiError) -> Response:
        if req.endpoint in RS_NAMES:
            return ota.error_response(self.app.schemas, RS_NAMES[req.endpoint], req, error)
        status_name = STATUS_NAMES.get(error.status, "INTERNAL")
        return Response.json(
            error.status, {"error": {"code": error.status, "message": error.message, "status": status_name}}
        )

    def reset(self) -> None:
        self.oauth.reset()

    def new_reservation_id(self, number: int) -> str:
        return f"gvr-{secrets.token_hex(6)}"

    # OAuth and keys

    def authorize(self, req: Request, account: str) -> Response:
        return self.oauth.authorize(req)

    def token(self, req: Request, account: str) -> Response:
        return self.oauth.token(req)

    def certs(self, req: Request, account: str) -> Response:
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self.signing_key.public_key(), as_dict=True)
        key |= {"kid": self.key_id, "alg": "RS256", "use": "sig"}
        return Response.json(200, {"keys": [key]}, {"Cache-Control": "public, max-age=3600"})

    # ARI

    def avail_notif(self, req: Request, account: str) -> Response:
        root = ota.read_request(self.app.schemas, req, "OTA_HotelAvailNotifRQ")
        return self._apply(req, *ota.read_avail(root, require_codes=True))

    def rate_notif(self, req: Request, account: str) -> Response:
        root = ota.read_request(self.app.schemas, req, "OTA_HotelRateAmountNotifRQ")
        return self._apply(req, *ota.read_rates(root, require_codes=True))

    def _apply(self, req: Request, hotel: str, updates: list[ota.AriChange]) -> Response:
        self.refuse_long_min_stays(update.changes for update in updates)
        with self.app.store.lock:
            ota.apply_to(self.state, hotel, updates)
        body = ota.response(self.app.schemas, RS_NAMES[req.endpoint], echo=req.parsed.get("EchoToken"))
        return Response.xml(200, body)

    # reservations

    def partner(self, req: Request, account: str) -> Response:
        return Response.json(200, {"partner": {"id": account, "displayName": "Sandbox partner"}})

    def reservation(self, req: Request, account: str, reservation_id: str) -> Response:
        with self.app.store.lock:
            found = self.state.reservations.get(reservation_id)
            if found is None:
                raise NotFound(f"no reservation {reservation_id}")
            return Response.json(200, {"reservation": self.represent(found)})

    def listing_reservations(self, req: Request, account: str, listing_id: str) -> Response:
        since = checks.timestamp(req.arg("updatedSince"), "updatedSince")
        with self.app.store.lock:
            if listing_id not in self.state.listings:
                raise NotFound(f"no listing {listing_id}")
            ordered = changed_since(self.state.of_listing(listing_id), since)
            page, token = keyset_page(ordered, req.arg("pageToken"))
            return Response.json(200, {"reservations": [self.represent(r) for r in page], "nextPageToken": token})

    def represent(self, r: Reservation) -> dict:
        given, family = r.given_and_surname()
        return {
            "reservationId": r.id,
            "listingId": r.listing_id,
            "status": "CONFIRMED" if r.active else "CANCELLED",
            "checkIn": r.check_in.isoformat(),
            "checkOut": r.check_out.isoformat(),
            "guest": {"givenName": given, "familyName": family, "email": r.guest_email, "phone": r.guest_phone},
            "guestCount": r.guests,
            "guests": {"adults": r.adults, "children": r.children, "infants": r.infants},
            "taxes": None if r.taxes is None else {"amount": f"{r.taxes:.2f}", "currencyCode": r.currency},
            "specialRequests": list(r.special_requests),
            "total": {"amount": f"{r.total:.2f}", "currencyCode": r.currency},
            "updateTime": checks.iso_instant(r.updated_at),
            "revision": r.revision,
        }

    # Pub/Sub push

    def notify(self, reservation: Reservation, event: str) -> None:
        data = {
            "eventType": EVENTS[event],
            "reservationId": reservation.id,
            "listingId": reservation.listing_id,
            "revision": reservation.revision,
        }
        message_id = str(time.time_ns())
        published = utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message = {
            "data": base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode(),
            "attributes": {"eventType": EVENTS[event]},
            # Pub/Sub push sends both spellings of these two fields.
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": published,
            "publish_time": published,
        }
        body = json.dumps({"message": message, "subscription": SUBSCRIPTION}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.push_token()}"}
        self.app.webhooks.send(Webhook(self.slug, self.webhook_url(), body, headers))

    def push_token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": self.webhook_url(),
            "azp": PUSH_SUBJECT,
            "sub": PUSH_SUBJECT,
            "email": PUSH_EMAIL,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
        }
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.key_id})
