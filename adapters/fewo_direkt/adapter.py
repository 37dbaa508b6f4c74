"""FeWo-direkt / Vrbo adapter: see the fewo_direkt section of docs/platforms.md."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TypeVar
from urllib.parse import quote

import requests

from adapters import http
from adapters.base import (
    CATCH_UP_SECONDS,
    AvailabilityUpdate,
    BookingData,
    BookingNotFoundError,
    BookingPage,
    Capability,
    Demo,
    HealthResult,
    Notification,
    NotificationKind,
    PlatformAdapter,
    PlatformAPIError,
    Polling,
    PricingUpdate,
    RateLimit,
    WebhookConfig,
    WebhookPayloadError,
    batches,
    iso_utc,
)
from adapters.fewo_direkt import signature
from adapters.fewo_direkt.reservation import (
    SLUG,
    booking_from_reservation,
    version_string,
)
from adapters.webhook_input import json_object

T = TypeVar("T")

EVENT_KINDS = {
    "RESERVATION_CREATED": NotificationKind.BOOKING_CREATED,
    "RESERVATION_UPDATED": NotificationKind.BOOKING_MODIFIED,
    "RESERVATION_CANCELLED": NotificationKind.BOOKING_CANCELLED,
}


def first_error(response: requests.Response) -> tuple[str, str]:
    """``(code, message)`` of the first entry of FeWo-direkt's ``{"errors": [...]}`` shape."""
    try:
        errors = response.json().get("errors")
        return str(errors[0].get("code") or ""), str(errors[0].get("message") or "")
    except (ValueError, AttributeError, IndexError, TypeError, KeyError):
        return "", response.text[:200]


