"""Google Vacation Rentals: OTA ARI XML with an OAuth bearer token, JSON reservations, Pub/Sub push.

The ARI messages are the same OTA 2015B shapes Booking.com takes (``adapters.booking_com.ota``), with
``InvTypeCode`` and ``RatePlanCode`` always present. See the google section of docs/platforms.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import ClassVar
from urllib.parse import quote

from adapters import http
from adapters.base import (
    CATCH_UP_SECONDS,
    AvailabilityUpdate,
    BookingData,
    BookingNotFoundError,
    BookingPage,
    BookingStatus,
    Capability,
    Demo,
    Guest,
    HealthResult,
    Notification,
    NotificationKind,
    PlatformAdapter,
    PlatformAPIError,
    Polling,
    PricingUpdate,
    RateLimit,
    Setting,
    WebhookConfig,
    WebhookPayloadError,
    batches,
    iso_utc,
)
from adapters.booking_com import ota
from adapters.booking_com.ota_codes import OTA_MAPPING_RULES
from adapters.google import pubsub
from adapters.google.keys import fetch_jwks
from adapters.oauth import OAuthCodeFlow
from adapters.xml import utc_version

SLUG = "google"
SCOPE = "https://www.googleapis.com/auth/travelpartner"
DEFAULT_RATE_PLAN = "BAR"
EVENT_KINDS = {
    "RESERVATION_CREATED": NotificationKind.BOOKING_CREATED,
    "RESERVATION_UPDATED": NotificationKind.BOOKING_MODIFIED,
    "RESERVATION_CANCELLED": NotificationKind.BOOKING_CANCELLED,
}


def version_string(revision) -> str:
    """Zero-padded so versions sort as strings."""
    return f"{int(revision):010d}"


def booking_from_reservation(item) -> BookingData:
    """Google's reservation JSON -> ``BookingData``; raises a transient ``PlatformAPIError`` if malformed."""
    try:
        guest = item.get("guest") or {}
        total = item.get("total") or {}
        amount = total.get("amount")
        return BookingData(
            platform=SLUG,
            channel_booking_id=str(item["reservationId"]),
            listing_id=str(item["listingId"]),
            status=BookingStatus.CANCELLED if item["status"] == "CANCELLED" else BookingStatus.CONFIRMED,
            check_in=dt.date.fromisoformat(item["checkIn"]),
            check_out=dt.date.fromisoformat(item["checkOut"]),
            guest=Guest(
                name=" ".join(p for p in (guest.get("givenName"), guest.get("familyName")) if p),
                email=guest.get("email") or "",
                phone=guest.get("phone") or "",
            ),
            guests_count=int(item.get("guestCount") or 1),
            total_amount=Decimal(str(amount)) if amount is not None else None,
            currency=total.get("currencyCode") or "",
            version=version_string(item["revision"])
            if item.get("revision") is not None
            else utc_version(item.get("updateTime") or ""),
            raw_status=str(item["status"]),
            **_details(item),
        )
    except (AttributeError, KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise PlatformAPIError(f"google: malformed reservation: {exc!r}", permanent=False) from None


def _details(item) -> dict:
    """Guests by type, taxes and the guest's requests (G in docs/platforms.md). Google takes no money:
    its guests book and pay on the partner's side, so it names no payment model."""
    guests = item.get("guests") or {}
    taxes = (item.get("taxes") or {}).get("amount")
    return {
        **{kind: None if guests.get(kind) is None else int(guests[kind]) for kind in ("adults", "children", "infants")},
        "taxes": None if taxes is None else Decimal(str(taxes)),
        "special_requests": tuple(str(text) for text in item.get("specialRequests") or ()),
    }


class GoogleAdapter(OAuthCodeFlow, PlatformAdapter):
    slug: ClassVar[str] = SLUG
    oauth_scope = SCOPE
    display_name: ClassVar[str] = "Google Vacation Rentals"
    colour = "#4285f4"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.PUSH_AVAILABILITY,
            Capability.PUSH_PRICING,
            Capability.PUSH_RESTRICTIONS,
            Capability.PUSH_MAX_STAY,
            Capability.WEBHOOKS,
            Capability.PULL_BOOKINGS,  # a catch-up poll behind the webhooks
            Capability.OAUTH,
            Capability.PER_NIGHT_PRICE,
            Capability.CLOSED_TO_ARRIVAL_DEPARTURE,
            Capability.RATE_PLAN_RESTRICTIONS,
        }
    )
    max_batch: ClassVar[int] = ota.MAX_MESSAGES
    rate_limit = RateLimit(100, 1.0)
    # Webhooks first; a lost one (an outage of ours, a secret being rotated) is caught within minutes,
    # not by the daily reconcile: its stay would sell twice meanwhile.
    polling = Polling(every_seconds=CATCH_UP_SECONDS, catch_up=True)
    # Google's ARI reference bounds LengthOfStay@Time nowhere (xs:integer): decision, a year.
    max_stay_ceiling = 365
    webhook_path = "google"
    mapping_rules = OTA_MAPPING_RULES  # the same OTA ARI messages as Booking.com
    # Pub/Sub push: an OIDC token signed by Google for this audience and service account.
    extra_settings = (
        Setting("PUBSUB_AUDIENCE", "{public_base_url}/webhooks/{webhook_path}"),
        Setting("PUBSUB_SERVICE_ACCOUNT", "pubsub@sandbox-vr.iam.gserviceaccount.com"),
        Setting(
            "PUBSUB_CERTS_URL",
            "https://www.googleapis.com/oauth2/v3/certs",
            sandbox_default="{sandbox_url}/google/oauth2/v3/certs",
        ),
    )
    signing_keys_setting = "PUBSUB_CERTS_URL"
    demo = Demo(listing_id="gvr-demo-{unit}")

    @classmethod
    def webhook_config(cls, platform_settings, *, signing_keys=None) -> WebhookConfig:
        return WebhookConfig(
            audience=str(platform_settings.get("PUBSUB_AUDIENCE", "")),
            service_account_email=str(platform_settings.get("PUBSUB_SERVICE_ACCOUNT", "")),
            jwks=signing_keys,
        )

    @classmethod
    def fetch_signing_keys(cls, url: str):
        return fetch_jwks(url)

    # --- plumbing -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.account.base_url.rstrip("/") + path

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.account.credentials.access_token}"}

    def _codes(self) -> tuple[str, str]:
        metadata = self.account.metadata or {}
        return (
            str(metadata.get("room_id") or self.account.listing_id),
            str(metadata.get("rate_plan_id") or DEFAULT_RATE_PLAN),
        )

    def _post_ari(self, operation: str, body: bytes, *, endpoint: str) -> None:
        room, rate = self._codes()
        try:
            ota.post(
                self._url(f"/ari/{operation}"),
                body,
                platform=SLUG,
                endpoint=endpoint,
                context=f"InvTypeCode={room!r}, RatePlanCode={rate!r}",
                headers=self._bearer(),
            )
        except PlatformAPIError as exc:
            raise self._token_error(exc) from None

    @staticmethod
    def _token_error(exc: PlatformAPIError) -> PlatformAPIError:
        # As for Airbnb: an expired token is not permanent, the engine refreshes it and retries.
        if exc.status == 401:
            return PlatformAPIError(str(exc), permanent=False, status=401, code="token_expired")
        return exc

    def _get_json(self, path: str, *, endpoint: str, params: dict | None = None) -> dict:
        response = http.request(
            "GET",
            self._url(path),
            platform=SLUG,
            endpoint=endpoint,
            headers=self._bearer(),
            params=params,
            raise_for_status=False,
        )
        if response.status_code == 404 and endpoint == "fetch_booking":
            raise BookingNotFoundError(f"google {endpoint}: not found", status=404)
        try:
            http.raise_for_response(response, platform=SLUG, endpoint=endpoint)
        except PlatformAPIError as exc:
            raise self._token_error(exc) from None
        try:
            body = response.json()
        except ValueError:
            raise PlatformAPIError(f"google {endpoint}: answer is not JSON", permanent=False) from None
        if not isinstance(body, dict):
            raise PlatformAPIError(f"google {endpoint}: answer is not an object", permanent=False)
        return body

    # --- outbound -----------------------------------------------------------------------------

    def update_availability(self, update: AvailabilityUpdate) -> int:
        """Raises ``InvalidUpdateError`` before any request if a value cannot be sent."""
        hotel = ota.hotel_code(update.listing_id)
        room, rate = self._codes()
        messages = ota.avail_messages(update, max_stay_ceiling=self.max_stay_ceiling)
        bodies = [ota.avail_request(hotel, chunk, room=room, rate=rate) for chunk in batches(messages, self.max_batch)]
        for body in bodies:
            self._post_ari("OTA_HotelAvailNotif", body, endpoint="update_availability")
        return len(bodies)

    def update_pricing(self, update: PricingUpdate) -> int:
        hotel = ota.hotel_code(update.listing_id)
        room, rate = self._codes()
        messages = ota.rate_messages(update)
        bodies = [ota.rate_request(hotel, chunk, room=room, rate=rate) for chunk in batches(messages, self.max_batch)]
        for body in bodies:
            self._post_ari("OTA_HotelRateAmountNotif", body, endpoint="update_pricing")
        return len(bodies)

    # --- bookings -----------------------------------------------------------------------------

    def fetch_booking(self, channel_booking_id: str) -> BookingData:
        body = self._get_json(f"/v1/reservations/{quote(channel_booking_id, safe='')}", endpoint="fetch_booking")
        return booking_from_reservation(body.get("reservation"))

    def fetch_bookings(
        self, *, cursor: str | None = None, since: dt.datetime | None = None, listing_ids: Sequence[str] = ()
    ) -> BookingPage:
        params = {}
        if since is not None:
            params["updatedSince"] = iso_utc(since)  # docs/platforms.md: whole seconds
        if cursor:
            params["pageToken"] = cursor
        listing = quote(self.account.listing_id, safe="")
        body = self._get_json(f"/v1/listings/{listing}/reservations", endpoint="fetch_bookings", params=params)
        items = body.get("reservations")
        if not isinstance(items, list):
            raise PlatformAPIError("google fetch_bookings: no reservations list", permanent=False)
        return BookingPage(
            bookings=tuple(booking_from_reservation(item) for item in items),
            cursor=body.get("nextPageToken") or None,
        )

    # --- inbound ------------------------------------------------------------------------------

    @classmethod
    def verify_webhook_signature(
        cls, *, headers: Mapping[str, str], body: bytes, config: WebhookConfig, now: dt.datetime
    ) -> None:
        pubsub.verify(
            headers=headers,
            audience=config.audience,
            service_account_email=config.service_account_email,
            jwks=config.jwks,
            now=now,
        )

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        message_id, event = pubsub.decode_push(body)
        kind = EVENT_KINDS.get(event.get("eventType"))
        if kind is None:
            return [Notification(platform=SLUG, kind=NotificationKind.IGNORED, event_key=message_id)]
        reservation, listing, revision = event.get("reservationId"), event.get("listingId"), event.get("revision")
        if not isinstance(reservation, (str, int)) or reservation == "":
            raise WebhookPayloadError("event without reservationId")
        if not isinstance(listing, (str, int)) or listing == "":
            raise WebhookPayloadError("event without listingId")
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
            raise WebhookPayloadError("revision must be a non-negative integer")
        return [
            Notification(
                platform=SLUG,
                kind=kind,
                event_key=message_id,
                listing_id=str(listing),
                channel_booking_id=str(reservation),
                version=version_string(revision),
            )
        ]

    # --- auth and health ----------------------------------------------------------------------

    def check_health(self) -> HealthResult:
        """Unhealthy on any API error except an expired token, which the engine refreshes first."""
        try:
            body = self._get_json("/v1/partner", endpoint="check_health")
        except PlatformAPIError as exc:
            if exc.code == "token_expired":
                raise
            return HealthResult(healthy=False, message=str(exc))
        return HealthResult(healthy=True, message=f"connected as Google partner {body.get('partner', '?')!s:.60}")