class FewoDirektAdapter(PlatformAdapter):
    slug = SLUG
    display_name = "FeWo-direkt / Vrbo"
    colour = "#0e7c86"
    capabilities = frozenset(
        {
            Capability.PUSH_AVAILABILITY,
            Capability.PUSH_PRICING,
            Capability.PUSH_RESTRICTIONS,
            Capability.PUSH_MAX_STAY,
            Capability.WEBHOOKS,
            Capability.PULL_BOOKINGS,  # a catch-up poll behind the webhooks
            Capability.PER_NIGHT_PRICE,
            Capability.CLOSED_TO_ARRIVAL_DEPARTURE,
        }
    )
    max_batch = 50
    # Decision (the real API is closed): maxStay is 1..365 nights.
    max_stay_ceiling = 365
    rate_limit = RateLimit(30, 1.0)
    # Webhooks first; a lost one (an outage of ours, a secret being rotated) is caught within minutes,
    # not by the daily reconcile: its stay would sell twice meanwhile.
    polling = Polling(every_seconds=CATCH_UP_SECONDS, catch_up=True)
    webhook_path = "fewo-direkt"
    sandbox_webhook_secrets = ("sandbox-fewo-webhook",)
    demo = Demo(listing_id="fewo-demo-{unit}", credentials={"api_key": "sandbox-fewo-key"})

    # --- plumbing ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, endpoint: str, **kwargs) -> dict:
        """One API call with the API key; raises ``PlatformAPIError`` mapped from the answer."""
        response = http.request(
            method,
            self.account.base_url.rstrip("/") + path,
            platform=SLUG,
            endpoint=endpoint,
            headers={"X-Api-Key": self.account.credentials.api_key},
            raise_for_status=False,
            **kwargs,
        )
        self._raise_for_error(response, endpoint=endpoint)
        try:
            body = response.json()
        except ValueError as exc:
            raise PlatformAPIError(
                f"fewo_direkt {endpoint}: answer is not JSON",
                permanent=False,
                code="invalid_response",
            ) from exc
        if not isinstance(body, dict):
            raise PlatformAPIError(
                f"fewo_direkt {endpoint}: answer is not an object",
                permanent=False,
                code="invalid_response",
            )
        return body

    @staticmethod
    def _raise_for_error(response: requests.Response, *, endpoint: str) -> None:
        status = response.status_code
        if 300 <= status < 400:
            raise PlatformAPIError(
                f"fewo_direkt {endpoint}: unexpected redirect (HTTP {status})",
                permanent=True,
                status=status,
            )
        if status < 400:
            return
        code, message = first_error(response)
        text = f"fewo_direkt {endpoint}: HTTP {status} {code}: {message}".rstrip(": ")
        if status == 404 and endpoint == "fetch_booking":
            raise BookingNotFoundError(text, status=status, code=code or "NOT_FOUND")
        transient = status == 429 or status >= 500
        raise PlatformAPIError(
            text,
            permanent=not transient,
            status=status,
            retry_after=http.retry_after_seconds(response),
            code=code or None,
        )

    # --- bookings ---------------------------------------------------------------------------

    def fetch_booking(self, channel_booking_id: str) -> BookingData:
        body = self._call(
            "GET",
            f"/v1/reservations/{quote(channel_booking_id, safe='')}",
            endpoint="fetch_booking",
        )
        return booking_from_reservation(body)

    def fetch_bookings(
        self, *, cursor: str | None = None, since: dt.datetime | None = None, listing_ids: Sequence[str] = ()
    ) -> BookingPage:
        """The cursor is the next page number (pages count from 1)."""
        page = int(cursor) if cursor else 1
        params: dict[str, str | int] = {"page": page}
        if since is not None:
            params["modifiedSince"] = iso_utc(since)
        listing = quote(self.account.listing_id, safe="")
        body = self._call(
            "GET",
            f"/v1/listings/{listing}/reservations",
            endpoint="fetch_bookings",
            params=params,
        )
        items = body.get("items")
        if not isinstance(items, list):
            raise PlatformAPIError(
                "fewo_direkt fetch_bookings: no items list",
                permanent=False,
                code="invalid_response",
            )
        return BookingPage(
            bookings=tuple(booking_from_reservation(item) for item in items),
            cursor=str(page + 1) if body.get("hasMore") else None,
        )

    # --- outbound ---------------------------------------------------------------------------

    def update_availability(self, update: AvailabilityUpdate) -> int:
        listing = quote(update.listing_id, safe="")
        requests_made = 0
        for chunk in batches(update.ranges, self.max_batch):
            entries = [
                {
                    "from": item.range.start.isoformat(),
                    "to": item.range.last_night.isoformat(),
                    # No stop-sell on the wire: a stop-sold night is unavailable.
                    "status": "AVAILABLE" if item.available and not item.stop_sell else "UNAVAILABLE",
                    "minStay": item.min_stay,
                    "maxStay": item.max_stay_on_wire(self.max_stay_ceiling),
                    "arrivalAllowed": not item.closed_to_arrival,
                    "departureAllowed": not item.closed_to_departure,
                }
                for item in chunk
            ]
            self._call(
                "PUT",
                f"/v1/listings/{listing}/availability",
                endpoint="update_availability",
                json={"entries": entries},
            )
            requests_made += 1
        return requests_made

    def update_pricing(self, update: PricingUpdate) -> int:
        """One currency per request on the wire, so ranges are grouped by currency, then batched."""
        listing = quote(update.listing_id, safe="")
        by_currency: dict[str, list] = {}
        for item in update.ranges:
            by_currency.setdefault(item.currency, []).append(item)
        requests_made = 0
        for currency, items in by_currency.items():
            for chunk in batches(items, self.max_batch):
                entries = [
                    {
                        "from": item.range.start.isoformat(),
                        "to": item.range.last_night.isoformat(),
                        "nightlyRate": item.price_on_wire(),
                    }
                    for item in chunk
                ]
                self._call(
                    "PUT",
                    f"/v1/listings/{listing}/rates",
                    endpoint="update_rates",
                    json={"currency": currency, "entries": entries},
                )
                requests_made += 1
        return requests_made

    # --- inbound ----------------------------------------------------------------------------

    @classmethod
    def verify_webhook_signature(
        cls,
        *,
        headers: Mapping[str, str],
        body: bytes,
        config: WebhookConfig,
        now: dt.datetime,
    ) -> None:
        signature.verify(headers=headers, body=body, secrets=tuple(config.secrets), now=now)

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        event = json_object(body)
        event_id = event.get("eventId")
        if not isinstance(event_id, str) or not event_id:
            raise WebhookPayloadError("eventId missing")
        kind = EVENT_KINDS.get(event.get("eventType"))
        if kind is None:
            return [Notification(platform=SLUG, kind=NotificationKind.IGNORED, event_key=event_id)]
        reservation, listing, revision = (
            event.get("reservationId"),
            event.get("listingId"),
            event.get("revision"),
        )
        if not isinstance(reservation, (str, int)) or reservation == "":
            raise WebhookPayloadError("reservationId missing")
        if not isinstance(listing, (str, int)) or listing == "":
            raise WebhookPayloadError("listingId missing")
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
            raise WebhookPayloadError("revision must be a non-negative integer")
        return [
            Notification(
                platform=SLUG,
                kind=kind,
                event_key=event_id,
                listing_id=str(listing),
                channel_booking_id=str(reservation),
                version=version_string(revision),
            )
        ]

    # --- health -----------------------------------------------------------------------------

    def check_health(self) -> HealthResult:
        """Pings with the API key: a wrong key is unhealthy as well as an outage."""
        try:
            self._call("GET", "/v1/ping", endpoint="check_health")
        except PlatformAPIError as exc:
            return HealthResult(healthy=False, message=str(exc))
        return HealthResult(healthy=True, message="FeWo-direkt API key accepted")
